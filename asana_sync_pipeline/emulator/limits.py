"""What stands between a request and the API: the token check, Asana's rate and
concurrency limits, latency, injected faults, and the counters the tests read.

Order per request under /api/1.0: token (401) → requests-per-minute window (429)
→ in-flight cap for its kind (429) → latency → fault draw (writes only) → the API.

Faults: a fraction `fault_rate` of write requests (POST/PUT/PATCH/DELETE, on any route)
fails, the kind drawn uniformly from `fault_kinds`:
- `error_500`: 500 `{"errors":[{"message":"Server Error","phrase":"6 sad squid snuggle softly"}]}`, nothing done.
- `error_503`: 503 Service Unavailable, nothing done.
- `spurious_429`: 429 with `Retry-After: 1` and Asana's rate-limit body, nothing done.
- `reset_before`: the connection is reset before processing, no response at all; nothing done.
- `reset_after`: the request IS processed (a task created or updated, a comment posted,
  a tag or section made...), then the connection is reset without a response: the
  ambiguous case a client must reconcile.
Separately, a fraction `slow_rate` of writes is processed and then answered only
after `slow_seconds` (to outlast a client's timeout). `seed` makes draws reproducible.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from typing import Any

from .errors import RATE_LIMIT_MESSAGE, error_body
from .settings import EmulatorSettings

API_PREFIX = "/api/1.0"
BATCH_PATH = API_PREFIX + "/batch"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BATCH_SCOPE_KEY = "emulator.batched"
TRANSPORT_SCOPE_KEY = "emulator.transport"
PHRASE_WORDS = (
    ("sad", "brave", "tiny", "sleepy", "fuzzy", "grumpy", "shiny", "quiet"),
    ("squid", "otters", "lemurs", "pandas", "herons", "moles", "yaks", "newts"),
    ("snuggle", "dance", "wander", "giggle", "ponder", "juggle", "hum", "nap"),
    ("softly", "quietly", "bravely", "slowly", "wildly", "gently", "boldly", "oddly"),
)
access_logger = logging.getLogger("asana_sync_pipeline.emulator.access")


class SlidingWindow:
    """Requests per minute per token: every request counts, admitted or rejected, as in Asana."""

    def __init__(self, limit: int | None, seconds: float = 60.0, clock: Any = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self.stamps: deque[float] = deque()
        self.lock = threading.Lock()

    def charge(self, cost: int = 1) -> int | None:
        """Record `cost` requests; None if they fit, else whole seconds until one more would."""
        if not self.limit:
            return None
        now = self.clock()
        with self.lock:
            while self.stamps and self.stamps[0] <= now - self.seconds:
                self.stamps.popleft()
            fits = len(self.stamps) + cost <= self.limit
            self.stamps.extend([now] * cost)
            if fits:
                return None
            oldest_to_expire = self.stamps[len(self.stamps) - self.limit]
            return max(1, math.ceil(oldest_to_expire + self.seconds - now))


class Stats:
    """Counters of what the emulator saw; read through GET /_emulator/stats or `server.stats`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writes_in_flight = 0
        self.reads_in_flight = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.by_method: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.write_requests = 0
            self.batch_actions = 0
            self.rate_limited = 0
            self.max_writes_in_flight = self.writes_in_flight
            self.max_reads_in_flight = self.reads_in_flight

    def count_request(self, method: str, is_write: bool) -> None:
        with self.lock:
            self.by_method[method] += 1
            self.write_requests += is_write

    def count_status(self, status: int) -> None:
        with self.lock:
            self.by_status[status] += 1

    def enter(self, is_write: bool) -> None:
        with self.lock:
            if is_write:
                self.writes_in_flight += 1
                self.max_writes_in_flight = max(self.max_writes_in_flight, self.writes_in_flight)
            else:
                self.reads_in_flight += 1
                self.max_reads_in_flight = max(self.max_reads_in_flight, self.reads_in_flight)

    def leave(self, is_write: bool) -> None:
        with self.lock:
            if is_write:
                self.writes_in_flight -= 1
            else:
                self.reads_in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": sum(self.by_method.values()),
                "by_method": dict(self.by_method),
                "by_status": {str(status): total for status, total in sorted(self.by_status.items())},
                "write_requests": self.write_requests,
                "batch_actions": self.batch_actions,
                "rate_limited": self.rate_limited,
                "faults": dict(self.faults),
                "writes_in_flight": self.writes_in_flight,
                "reads_in_flight": self.reads_in_flight,
                "max_writes_in_flight": self.max_writes_in_flight,
                "max_reads_in_flight": self.max_reads_in_flight,
            }


async def send_json(send: Any, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    start_headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


def _batch_cost(body: bytes) -> int:
    """Actions in a batch body, each counting as one request (malformed: 1, the API answers 400)."""
    try:
        actions = json.loads(body)["data"]["actions"]
    except (ValueError, TypeError, KeyError):
        return 1
    return len(actions) if isinstance(actions, list) and 1 <= len(actions) <= 10 else 1


class DropConnection(Exception):
    """Raised to make a server that exposes no transport close the connection mid-answer."""


class Gate:
    """Pure ASGI middleware applying the settings' limits and faults to every request under /api/1.0."""

    def __init__(self, app: Any, settings: EmulatorSettings, stats: Stats):
        self.app = app
        self.settings = settings
        self.stats = stats
        per_window = settings.rate_limit_per_minute and max(1, round(settings.rate_limit_per_minute * settings.rate_window_seconds / 60))
        self.window = SlidingWindow(per_window, settings.rate_window_seconds)
        self.expected_authorization = b"Bearer " + settings.token.encode()
        self.random = random.Random(settings.seed)

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
        if not hmac.compare_digest(dict(scope["headers"]).get(b"authorization", b""), self.expected_authorization):
            await send_json(send, 401, error_body("Not Authorized"))
            return
        cost = 1
        if method == "POST" and scope["path"] == BATCH_PATH:
            body = await _read_body(receive)
            cost = _batch_cost(body)
            receive = _replay(body, receive)
        retry_after = self.window.charge(cost)
        if retry_after is None:
            in_flight = self.stats.writes_in_flight if is_write else self.stats.reads_in_flight
            cap = self.settings.max_concurrent_writes if is_write else self.settings.max_concurrent_reads
            retry_after = 1 if in_flight >= cap else None
        if retry_after is not None:
            with self.stats.lock:
                self.stats.rate_limited += 1
            await self._rate_limited(send, retry_after)
            return
        self.stats.enter(is_write)
        try:
            if self.settings.latency_ms:
                await asyncio.sleep(self.settings.latency_ms / 1000)
            if is_write:
                await self._write(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            self.stats.leave(is_write)

    @staticmethod
    async def _rate_limited(send: Any, retry_after: int) -> None:
        body = error_body(RATE_LIMIT_MESSAGE, help_text=False)
        await send_json(send, 429, body, ((b"retry-after", str(retry_after).encode()),))

    async def _write(self, scope: dict, receive: Any, send: Any) -> None:
        fault = None
        if self.settings.fault_rate and self.random.random() < self.settings.fault_rate:
            fault = self.random.choice(self.settings.fault_kinds)
            with self.stats.lock:
                self.stats.faults[fault] += 1
        slow = bool(self.settings.slow_rate) and self.random.random() < self.settings.slow_rate
        if fault == "error_500":
            phrase = f"{self.random.randint(2, 9)} " + " ".join(self.random.choice(words) for words in PHRASE_WORDS)
            await send_json(send, 500, error_body("Server Error", phrase=phrase))
        elif fault == "error_503":
            await send_json(send, 503, error_body("Service Unavailable"))
        elif fault == "spurious_429":
            await self._rate_limited(send, 1)
        elif fault == "reset_before":
            await _reset(scope, receive, send)
        elif fault == "reset_after" or slow:
            held: list[dict] = []

            async def hold(message: dict) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if fault == "reset_after":
                await _reset(scope, receive, send)
                return
            await asyncio.sleep(self.settings.slow_seconds)
            for message in held:
                await send(message)
        else:
            await self.app(scope, receive, send)


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


async def _reset(scope: dict, receive: Any, send: Any) -> None:
    """Reset the TCP connection without writing a byte of response (RST via SO_LINGER 0).

    Uvicorn's transport reaches us through the scope (see `app.EmulatorApp`). Once it
    is aborted we wait for the server's `http.disconnect`, so uvicorn knows the client
    is gone and does not answer a 500 in our place.
    """
    transport = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        raise DropConnection("connection dropped by fault injection")
    sock = transport.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (OSError, AttributeError):
        pass
    transport.abort()
    try:
        async with asyncio.timeout(1):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass
