"""Asana's error answers: a status code and `{"errors": [{"message", "help"}]}`.

Messages follow Asana's `"<field>: <problem>"` style so that a client's error
handling is exercised with the same text it will meet in production.
"""

from __future__ import annotations

import json

HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)
RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
)


class ApiError(Exception):
    """Raised anywhere below a route; the route answers it as Asana would. `beside` goes next to
    `errors` in the body (a 412 of the events API carries a fresh sync token there)."""

    def __init__(self, status: int, message: str, beside: dict[str, str] | None = None, *, help_text: bool = True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.beside = beside or {}
        self.help_text = help_text


def error_body(message: str, *, help_text: bool = True, beside: dict[str, str] | None = None, **extra: str) -> bytes:
    """The JSON body of an error answer (429s carry no `help`, as Asana's do not)."""
    error = {"message": message, **({"help": HELP} if help_text else {}), **extra}
    return json.dumps({"errors": [error], **(beside or {})}).encode()
