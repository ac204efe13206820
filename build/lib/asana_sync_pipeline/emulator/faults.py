"""Faults injected into writes, so that a client's recovery is exercised as production will.

A fraction `fault_rate` of write requests (POST/PUT/PATCH/DELETE under /api/1.0, on any
route) fails, the kind drawn uniformly from `fault_kinds`:
- `error_500`: 500 `{"errors":[{"message":"Server Error","phrase":"6 sad squid snuggle softly"}]}`, nothing done.
- `error_503`: 503 Service Unavailable, nothing done.
- `spurious_429`: 429 with `Retry-After: 1` and Asana's rate-limit body, nothing done.
- `reset_before`: the connection is reset before processing, no response at all; nothing done.
- `reset_after`: the request IS processed (a task created or updated, a comment posted, a tag,
  section, dependency, attachment or template job made...), then the connection is reset
  without a response: the ambiguous case a client must reconcile.
Separately, a fraction `slow_rate` of writes is processed and then answered only after
`slow_seconds` (to outlast a client's timeout). `seed` makes the draws reproducible.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from typing import Any

from .errors import error_body, send_json
from .limits import answer_rate_limited
from .settings import EmulatorSettings
from .stats import Stats

TRANSPORT_SCOPE_KEY = "emulator.transport"
PHRASE_WORDS = (
    ("sad", "brave", "tiny", "sleepy", "fuzzy", "grumpy", "shiny", "quiet"),
    ("squid", "otters", "lemurs", "pandas", "herons", "moles", "yaks", "newts"),
    ("snuggle", "dance", "wander", "giggle", "ponder", "juggle", "hum", "nap"),
    ("softly", "quietly", "bravely", "slowly", "wildly", "gently", "boldly", "oddly"),
)
App = Any


def phrase(draw: random.Random | Any = random) -> str:
    """The `phrase` of Asana's 500s: a number and four words, to quote to its support."""
    return f"{draw.randint(2, 9)} " + " ".join(draw.choice(words) for words in PHRASE_WORDS)


class DropConnection(Exception):
    """Raised to make a server that exposes no transport close the connection mid-answer."""


class Faults:
    """The draws of one emulator and what each fault does to a write."""

    def __init__(self, settings: EmulatorSettings, stats: Stats):
        self.settings = settings
        self.stats = stats
        self.random = random.Random(settings.seed)

    async def write(self, app: App, scope: dict, receive: Any, send: Any) -> None:
        """Run the write `app` answers, or fail it as drawn."""
        fault = None
        if self.settings.fault_rate and self.random.random() < self.settings.fault_rate:
            fault = self.random.choice(self.settings.fault_kinds)
            with self.stats.lock:
                self.stats.faults[fault] += 1
        slow = bool(self.settings.slow_rate) and self.random.random() < self.settings.slow_rate
        if fault == "error_500":
            await send_json(send, 500, error_body("Server Error", phrase=phrase(self.random)))
        elif fault == "error_503":
            await send_json(send, 503, error_body("Service Unavailable"))
        elif fault == "spurious_429":
            await answer_rate_limited(send, 1)
        elif fault == "reset_before":
            await reset(scope, receive, send)
        elif fault == "reset_after" or slow:
            held: list[dict] = []

            async def hold(message: dict) -> None:
                held.append(message)

            await app(scope, receive, hold)
            if fault == "reset_after":
                await reset(scope, receive, send)
                return
            await asyncio.sleep(self.settings.slow_seconds)
            for message in held:
                await send(message)
        else:
            await app(scope, receive, send)


async def reset(scope: dict, receive: Any, send: Any) -> None:
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
