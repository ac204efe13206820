"""Who a request acts as: the bearer tokens an emulator accepts, each the token of one user.

`--token` is the token of `me` (the fixture's `me`, default its first user); a fixture
user with a `token` of its own acts as that user when a request carries it (`/users/me`,
`completed_by`, `created_by`, the `user` of events and stories). Any other token is 401.
Tokens are compared in constant time and never printed, logged or answered.

An emulator reachable from other machines with the well-known default token would let
anyone who can reach it read and write as `me`: `exposure_problem` says so, and the
command line and `EmulatorServer` refuse to start that way.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

DEFAULT_TOKEN = "emulator-token"
BEARER = b"Bearer "


class Tokens:
    """The accepted tokens and the user each acts as."""

    def __init__(self, me_token: str, me: str, user_tokens: Mapping[str, str]):
        self._users = [(token.encode(), user) for token, user in user_tokens.items() if token != me_token]
        self._users.insert(0, (me_token.encode(), me))

    def user_for(self, authorization: bytes | None) -> str | None:
        """The GID of the user whose token the `Authorization` header carries; None for any other.
        Every known token is compared, so the time taken does not tell which one nearly matched."""
        given = authorization[len(BEARER):] if authorization and authorization.startswith(BEARER) else b""
        found = None
        for token, user in self._users:
            if hmac.compare_digest(given, token) and found is None:
                found = user
        return found if given else None


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); a name is not resolved."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(host: str, token: str) -> str | None:
    """Why serving on `host` with `token` is unsafe, or None: the default token off loopback."""
    if token == DEFAULT_TOKEN and not is_loopback(host):
        return (
            f"refusing to listen on {host} with the default token: anyone who can reach it could read and write "
            "as the token's user; pass --token with a secret of your own, or listen on 127.0.0.1"
        )
    return None
