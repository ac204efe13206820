"""The sync state in a DuckDB file (the default; see `base` for what it holds).

Connections are short-lived and retried while another process holds DuckDB's
write lock, so overlapping processes queue instead of crashing. A file lock per
(sync, project) keeps two runs of one sync apart. A file that is not a DuckDB
database, or that DuckDB cannot open, fails at once with what to do: the sync
never deletes or overwrites it, since it holds what prevents duplicates.

State files written before syncs were named (one sync per project) are
migrated in place on first open: their rows belong to the default sync.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

from ..asana.budget import SqliteBudget, TokenBudget
from ..duckdb_files import FileLockedTooLong, connect, is_duckdb_file
from ..errors import StateStoreError
from ..log import Log
from .sql_store import Session, SqlStateStore
from .store import (
    DEFAULT_SYNC,
    SyncScope,
)
from .tables import DUCKDB, TABLES

SCHEMA = ";\n".join(table.create(DUCKDB) for table in TABLES)
OLDEST_TABLES = ("synced_tasks", "create_intents", "rejections", "sync_runs")
"""The tables of files written before syncs were named (they lack `sync_name`)."""
LOCK_WAIT_SECONDS = 120.0
SYNC_LOCK_WAIT_SECONDS = 6 * 3600.0


class DuckDBStateStore(SqlStateStore):
    """All reads and writes of the sync state in one DuckDB file; one short connection per call."""

    def __init__(self, database: str, connection_config: dict[str, Any] | None = None, *, log: Log | None = None):
        self.database = str(database)
        self.connection_config = dict(connection_config or {})
        self.log = log
        """Told at once when another process holds the file (and the store waits for it)."""
        self._schema_ready = False
        self._in_use = threading.Lock()

    @property
    def location(self) -> str:
        return self.database

    def _exists(self) -> bool:
        return self.database == ":memory:" or Path(self.database).exists()

    def _check_file(self) -> None:
        path = Path(self.database)
        if self.database == ":memory:" or not path.exists():
            return
        if path.is_dir() or (path.stat().st_size and not is_duckdb_file(path)):
            raise StateStoreError(self._unusable("it is not a DuckDB database file"))

    def _unusable(self, problem: str) -> str:
        return (
            f"The sync state at {self.database} cannot be used: {problem}. It records which task each row became, "
            "so the sync will not delete or replace it. Restore it from a backup, or point SYNC_STATE_DUCKDB_PATH "
            "at the right file. Only if it is truly lost: move it aside, and the next run starts from an empty "
            "state (with sync_key_field set, it rebuilds the state from Asana; without it, rows already synced "
            "are created again)."
        )

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, waiting (with backoff) while another process holds the lock.

        One at a time within the process too: batches of outcomes are flushed from
        worker threads, and DuckDB's scans of registered DataFrames do not bear
        concurrent connections to one file."""
        with self._in_use:
            with self._connection() as connection:
                yield connection

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._check_file()
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = connect(self.database, self.connection_config, wait_seconds=LOCK_WAIT_SECONDS, what="the sync state", log=self.log)
        except FileLockedTooLong as exc:
            raise StateStoreError(str(exc)) from None
        except duckdb.Error as exc:
            raise StateStoreError(self._unusable(str(exc))) from None
        try:
            if not self._schema_ready:
                _migrate(connection)
                connection.execute(SCHEMA)
                self._schema_ready = True
            yield connection
        finally:
            connection.close()

    @contextmanager
    def exclusive(self, scope: SyncScope, log: Log) -> Iterator[None]:
        if self.database == ":memory:":
            yield
            return
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{self.database}.{_slug(scope.sync)}.{scope.project_gid}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log(f"Another run of {scope} holds its lock on {self.database}; waiting for it to finish")
            lock.acquire(timeout=SYNC_LOCK_WAIT_SECONDS)
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def _reading(self, scope: SyncScope) -> Iterator[Session | None]:
        if not self._exists():
            yield None
            return
        with self.connect() as connection:
            yield DuckDBSession(connection)

    @contextmanager
    def _writing(self, scope: SyncScope) -> Iterator[Session]:
        with self.connect() as connection:
            connection.execute("BEGIN")
            try:
                yield DuckDBSession(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def token_budget(self) -> TokenBudget:
        return SqliteBudget()


class DuckDBSession(Session):
    """Statements on one DuckDB connection; a batch is a DataFrame registered under a name of its own."""

    KINDS: dict[str, Any] = {"text": object, "hash": "UInt64", "time": "datetime64[us, UTC]"}

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection
        self.batches = 0

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(sql, list(params))

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.connection.executemany(sql, rows)

    def batch(self, name: str, columns: Mapping[str, tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
        self.batches += 1
        registered = f"{name}_{self.batches}"
        frame = pd.DataFrame({column: pd.Series(values, dtype=self.KINDS[kind]) for column, (kind, values) in columns.items()})
        self.connection.register(registered, frame)
        return f"{registered} AS {name}", []


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def _migrate(connection: duckdb.DuckDBPyConnection) -> None:
    """Bring an older file to today's tables, in place.

    Columns added since a table was first created are added with their defaults.
    Tables from before syncs were named gain `sync_name`; their rows belong to the
    default sync. DuckDB cannot change a primary key in place, so each such table
    is copied into its new shape and the old one dropped, in one transaction."""
    for table in TABLES:
        present = _columns(connection, table.name)
        if present and "sync_name" in present:
            for column in table.column_names:
                if column not in present:
                    connection.execute(table.add_column(column, DUCKDB))
    outdated = [name for name in OLDEST_TABLES if (columns := _columns(connection, name)) and "sync_name" not in columns]
    if not outdated:
        return
    connection.execute("BEGIN")
    for name in outdated:
        connection.execute(f"ALTER TABLE {name} RENAME TO {name}_before_syncs")
    connection.execute(SCHEMA)
    for name in outdated:
        old = _columns(connection, f"{name}_before_syncs")
        connection.execute(
            f"INSERT INTO {name} (sync_name, {', '.join(old)}) SELECT '{DEFAULT_SYNC}', {', '.join(old)} FROM {name}_before_syncs"
        )
        connection.execute(f"DROP TABLE {name}_before_syncs")
    connection.execute("COMMIT")
