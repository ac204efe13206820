"""What stands between a request and the API: token check, Asana's rate and concurrency
limits, latency, injected faults, and the request counters the tests read.

Faults (a fraction `fault_rate` of write requests, kinds drawn uniformly from
`fault_kinds`):
- `error_500`: 500 with a `phrase`, before processing.
- `error_503`: 503, before processing.
- `spurious_429`: 429 with `Retry-After: 1`, before processing.
- `reset_before`: the connection drops before processing; nothing changes.
- `reset_after`: the request is processed (the task IS created or updated), then
  the connection drops without a complete answer: the ambiguous case.
Separately, `slow_rate` of write requests are processed and then answered only
after `slow_seconds`, to outlast a client's timeout.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("error_500", "error_503", "spurious_429", "reset_before", "reset_after")
RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
)
PHRASE_WORDS = ("sad", "squid", "snuggle", "softly", "brave", "otter", "dances", "quietly", "tiny", "lemur")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class DropConnection(Exception):
    """Raised after the response has started: uvicorn then closes the socket mid-answer."""


@dataclass
class Limits:
    token: str
    latency_ms: float = 0
    rate_limit_per_minute: int | None = None
    max_concurrent_writes: int = 15
    max_concurrent_reads: int = 50
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    seed: int | None = None


@dataclass
class Stats:
    """Counters of what the emulator saw; read through GET /_emulator/stats."""

    by_method: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    write_requests: int = 0
    rate_limited: int = 0
    writes_in_flight: int = 0
    reads_in_flight: int = 0
    max_writes_in_flight: int = 0
    max_reads_in_flight: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": sum(self.by_method.values()),
            "by_method": dict(self.by_method),
            "by_status": {str(status): total for status, total in self.by_status.items()},
            "faults": dict(self.faults),
            "write_requests": self.write_requests,
            "rate_limited": self.rate_limited,
            "max_writes_in_flight": self.max_writes_in_flight,
            "max_reads_in_flight": self.max_reads_in_flight,
        }


def error_body(message: str, **extra: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "help": "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors", **extra}]}).encode()


async def send_json(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI middleware applying `Limits` to every request under /api/1.0."""

    def __init__(self, app: Any, limits: Limits, stats: Stats):
        self.app = app
        self.limits = limits
        self.stats = stats
        self.random = random.Random(limits.seed)
        self.window: deque[float] = deque()
        self.lock = threading.Lock()

    def _over_rate_limit(self) -> int | None:
        """Seconds to wait when the sliding 60-s window is full; every request counts."""
        limit = self.limits.rate_limit_per_minute
        if not limit:
            return None
        now = time.monotonic()
        with self.lock:
            while self.window and self.window[0] <= now - 60:
                self.window.popleft()
            full = len(self.window) >= limit
            self.window.append(now)
            if not full:
                return None
            return max(1, math.ceil(self.window[-limit] + 60 - now))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/1.0"):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        is_write = method in WRITE_METHODS
        self.stats.by_method[method] += 1
        if is_write:
            self.stats.write_requests += 1
        status_seen: list[int] = []

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                self.stats.by_status[message["status"]] += 1
            await send(message)

        headers = dict(scope.get("headers") or [])
        if headers.get(b"authorization", b"") != f"Bearer {self.limits.token}".encode():
            await send_json(counting_send, 401, error_body("Not Authorized"))
            return
        retry_after = self._over_rate_limit()
        if retry_after is not None:
            self.stats.rate_limited += 1
            await send_json(counting_send, 429, error_body(RATE_LIMIT_MESSAGE), [(b"retry-after", str(retry_after).encode())])
            return
        in_flight = "writes_in_flight" if is_write else "reads_in_flight"
        cap = self.limits.max_concurrent_writes if is_write else self.limits.max_concurrent_reads
        if getattr(self.stats, in_flight) >= cap:
            self.stats.rate_limited += 1
            await send_json(counting_send, 429, error_body(RATE_LIMIT_MESSAGE), [(b"retry-after", b"1")])
            return
        setattr(self.stats, in_flight, getattr(self.stats, in_flight) + 1)
        peak = "max_" + in_flight
        setattr(self.stats, peak, max(getattr(self.stats, peak), getattr(self.stats, in_flight)))
        try:
            if self.limits.latency_ms:
                await asyncio.sleep(self.limits.latency_ms / 1000)
            await self._serve(scope, receive, counting_send, is_write)
        finally:
            setattr(self.stats, in_flight, getattr(self.stats, in_flight) - 1)

    async def _serve(self, scope: dict, receive: Any, send: Any, is_write: bool) -> None:
        fault = None
        if is_write and self.limits.fault_rate and self.random.random() < self.limits.fault_rate:
            fault = self.random.choice(self.limits.fault_kinds)
            self.stats.faults[fault] += 1
        slow = is_write and self.limits.slow_rate and self.random.random() < self.limits.slow_rate
        if fault == "error_500":
            phrase = " ".join([str(self.random.randint(2, 9)), *self.random.sample(PHRASE_WORDS, 4)])
            await send_json(send, 500, error_body("Server Error", phrase=phrase))
            return
        if fault == "error_503":
            await send_json(send, 503, error_body("Service Unavailable"))
            return
        if fault == "spurious_429":
            await send_json(send, 429, error_body(RATE_LIMIT_MESSAGE), [(b"retry-after", b"1")])
            return
        if fault == "reset_before":
            await self._drop(send)
        if fault == "reset_after" or slow:
            held: list[dict] = []

            async def hold(message: dict) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if fault == "reset_after":
                await self._drop(send)
            await asyncio.sleep(self.limits.slow_seconds)
            for message in held:
                await send(message)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _drop(send: Any) -> None:
        """Start an answer that promises a body, then abort: the client sees the connection die."""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        raise DropConnection("connection dropped by fault injection")
