"""What stands between a request and the API: the pure ASGI middleware that applies, to every
request under /api/1.0, the token check (`auth`), the limits (`limits`), latency and the
injected faults (`faults`), and keeps the counters (`stats`) and a token-free access log.

Order per request: token (401) → requests-per-minute window of the token (429) → in-flight
cap of the token for its kind (429) → latency → fault draw (writes only) → the API, acting
as the token's user (its GID in the scope under `USER_SCOPE_KEY`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from .auth import Tokens
from .errors import error_body, send_json
from .faults import Faults
from .limits import TokenLimits, answer_rate_limited
from .settings import EmulatorSettings
from .stats import Stats

API_PREFIX = "/api/1.0"
BATCH_PATH = API_PREFIX + "/batch"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BATCH_SCOPE_KEY = "emulator.batched"
USER_SCOPE_KEY = "emulator.user"
access_logger = logging.getLogger("asana_sync_pipeline.emulator.access")


def _batch_cost(body: bytes) -> int:
    """Actions in a batch body, each counting as one request (malformed: 1, the API answers 400)."""
    try:
        actions = json.loads(body)["data"]["actions"]
    except (ValueError, TypeError, KeyError):
        return 1
    return len(actions) if isinstance(actions, list) and 1 <= len(actions) <= 10 else 1


class Gate:
    """Pure ASGI middleware applying the settings' token check, limits and faults under /api/1.0."""

    def __init__(self, app: Any, settings: EmulatorSettings, stats: Stats, tokens: Tokens):
        self.app = app
        self.settings = settings
        self.stats = stats
        self.tokens = tokens
        self.limits = TokenLimits(
            settings.rate_limit_per_minute, settings.rate_window_seconds,
            settings.max_concurrent_writes, settings.max_concurrent_reads,
        )  # fmt: skip
        self.faults = Faults(settings, stats)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX) or scope.get(BATCH_SCOPE_KEY):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_seen: list[int] = []

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                self.stats.count_status(message["status"])
            await send(message)

        try:
            await self._guarded(scope, receive, counting_send)
        finally:
            if self.settings.access_log:
                elapsed = (time.perf_counter() - started) * 1000
                status = status_seen[0] if status_seen else "-"
                access_logger.info("%s %s %s %.1fms", scope["method"], scope["path"], status, elapsed)

    async def _guarded(self, scope: dict, receive: Any, send: Any) -> None:
        method = scope["method"]
        is_write = method in WRITE_METHODS
        self.stats.count_request(method, is_write)
        authorization = dict(scope["headers"]).get(b"authorization")
        user = self.tokens.user_for(authorization)
        if user is None or authorization is None:
            await send_json(send, 401, error_body("Not Authorized"))
            return
        scope[USER_SCOPE_KEY] = user
        cost = 1
        if method == "POST" and scope["path"] == BATCH_PATH:
            body = await _read_body(receive)
            cost = _batch_cost(body)
            receive = _replay(body, receive)
        retry_after = self.limits.admit(authorization, is_write, cost)
        if retry_after is not None:
            with self.stats.lock:
                self.stats.rate_limited += 1
            await answer_rate_limited(send, retry_after)
            return
        self.stats.enter(is_write)
        try:
            if self.settings.latency_ms:
                await asyncio.sleep(self.settings.latency_ms / 1000)
            if is_write:
                await self.faults.write(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            self.stats.leave(is_write)
            self.limits.release(authorization, is_write)


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the already-read body to the app once, then defers to the server."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> dict:
        return pending.pop() if pending else await receive()

    return replay
