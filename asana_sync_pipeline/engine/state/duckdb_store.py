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

import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

from ..asana.budget import SqliteBudget, TokenBudget
from ..duckdb_files import FileLockedTooLong, connect, is_duckdb_file
from ..errors import StateStoreError
from ..json_text import dumps
from ..log import Log
from .duckdb_checks import check_is_state, refuse_the_warehouse, said_when_unwritable, unwritable
from .store import (
    DEFAULT_SYNC,
    RELEASED,
    RUN_COUNTS,
    CommentIntent,
    EventCursor,
    Intent,
    Outcome,
    OutcomeBatch,
    StateStore,
    SyncScope,
    empty_synced,
    people_edit_rows,
    people_edits_from,
    utc_now,
)
from .tables import DUCKDB, TABLES

SCHEMA = ";\n".join(table.create(DUCKDB) for table in TABLES)
OLDEST_TABLES = ("synced_tasks", "create_intents", "rejections", "sync_runs")
"""The tables of files written before syncs were named (they lack `sync_name`)."""
LOCK_WAIT_SECONDS = 120.0
SYNC_LOCK_WAIT_SECONDS = 6 * 3600.0


class DuckDBStateStore(StateStore):
    """All reads and writes of the sync state in one DuckDB file; one short connection per call."""

    def __init__(
        self, database: str, connection_config: dict[str, Any] | None = None, *, log: Log | None = None, warehouse: str | None = None
    ):
        self.database = str(database)
        self.connection_config = dict(connection_config or {})
        self.log = log
        """Told at once when another process holds the file (and the store waits for it)."""
        self.warehouse = warehouse
        """The warehouse file, which the state refuses to be."""
        self._schema_ready = False
        self._in_use = threading.Lock()

    @property
    def location(self) -> str:
        return self.database

    def _exists(self) -> bool:
        return self.database == ":memory:" or Path(self.database).exists()

    def _check_file(self) -> None:
        refuse_the_warehouse(self.database, self.warehouse)
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
        try:
            if self.database != ":memory:":
                Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            connection = connect(self.database, self.connection_config, wait_seconds=LOCK_WAIT_SECONDS, what="the sync state", log=self.log)
        except FileLockedTooLong as exc:
            raise StateStoreError(str(exc)) from None
        except (OSError, duckdb.Error) as exc:
            raise (unwritable(self.database, exc, opening=True) or StateStoreError(self._unusable(str(exc)))) from None
        try:
            if not self._schema_ready:
                check_is_state(connection, self.database, may_lack_sync_name=OLDEST_TABLES)
                with said_when_unwritable(self.database, opening=True):
                    _migrate(connection)
                    connection.execute(SCHEMA)
                self._schema_ready = True
            with said_when_unwritable(self.database, opening=False):
                yield connection
        finally:
            with said_when_unwritable(self.database, opening=False):
                connection.close()

    @contextmanager
    def exclusive(self, scope: SyncScope, log: Log) -> Iterator[None]:
        if self.database == ":memory:":
            yield
            return
        self._check_file()
        lock = FileLock(f"{self.database}.{_slug(scope.sync)}.{scope.project_gid}.lock")
        with said_when_unwritable(self.database, opening=True):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                log(f"Another run of {scope} holds its lock on {self.database}; waiting for it to finish")
                lock.acquire(timeout=SYNC_LOCK_WAIT_SECONDS)
        try:
            yield
        finally:
            lock.release()

    def synced(self, scope: SyncScope) -> pd.DataFrame:
        if not self._exists():
            return empty_synced()
        with self.connect() as connection:
            return connection.execute(
                "SELECT primary_key, task_gid, payload_hash, removed, comment_hash FROM synced_tasks "
                "WHERE sync_name = ? AND project_gid = ?",
                [scope.sync, scope.project_gid],
            ).df()

    def task_gids(self, scope: SyncScope) -> set[str]:
        if not self._exists():
            return set()
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT task_gid FROM synced_tasks WHERE sync_name = ? AND project_gid = ?", [scope.sync, scope.project_gid]
            ).fetchall()
        return {row[0] for row in rows}

    def open_intents(self, scope: SyncScope) -> list[Intent]:
        if not self._exists():
            return []
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT primary_key, payload, attempted_at FROM create_intents WHERE sync_name = ? AND project_gid = ? "
                "ORDER BY attempted_at, primary_key",
                [scope.sync, scope.project_gid],
            ).fetchall()
        return [Intent(key, json.loads(payload), attempted_at) for key, payload, attempted_at in rows]

    def record_intents(self, scope: SyncScope, run_id: str, intents: list[tuple[str, dict[str, Any]]]) -> datetime:
        attempted_at = utc_now()
        if not intents:
            return attempted_at
        frame = pd.DataFrame(
            {
                "primary_key": [key for key, _ in intents],
                "payload": [dumps(payload, sort_keys=True) for _, payload in intents],
            }
        )
        with self.connect() as connection:
            connection.register("new_intents", frame)
            connection.execute(
                "INSERT OR REPLACE INTO create_intents (sync_name, project_gid, primary_key, payload, attempted_at, run_id) "
                "SELECT ?, ?, primary_key, payload, ?, ? FROM new_intents",
                [scope.sync, scope.project_gid, attempted_at, run_id],
            )
        return attempted_at

    def record_comment_intents(self, scope: SyncScope, run_id: str, intents: list[CommentIntent]) -> None:
        if not intents:
            return
        frame = pd.DataFrame(
            {
                "primary_key": [intent.primary_key for intent in intents],
                "task_gid": [intent.task_gid for intent in intents],
                "text": [intent.text for intent in intents],
                "comment_hash": pd.array([intent.comment_hash for intent in intents], dtype="UInt64"),
                "attempted_at": [intent.attempted_at for intent in intents],
            }
        )
        with self.connect() as connection:
            connection.register("new_comments", frame)
            connection.execute(
                "INSERT OR REPLACE INTO comment_intents (sync_name, project_gid, primary_key, task_gid, text, comment_hash, "
                "attempted_at, run_id) SELECT ?, ?, primary_key, task_gid, text, comment_hash, attempted_at, ? FROM new_comments",
                [scope.sync, scope.project_gid, run_id],
            )

    def open_comment_intents(self, scope: SyncScope) -> list[CommentIntent]:
        if not self._exists():
            return []
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT primary_key, task_gid, text, comment_hash, attempted_at FROM comment_intents "
                "WHERE sync_name = ? AND project_gid = ? ORDER BY attempted_at, primary_key",
                [scope.sync, scope.project_gid],
            ).fetchall()
        return [CommentIntent(key, gid, text, int(comment_hash), attempted_at) for key, gid, text, comment_hash, attempted_at in rows]

    def start_run(self, scope: SyncScope, run_id: str, keys: list[str], rejections: pd.DataFrame) -> None:
        with self.connect() as connection:
            connection.execute("BEGIN")
            connection.register("planned_keys", pd.DataFrame({"primary_key": pd.Series(keys, dtype=object)}))
            connection.execute(
                "DELETE FROM rejections WHERE sync_name = ? AND project_gid = ? AND "
                "(primary_key IS NULL OR primary_key IN (SELECT primary_key FROM planned_keys))",
                [scope.sync, scope.project_gid],
            )
            if len(rejections):
                connection.register("new_rejections", rejections[["primary_key", "field", "reason"]])
                connection.execute(
                    "INSERT INTO rejections (sync_name, project_gid, primary_key, field, reason, run_id, rejected_at) "
                    "SELECT ?, ?, primary_key, field, reason, ?, ? FROM new_rejections",
                    [scope.sync, scope.project_gid, run_id, utc_now()],
                )
            connection.execute("COMMIT")

    def apply(self, scope: SyncScope, run_id: str, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        now = utc_now()
        where = [scope.sync, scope.project_gid]
        batch = OutcomeBatch.of(outcomes)
        synced, rejected, commented = list(batch.synced.values()), batch.rejected, batch.commented
        with self.connect() as connection:
            connection.execute("BEGIN")
            if synced:
                connection.register(
                    "synced_batch",
                    pd.DataFrame(
                        {
                            "primary_key": [outcome.primary_key for outcome in synced],
                            "task_gid": [outcome.task_gid for outcome in synced],
                            "payload_hash": pd.array([outcome.payload_hash for outcome in synced], dtype="UInt64"),
                            "removed": pd.Series([outcome.removed for outcome in synced], dtype=object),
                            "written": pd.Series([outcome.written_json() for outcome in synced], dtype=object),
                        }
                    ),
                )
                connection.execute(
                    "INSERT INTO synced_tasks (sync_name, project_gid, primary_key, task_gid, payload_hash, synced_at, "
                    "run_id, removed, written) SELECT ?, ?, primary_key, task_gid, payload_hash, ?, ?, removed, written "
                    "FROM synced_batch ON CONFLICT DO UPDATE SET task_gid = excluded.task_gid, "
                    "payload_hash = excluded.payload_hash, synced_at = excluded.synced_at, run_id = excluded.run_id, "
                    "removed = excluded.removed, written = COALESCE(excluded.written, written)",
                    [*where, now, run_id],
                )
                connection.execute(
                    "DELETE FROM rejections WHERE sync_name = ? AND project_gid = ? AND primary_key IN "
                    "(SELECT primary_key FROM synced_batch)",
                    where,
                )
            if batch.forgotten:
                _delete_keys(connection, "synced_tasks", batch.forgotten, where)
            if commented:
                connection.register(
                    "commented_batch",
                    pd.DataFrame(
                        {
                            "primary_key": list(commented),
                            "comment_hash": pd.array(list(commented.values()), dtype="UInt64"),
                        }
                    ),
                )
                connection.execute(
                    "UPDATE synced_tasks SET comment_hash = commented_batch.comment_hash FROM commented_batch "
                    "WHERE synced_tasks.sync_name = ? AND synced_tasks.project_gid = ? "
                    "AND synced_tasks.primary_key = commented_batch.primary_key",
                    where,
                )
                _delete_keys(connection, "comment_intents", list(commented), where)
            if batch.settled:
                _delete_keys(connection, "create_intents", batch.settled, where)
            if rejected:
                connection.register(
                    "rejected_batch",
                    pd.DataFrame(
                        {
                            "primary_key": [outcome.primary_key for outcome in rejected],
                            "field": [outcome.field or "" for outcome in rejected],
                            "reason": [outcome.reason for outcome in rejected],
                        }
                    ),
                )
                connection.execute(
                    "INSERT INTO rejections (sync_name, project_gid, primary_key, field, reason, run_id, rejected_at) "
                    "SELECT ?, ?, primary_key, field, reason, ?, ? FROM rejected_batch",
                    [*where, run_id, now],
                )
            connection.execute("COMMIT")

    def written(self, scope: SyncScope, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys or not self._exists():
            return {}
        with self.connect() as connection:
            connection.register("wanted_keys", pd.DataFrame({"primary_key": pd.Series(keys, dtype=object)}))
            rows = connection.execute(
                "SELECT primary_key, written FROM synced_tasks WHERE sync_name = ? AND project_gid = ? "
                "AND written IS NOT NULL AND primary_key IN (SELECT primary_key FROM wanted_keys)",
                [scope.sync, scope.project_gid],
            ).fetchall()
        return {key: json.loads(written) for key, written in rows}

    def rekey(self, scope: SyncScope, renames: dict[str, str]) -> None:
        if not renames:
            return
        with self.connect() as connection:
            connection.execute("BEGIN")
            connection.register("renamed_keys", pd.DataFrame({"old": list(renames), "new": list(renames.values())}))
            for table in ("synced_tasks", "create_intents", "comment_intents", "rejections", "people_edits"):
                connection.execute(
                    f"UPDATE {table} SET primary_key = renamed_keys.new FROM renamed_keys WHERE {table}.sync_name = ? "
                    f"AND {table}.project_gid = ? AND {table}.primary_key = renamed_keys.old",
                    [scope.sync, scope.project_gid],
                )
            connection.execute("COMMIT")

    def clear_releases(self, scope: SyncScope, keys: list[str] | None = None) -> list[str]:
        if not self._exists():
            return []
        with self.connect() as connection:
            rows = connection.execute(
                "DELETE FROM synced_tasks WHERE sync_name = ? AND project_gid = ? AND removed = ? "
                "AND (? OR list_contains(?, primary_key)) RETURNING primary_key",
                [scope.sync, scope.project_gid, RELEASED, keys is None, list(keys or [])],
            ).fetchall()
        return sorted(row[0] for row in rows)

    def event_cursor(self, scope: SyncScope) -> EventCursor | None:
        if not self._exists():
            return None
        with self.connect() as connection:
            row = connection.execute(
                "SELECT sync_token, read_at FROM event_cursors WHERE sync_name = ? AND project_gid = ?",
                [scope.sync, scope.project_gid],
            ).fetchone()
        return None if row is None else EventCursor(row[0], row[1].astimezone(UTC))

    def people_edits(self, scope: SyncScope) -> dict[str, dict[str, Any]]:
        if not self._exists():
            return {}
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT primary_key, field, asana_value FROM people_edits WHERE sync_name = ? AND project_gid = ?",
                [scope.sync, scope.project_gid],
            ).fetchall()
        return people_edits_from(rows)

    def save_observation(self, scope: SyncScope, cursor: EventCursor, people_edits: Mapping[str, Mapping[str, Any]]) -> None:
        with self.connect() as connection:
            connection.execute("BEGIN")
            connection.execute(
                "INSERT OR REPLACE INTO event_cursors (sync_name, project_gid, sync_token, read_at) VALUES (?, ?, ?, ?)",
                [scope.sync, scope.project_gid, cursor.token, cursor.read_at],
            )
            connection.execute("DELETE FROM people_edits WHERE sync_name = ? AND project_gid = ?", [scope.sync, scope.project_gid])
            rows = people_edit_rows(scope, people_edits, utc_now())
            if rows:
                connection.executemany("INSERT INTO people_edits VALUES (?, ?, ?, ?, ?, ?)", rows)
            connection.execute("COMMIT")

    def token_budget(self) -> TokenBudget:
        return SqliteBudget()

    def forget_task(self, scope: SyncScope, primary_key: str) -> None:
        with self.connect() as connection:
            connection.execute(
                "DELETE FROM synced_tasks WHERE sync_name = ? AND project_gid = ? AND primary_key = ?",
                [scope.sync, scope.project_gid, primary_key],
            )

    def rejections(self, scope: SyncScope) -> pd.DataFrame:
        with self.connect() as connection:
            return connection.execute(
                "SELECT primary_key, field, reason, run_id, rejected_at FROM rejections "
                "WHERE sync_name = ? AND project_gid = ? ORDER BY primary_key, field",
                [scope.sync, scope.project_gid],
            ).df()

    def record_run(self, scope: SyncScope, summary: dict[str, Any]) -> None:
        columns = ("run_id", "sync_mode", "started_at", "finished_at", *RUN_COUNTS)
        with self.connect() as connection:
            connection.execute(
                f"INSERT INTO sync_runs (sync_name, project_gid, {', '.join(columns)}) "
                f"VALUES (?, ?, {', '.join('?' for _ in columns)})",
                [scope.sync, scope.project_gid, *(summary[name] for name in columns)],
            )

    def runs(self, scope: SyncScope) -> pd.DataFrame:
        with self.connect() as connection:
            return connection.execute(
                "SELECT * FROM sync_runs WHERE sync_name = ? AND project_gid = ? ORDER BY started_at",
                [scope.sync, scope.project_gid],
            ).df()


def _delete_keys(connection: duckdb.DuckDBPyConnection, table: str, keys: list[str], where: list[str]) -> None:
    """Delete the rows of `keys` in one scope of `table`."""
    connection.register("doomed_keys", pd.DataFrame({"primary_key": pd.Series(keys, dtype=object)}))
    connection.execute(
        f"DELETE FROM {table} WHERE sync_name = ? AND project_gid = ? AND primary_key IN (SELECT primary_key FROM doomed_keys)",
        where,
    )
    connection.unregister("doomed_keys")


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
            f"INSERT INTO {name} (sync_name, {', '.join(old)}) SELECT '{DEFAULT_SYNC}', {', '.join(old)} "
            f"FROM {name}_before_syncs"
        )
        connection.execute(f"DROP TABLE {name}_before_syncs")
    connection.execute("COMMIT")
