"""A hook that sees every answer the emulator gives under /api/1.0, for checks that
live outside the emulator (the tests' OpenAPI contract check, chiefly).

Observers are plain callables taking an `Exchange`. They are given to one app
(`create_app(settings, observers=...)`, `EmulatorServer(..., observers=...)`) or,
with `observing(observer)`, to every emulator in the process while the block
runs, so that a test suite can check emulators it does not build itself. The
hook stays free of any validation library: what to check is the observer's affair.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .gate import API_PREFIX, BATCH_SCOPE_KEY

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exchange:
    """One answered request: what was asked (`request_body` as received) and what was answered
    (`body` as sent).

    `batched` marks an action of a `/batch` request, seen on its own as well."""

    method: str
    path: str
    query: str
    status: int
    body: bytes
    batched: bool = False
    request_body: bytes = b""


Observer = Callable[[Exchange], None]
_process_observers: list[Observer] = []
_registry_lock = threading.Lock()


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Give `observer` every exchange of every emulator in this process until the block ends."""
    with _registry_lock:
        _process_observers.append(observer)
    try:
        yield observer
    finally:
        with _registry_lock:
            _process_observers.remove(observer)


class ResponseTap:
    """Pure ASGI middleware: passes everything through, then tells the observers what was answered.

    Costs nothing while nobody observes. A request that got no answer (a reset
    fault) is not reported: there is nothing to check."""

    def __init__(self, app: Any, observers: tuple[Observer, ...] = ()):
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        observers = self.observers + tuple(_process_observers)
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX) or not observers:
            await self.app(scope, receive, send)
            return
        status: list[int] = []
        chunks: list[bytes] = []
        asked: list[bytes] = []

        async def recording_receive() -> dict:
            message = await receive()
            if message.get("type") == "http.request":
                asked.append(message.get("body", b""))
            return message

        async def recording_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        if not status:
            return
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"].removeprefix(API_PREFIX) or "/",
            query=scope.get("query_string", b"").decode("latin-1"),
            status=status[0],
            body=b"".join(chunks),
            batched=bool(scope.get(BATCH_SCOPE_KEY)),
            request_body=b"".join(asked),
        )
        for observer in observers:
            try:
                observer(exchange)
            except Exception:
                logger.exception("an emulator response observer failed")
