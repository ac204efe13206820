"""SYNC_STATE_URL, read without ever showing its password.

`postgresql://user[:password]@host[:port]/database[?option=value&...]` (also
`postgres://`). The URL is parsed here rather than by libpq, because libpq's
parse errors quote the string they could not read, password included. Query
options (`sslmode`, `sslrootcert`, `connect_timeout`, ...) go to libpq as they
are. Every message built from a server or driver error passes through `scrub`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..errors import StateStoreError

SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
MASK = "***"
EXPECTED = "postgresql://user[:password]@host[:port]/database"
CONNECT_DEFAULTS = {
    "connect_timeout": "10",
    "application_name": "asana-sync-pipeline",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
"""A server that is down fails within seconds; a connection to a machine that vanished is noticed within a minute."""


@dataclass(frozen=True)
class PostgresURL:
    host: str
    port: int
    database: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> PostgresURL:
        def invalid(problem: str) -> StateStoreError:
            return StateStoreError(f"SYNC_STATE_URL is not a PostgreSQL URL ({problem}): expected {EXPECTED}.")

        text = (url or "").strip()
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise invalid(
                "its host or port cannot be read; a password holding @ : / ? # or % must be percent-encoded, "
                "@ as %40"
            ) from None
        if parts.scheme not in SCHEMES:
            raise invalid("it must start with postgresql://")
        database = unquote(parts.path.lstrip("/"))
        options = tuple(parse_qsl(parts.query, keep_blank_values=True))
        host = parts.hostname or dict(options).get("host")
        if not host:
            raise invalid("it names no host")
        if not database:
            raise invalid("it names no database")
        return cls(
            host=host,
            port=port or DEFAULT_PORT,
            database=database,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else dict(options).get("password"),
            options=tuple((name, value) for name, value in options if name not in ("host", "password")),
        )

    @property
    def masked(self) -> str:
        """The URL for messages: the password replaced by `***`, query options left out."""
        credentials = ""
        if self.user:
            credentials = quote(self.user, safe="") + (f":{MASK}" if self.password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{credentials}{host}:{self.port}/{quote(self.database, safe='')}"

    def connect_arguments(self) -> dict[str, Any]:
        """Keyword arguments for `psycopg.connect`."""
        arguments: dict[str, Any] = {**CONNECT_DEFAULTS, **dict(self.options)}
        arguments.update(host=self.host, port=self.port, dbname=self.database)
        if self.user:
            arguments["user"] = self.user
        if self.password is not None:
            arguments["password"] = self.password
        return arguments

    def scrub(self, text: str) -> str:
        """`text` with any trace of the password replaced by `***`."""
        if self.password:
            for form in {self.password, quote(self.password, safe=""), quote(self.password)}:
                text = text.replace(form, MASK)
        return text
