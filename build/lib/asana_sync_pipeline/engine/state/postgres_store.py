"""The sync state in PostgreSQL (SYNC_STATE_URL; see `base` for what it holds), for runs on
many machines: the tables of the DuckDB file (`postgres_schema`), one advisory lock per
(sync, project) instead of a file lock.

The lock is a session-level `pg_advisory_lock` held by a connection of its own for
the whole of `exclusive`. While a store holds a scope's lock, every read and write
of that scope goes through that same connection: if the connection is lost, the
server releases the lock, and the run can no longer write either, so two runs never
write one sync at once, even across machines. Otherwise each call opens a short
connection. A batch of outcomes is a few statements over arrays in one transaction,
whatever its size.

Every driver error becomes a `StateStoreError` that says what to do; none carries
the password (see `postgres_url`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.errors

from ..asana.budget import TokenBudget
from ..errors import StateStoreError
from ..log import Log
from .postgres_budget import PostgresBudget
from .postgres_schema import ensure_schema
from .postgres_url import PostgresURL
from .sql_store import Session, SqlStateStore
from .store import (
    SyncScope,
)

SYNC_LOCK_WAIT_SECONDS = 6 * 3600.0
SERVER_KEEPALIVES = "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3"
"""On the lock's connection: the server notices a vanished client within a minute and frees its lock."""


def lock_key(scope: SyncScope) -> int:
    """The advisory lock key of a scope: 64 bits of a hash of this program's name, the sync and the Asana project."""
    text = f"asana-sync-pipeline\x00{scope.sync}\x00{scope.project_gid}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


@dataclass
class _HeldLock:
    connection: psycopg.Connection
    in_use: threading.Lock = field(default_factory=threading.Lock)


class PostgresStateStore(SqlStateStore):
    """All reads and writes of the sync state in one PostgreSQL database."""

    def __init__(self, url: str):
        self.url = PostgresURL.parse(url)
        self._schema_ready = False
        self._held: dict[SyncScope, _HeldLock] = {}
        self._held_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresStateStore({self.location!r})"

    @property
    def location(self) -> str:
        return self.url.masked

    # ---- connections ------------------------------------------------------

    def _reason(self, exc: BaseException) -> str:
        return self.url.scrub(" ".join(str(exc).split())) or type(exc).__name__

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(autocommit=True, **self.url.connect_arguments())
        except psycopg.Error as exc:
            raise StateStoreError(
                f"Cannot connect to the sync state at {self.location}: {self._reason(exc)}. Check SYNC_STATE_URL "
                "(user, password, host, port and database) and that the PostgreSQL server is running and accepts "
                "connections from this machine. Nothing was written."
            ) from None

    @contextmanager
    def _connection(self, scope: SyncScope) -> Iterator[psycopg.Connection]:
        """The connection holding `scope`'s lock when this store holds it, else a short one."""
        with self._held_guard:
            held = self._held.get(scope)
        if held is not None:
            with held.in_use, self._translated(lock_held=True):
                yield held.connection
            return
        connection = self._connect()
        try:
            with self._translated(lock_held=False):
                yield connection
        finally:
            connection.close()

    @contextmanager
    def _translated(self, *, lock_held: bool) -> Iterator[None]:
        """Driver errors as `StateStoreError`s that say what to do, without the password."""
        try:
            yield
        except psycopg.OperationalError as exc:
            if lock_held:
                raise StateStoreError(
                    f"Lost the connection to the sync state at {self.location} while this run held its lock: "
                    f"{self._reason(exc)}. Rows recorded before it are kept; the others are retried (never "
                    "duplicated) by the next run."
                ) from None
            raise StateStoreError(f"The sync state at {self.location} could not be reached: {self._reason(exc)}.") from None
        except psycopg.Error as exc:
            raise StateStoreError(
                f"The sync state at {self.location} could not be read or written: {self._reason(exc)}. Check that "
                "SYNC_STATE_URL's user may create tables in that database (the first run creates them)."
            ) from None

    @contextmanager
    def _reading(self, scope: SyncScope) -> Iterator[Session | None]:
        """A session for reads, or None when the database holds no sync state yet (reading creates nothing)."""
        with self._connection(scope) as connection:
            if not self._schema_ready:
                self._schema_ready = ensure_schema(connection, create=False)
            yield PostgresSession(connection) if self._schema_ready else None

    @contextmanager
    def _writing(self, scope: SyncScope) -> Iterator[Session]:
        """A session inside one transaction, the tables created first if need be."""
        with self._connection(scope) as connection:
            if not self._schema_ready:
                self._schema_ready = ensure_schema(connection, create=True)
            with connection.transaction():
                yield PostgresSession(connection)

    # ---- the sync lock ----------------------------------------------------

    @contextmanager
    def exclusive(self, scope: SyncScope, log: Log) -> Iterator[None]:
        connection = self._connect()
        key = lock_key(scope)
        try:
            with self._translated(lock_held=False):
                connection.execute(SERVER_KEEPALIVES)
                locked = connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
                if not (locked and locked[0]):
                    log(f"Another run of {scope} holds its lock on {self.location}; waiting for it to finish")
                    connection.execute(f"SET lock_timeout = '{int(SYNC_LOCK_WAIT_SECONDS)}s'")
                    try:
                        connection.execute("SELECT pg_advisory_lock(%s)", [key])
                    except psycopg.errors.LockNotAvailable:
                        raise StateStoreError(
                            f"Another run of {scope} held its lock on {self.location} for "
                            f"{SYNC_LOCK_WAIT_SECONDS / 3600:.0f} h; this run gave up waiting and wrote nothing."
                        ) from None
            with self._held_guard:
                self._held[scope] = _HeldLock(connection)
            try:
                yield
            finally:
                with self._held_guard:
                    self._held.pop(scope, None)
        finally:
            connection.close()

    def token_budget(self) -> TokenBudget:
        return PostgresBudget(self._connect)


class PostgresSession(Session):
    """Statements on one psycopg connection (`?` written as `%s`); a batch is `unnest` over typed arrays,
    hashes as text cast to NUMERIC so that no 64-bit value passes through a signed type."""

    CASTS = {"text": "text[]", "hash": "text[]::numeric[]", "time": "timestamptz[]"}

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(_placeholders(sql), list(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(_placeholders(sql), list(params))

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(_placeholders(sql), rows)

    def batch(self, name: str, columns: Mapping[str, tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
        arrays = ", ".join(f"?::{self.CASTS[kind]}" for kind, _ in columns.values())
        params = [[None if value is None else str(value) for value in values] if kind == "hash" else list(values)
                  for kind, values in columns.values()]  # fmt: skip
        return f"unnest({arrays}) AS {name}({', '.join(columns)})", params


def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")
