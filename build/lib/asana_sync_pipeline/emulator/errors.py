"""Asana's error answers: a status code and `{"errors": [{"message", "help"}]}`.

Messages follow Asana's `"<field>: <problem>"` style so that a client's error
handling is exercised with the same text it will meet in production.
"""

from __future__ import annotations

import json
from typing import Any

HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)
RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
)


class ApiError(Exception):
    """Raised anywhere below a route; the route answers it as Asana would. `beside` goes next to
    `errors` in the body (a 412 of the events API carries a fresh sync token there); `headers`
    go with the answer (a 429's `Retry-After`)."""

    def __init__(
        self, status: int, message: str, beside: dict[str, str] | None = None, *, help_text: bool = True,
        headers: dict[str, str] | None = None,
    ):  # fmt: skip
        super().__init__(message)
        self.status = status
        self.message = message
        self.beside = beside or {}
        self.help_text = help_text
        self.headers = headers or {}


def error_body(message: str, *, help_text: bool = True, beside: dict[str, str] | None = None, **extra: str) -> bytes:
    """The JSON body of an error answer (429s carry no `help`, as Asana's do not)."""
    error = {"message": message, **({"help": HELP} if help_text else {}), **extra}
    return json.dumps({"errors": [error], **(beside or {})}).encode()


async def send_json(send: Any, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """An answer sent straight through ASGI, by the layers in front of the routes (the gate, a fault)."""
    start_headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})
