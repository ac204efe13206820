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
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import psycopg.errors

from ..asana.budget import TokenBudget
from ..errors import StateStoreError
from ..json_text import dumps
from ..log import Log
from .postgres_budget import PostgresBudget
from .postgres_schema import ensure_schema
from .postgres_url import PostgresURL
from .store import (
    REJECTION_COLUMNS,
    RELEASED,
    RUN_COUNTS,
    SYNCED_COLUMNS,
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
from .tables import BY_NAME

SYNC_LOCK_WAIT_SECONDS = 6 * 3600.0
TIMESTAMP_COLUMNS = ("synced_at", "attempted_at", "rejected_at", "started_at", "finished_at")
RUN_COLUMNS = BY_NAME["sync_runs"].column_names
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


class PostgresStateStore(StateStore):
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
    def _reading(self, scope: SyncScope) -> Iterator[psycopg.Connection | None]:
        """A connection for reads, or None when the database holds no sync state yet (reading creates nothing)."""
        with self._connection(scope) as connection:
            if not self._schema_ready:
                self._schema_ready = ensure_schema(connection, create=False)
            yield connection if self._schema_ready else None

    @contextmanager
    def _writing(self, scope: SyncScope) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction, the tables created first if need be."""
        with self._connection(scope) as connection:
            if not self._schema_ready:
                self._schema_ready = ensure_schema(connection, create=True)
            with connection.transaction():
                yield connection

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

    # ---- reads --------------------------------------------------------------

    def synced(self, scope: SyncScope) -> pd.DataFrame:
        with self._reading(scope) as connection:
            if connection is None:
                return empty_synced()
            rows = connection.execute(
                "SELECT primary_key, task_gid, payload_hash::text, removed, comment_hash::text FROM synced_tasks "
                "WHERE sync_name = %s AND project_gid = %s",
                [scope.sync, scope.project_gid],
            ).fetchall()
        keys, gids, hashes, removed, comments = zip(*rows) if rows else ((), (), (), (), ())
        return pd.DataFrame(
            {
                "primary_key": pd.Series(keys, dtype=object),
                "task_gid": pd.Series(gids, dtype=object),
                "payload_hash": _hashes(hashes),
                "removed": pd.Series(removed, dtype=object),
                "comment_hash": _hashes(comments),
            },
            columns=list(SYNCED_COLUMNS),
        )

    def task_gids(self, scope: SyncScope) -> set[str]:
        with self._reading(scope) as connection:
            if connection is None:
                return set()
            rows = connection.execute(
                "SELECT task_gid FROM synced_tasks WHERE sync_name = %s AND project_gid = %s", [scope.sync, scope.project_gid]
            ).fetchall()
        return {row[0] for row in rows}

    def open_intents(self, scope: SyncScope) -> list[Intent]:
        with self._reading(scope) as connection:
            if connection is None:
                return []
            rows = connection.execute(
                "SELECT primary_key, payload, attempted_at FROM create_intents WHERE sync_name = %s AND project_gid = %s "
                'ORDER BY attempted_at, primary_key COLLATE "C"',
                [scope.sync, scope.project_gid],
            ).fetchall()
        return [Intent(key, json.loads(payload), attempted_at.astimezone(UTC)) for key, payload, attempted_at in rows]

    def open_comment_intents(self, scope: SyncScope) -> list[CommentIntent]:
        with self._reading(scope) as connection:
            if connection is None:
                return []
            rows = connection.execute(
                "SELECT primary_key, task_gid, text, comment_hash::text, attempted_at FROM comment_intents "
                'WHERE sync_name = %s AND project_gid = %s ORDER BY attempted_at, primary_key COLLATE "C"',
                [scope.sync, scope.project_gid],
            ).fetchall()
        return [
            CommentIntent(key, gid, text, int(comment_hash), attempted_at.astimezone(UTC))
            for key, gid, text, comment_hash, attempted_at in rows
        ]

    def rejections(self, scope: SyncScope) -> pd.DataFrame:
        return self._frame(
            scope,
            f"SELECT {', '.join(REJECTION_COLUMNS)} FROM rejections WHERE sync_name = %s AND project_gid = %s "
            'ORDER BY primary_key COLLATE "C", field COLLATE "C"',
            REJECTION_COLUMNS,
        )

    def runs(self, scope: SyncScope) -> pd.DataFrame:
        return self._frame(
            scope,
            f"SELECT {', '.join(RUN_COLUMNS)} FROM sync_runs WHERE sync_name = %s AND project_gid = %s ORDER BY started_at",
            RUN_COLUMNS,
        )

    def _frame(self, scope: SyncScope, query: str, columns: tuple[str, ...]) -> pd.DataFrame:
        with self._reading(scope) as connection:
            rows = [] if connection is None else connection.execute(query, [scope.sync, scope.project_gid]).fetchall()
        frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
        for name in set(columns) & set(TIMESTAMP_COLUMNS):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        for name in set(columns) & set(RUN_COUNTS):
            frame[name] = frame[name].astype("int64")
        return frame

    # ---- writes -------------------------------------------------------------

    def record_intents(self, scope: SyncScope, run_id: str, intents: list[tuple[str, dict[str, Any]]]) -> datetime:
        attempted_at = utc_now()
        if not intents:
            return attempted_at
        latest = {key: dumps(payload, sort_keys=True) for key, payload in intents}
        with self._writing(scope) as connection:
            connection.execute(
                "INSERT INTO create_intents (sync_name, project_gid, primary_key, payload, attempted_at, run_id) "
                "SELECT %s, %s, batch.primary_key, batch.payload, %s, %s "
                "FROM unnest(%s::text[], %s::text[]) AS batch(primary_key, payload) "
                "ON CONFLICT (sync_name, project_gid, primary_key) DO UPDATE SET "
                "payload = EXCLUDED.payload, attempted_at = EXCLUDED.attempted_at, run_id = EXCLUDED.run_id",
                [scope.sync, scope.project_gid, attempted_at, run_id, list(latest), list(latest.values())],
            )
        return attempted_at

    def record_comment_intents(self, scope: SyncScope, run_id: str, intents: list[CommentIntent]) -> None:
        if not intents:
            return
        latest = {intent.primary_key: intent for intent in intents}
        with self._writing(scope) as connection:
            connection.execute(
                "INSERT INTO comment_intents (sync_name, project_gid, primary_key, task_gid, text, comment_hash, attempted_at, run_id) "
                "SELECT %s, %s, batch.primary_key, batch.task_gid, batch.text, batch.comment_hash::numeric, batch.attempted_at, %s "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[]) "
                "AS batch(primary_key, task_gid, text, comment_hash, attempted_at) "
                "ON CONFLICT (sync_name, project_gid, primary_key) DO UPDATE SET task_gid = EXCLUDED.task_gid, "
                "text = EXCLUDED.text, comment_hash = EXCLUDED.comment_hash, attempted_at = EXCLUDED.attempted_at, "
                "run_id = EXCLUDED.run_id",
                [
                    scope.sync, scope.project_gid, run_id, list(latest),
                    [intent.task_gid for intent in latest.values()], [intent.text for intent in latest.values()],
                    [str(intent.comment_hash) for intent in latest.values()],
                    [intent.attempted_at for intent in latest.values()],
                ],
            )  # fmt: skip

    def start_run(self, scope: SyncScope, run_id: str, keys: list[str], rejections: pd.DataFrame) -> None:
        with self._writing(scope) as connection:
            connection.execute(
                "DELETE FROM rejections WHERE sync_name = %s AND project_gid = %s AND "
                "(primary_key IS NULL OR primary_key IN (SELECT unnest(%s::text[])))",
                [scope.sync, scope.project_gid, [str(key) for key in keys]],
            )
            if len(rejections):
                self._insert_rejections(connection, scope, run_id, utc_now(), rejections[["primary_key", "field", "reason"]])

    def apply(self, scope: SyncScope, run_id: str, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        now = utc_now()
        where = [scope.sync, scope.project_gid]
        batch = OutcomeBatch.of(outcomes)
        synced, rejected, settled, forgotten = batch.synced, batch.rejected, batch.settled, batch.forgotten
        commented = {key: str(comment_hash) for key, comment_hash in batch.commented.items()}
        with self._writing(scope) as connection:
            if synced:
                hashes = [None if outcome.payload_hash is None else str(outcome.payload_hash) for outcome in synced.values()]
                connection.execute(
                    "INSERT INTO synced_tasks (sync_name, project_gid, primary_key, task_gid, payload_hash, synced_at, run_id, "
                    "removed, written) SELECT %s, %s, batch.primary_key, batch.task_gid, batch.payload_hash::numeric, %s, %s, "
                    "batch.removed, batch.written FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
                    "AS batch(primary_key, task_gid, payload_hash, removed, written) "
                    "ON CONFLICT (sync_name, project_gid, primary_key) DO UPDATE SET task_gid = EXCLUDED.task_gid, "
                    "payload_hash = EXCLUDED.payload_hash, synced_at = EXCLUDED.synced_at, run_id = EXCLUDED.run_id, "
                    "removed = EXCLUDED.removed, written = COALESCE(EXCLUDED.written, synced_tasks.written)",
                    [
                        *where, now, run_id, list(synced), [outcome.task_gid for outcome in synced.values()], hashes,
                        [outcome.removed for outcome in synced.values()],
                        [outcome.written_json() for outcome in synced.values()],
                    ],
                )  # fmt: skip
                connection.execute(
                    "DELETE FROM rejections WHERE sync_name = %s AND project_gid = %s AND primary_key = ANY(%s::text[])",
                    [*where, list(synced)],
                )
            if forgotten:
                connection.execute(
                    "DELETE FROM synced_tasks WHERE sync_name = %s AND project_gid = %s AND primary_key = ANY(%s::text[])",
                    [*where, forgotten],
                )
            if commented:
                connection.execute(
                    "UPDATE synced_tasks SET comment_hash = batch.comment_hash::numeric "
                    "FROM unnest(%s::text[], %s::text[]) AS batch(primary_key, comment_hash) "
                    "WHERE synced_tasks.sync_name = %s AND synced_tasks.project_gid = %s "
                    "AND synced_tasks.primary_key = batch.primary_key",
                    [list(commented), list(commented.values()), *where],
                )
                connection.execute(
                    "DELETE FROM comment_intents WHERE sync_name = %s AND project_gid = %s AND primary_key = ANY(%s::text[])",
                    [*where, list(commented)],
                )
            if settled:
                connection.execute(
                    "DELETE FROM create_intents WHERE sync_name = %s AND project_gid = %s AND primary_key = ANY(%s::text[])",
                    [*where, settled],
                )
            if rejected:
                frame = pd.DataFrame(
                    {
                        "primary_key": [outcome.primary_key for outcome in rejected],
                        "field": [outcome.field or "" for outcome in rejected],
                        "reason": [outcome.reason for outcome in rejected],
                    }
                )
                self._insert_rejections(connection, scope, run_id, now, frame)

    @staticmethod
    def _insert_rejections(
        connection: psycopg.Connection, scope: SyncScope, run_id: str, now: datetime, rejections: pd.DataFrame
    ) -> None:
        def texts(column: str) -> list[str | None]:
            return [None if pd.isna(value) else str(value) for value in rejections[column].tolist()]

        connection.execute(
            "INSERT INTO rejections (sync_name, project_gid, primary_key, field, reason, run_id, rejected_at) "
            "SELECT %s, %s, batch.primary_key, batch.field, batch.reason, %s, %s "
            "FROM unnest(%s::text[], %s::text[], %s::text[]) AS batch(primary_key, field, reason)",
            [scope.sync, scope.project_gid, run_id, now, texts("primary_key"), texts("field"), texts("reason")],
        )

    def written(self, scope: SyncScope, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        with self._reading(scope) as connection:
            if connection is None:
                return {}
            rows = connection.execute(
                "SELECT primary_key, written FROM synced_tasks WHERE sync_name = %s AND project_gid = %s "
                "AND written IS NOT NULL AND primary_key = ANY(%s::text[])",
                [scope.sync, scope.project_gid, list(keys)],
            ).fetchall()
        return {key: json.loads(written) for key, written in rows}

    def rekey(self, scope: SyncScope, renames: dict[str, str]) -> None:
        if not renames:
            return
        with self._writing(scope) as connection:
            for table in ("synced_tasks", "create_intents", "comment_intents", "rejections", "people_edits"):
                connection.execute(
                    f"UPDATE {table} SET primary_key = batch.new FROM unnest(%s::text[], %s::text[]) AS batch(old, new) "
                    f"WHERE {table}.sync_name = %s AND {table}.project_gid = %s AND {table}.primary_key = batch.old",
                    [list(renames), list(renames.values()), scope.sync, scope.project_gid],
                )

    def clear_releases(self, scope: SyncScope, keys: list[str] | None = None) -> list[str]:
        with self._writing(scope) as connection:
            rows = connection.execute(
                "DELETE FROM synced_tasks WHERE sync_name = %s AND project_gid = %s AND removed = %s "
                "AND (%s OR primary_key = ANY(%s::text[])) RETURNING primary_key",
                [scope.sync, scope.project_gid, RELEASED, keys is None, list(keys or [])],
            ).fetchall()
        return sorted(row[0] for row in rows)

    def event_cursor(self, scope: SyncScope) -> EventCursor | None:
        with self._reading(scope) as connection:
            if connection is None:
                return None
            row = connection.execute(
                "SELECT sync_token, read_at FROM event_cursors WHERE sync_name = %s AND project_gid = %s",
                [scope.sync, scope.project_gid],
            ).fetchone()
        return None if row is None else EventCursor(row[0], row[1].astimezone(UTC))

    def people_edits(self, scope: SyncScope) -> dict[str, dict[str, Any]]:
        with self._reading(scope) as connection:
            if connection is None:
                return {}
            rows = connection.execute(
                "SELECT primary_key, field, asana_value FROM people_edits WHERE sync_name = %s AND project_gid = %s",
                [scope.sync, scope.project_gid],
            ).fetchall()
        return people_edits_from(rows)

    def save_observation(self, scope: SyncScope, cursor: EventCursor, people_edits: Mapping[str, Mapping[str, Any]]) -> None:
        with self._writing(scope) as connection:
            connection.execute(
                "INSERT INTO event_cursors (sync_name, project_gid, sync_token, read_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (sync_name, project_gid) DO UPDATE SET sync_token = EXCLUDED.sync_token, read_at = EXCLUDED.read_at",
                [scope.sync, scope.project_gid, cursor.token, cursor.read_at],
            )
            connection.execute(
                "DELETE FROM people_edits WHERE sync_name = %s AND project_gid = %s", [scope.sync, scope.project_gid]
            )
            rows = people_edit_rows(scope, people_edits, utc_now())
            if rows:
                with connection.cursor() as cursor_:
                    cursor_.executemany("INSERT INTO people_edits VALUES (%s, %s, %s, %s, %s, %s)", rows)

    def token_budget(self) -> TokenBudget:
        return PostgresBudget(self._connect)

    def forget_task(self, scope: SyncScope, primary_key: str) -> None:
        with self._writing(scope) as connection:
            connection.execute(
                "DELETE FROM synced_tasks WHERE sync_name = %s AND project_gid = %s AND primary_key = %s",
                [scope.sync, scope.project_gid, primary_key],
            )

    def record_run(self, scope: SyncScope, summary: dict[str, Any]) -> None:
        columns = ("run_id", "sync_mode", "started_at", "finished_at", *RUN_COUNTS)
        with self._writing(scope) as connection:
            connection.execute(
                f"INSERT INTO sync_runs (sync_name, project_gid, {', '.join(columns)}) "
                f"VALUES (%s, %s, {', '.join('%s' for _ in columns)})",
                [scope.sync, scope.project_gid, *(summary[name] for name in columns)],
            )


def _hashes(values: tuple[str | None, ...]) -> Any:
    """Unsigned 64-bit hashes read as text, exactly."""
    return pd.array([None if value is None else int(value) for value in values], dtype="UInt64")
