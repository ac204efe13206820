"""The state's reads and writes, written once in the SQL both stores run (see `store` for what
they hold); `duckdb_store` and `postgres_store` bring only what differs: how to connect, how to
lock a sync, how a batch of rows reaches the server, and how errors are told.

Statements use `?` for parameters (a PostgreSQL session turns them into `%s`). A batch of rows
(outcomes, intents, keys) travels as one table expression (`Session.batch`): a registered
DataFrame in DuckDB, `unnest` over typed arrays in PostgreSQL; either way one statement per
table, whatever the batch's size. Hashes are unsigned 64-bit integers and are read as text, so
they never pass through a float or a signed type.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..json_text import dumps
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
    people_edit_rows,
    people_edits_from,
    utc_now,
)
from .tables import BY_NAME

SCOPED = "sync_name = ? AND project_gid = ?"
TIMESTAMP_COLUMNS = ("synced_at", "attempted_at", "rejected_at", "started_at", "finished_at")
RUN_COLUMNS = BY_NAME["sync_runs"].column_names
KEYED_TABLES = ("synced_tasks", "create_intents", "comment_intents", "rejections", "people_edits")
"""The tables holding rows by primary key (renamed together)."""


class Session(ABC):
    """One connection's statements, in one transaction when writing."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows a query returns."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""

    @abstractmethod
    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement per row."""

    @abstractmethod
    def batch(self, name: str, columns: Mapping[str, tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
        """A table expression `name(columns...)` holding the rows given column by column (column ->
        (kind, values), kinds `text`, `hash` or `time`), and the parameters it takes where it stands."""


def _hashes(values: Sequence[Any]) -> Any:
    """Unsigned 64-bit hashes read as text, exactly."""
    return pd.array([None if value is None else int(value) for value in values], dtype="UInt64")


def _texts(values: Sequence[Any]) -> list[str | None]:
    return [None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value) for value in values]


class SqlStateStore(StateStore, ABC):
    """Every read and write of the sync state, over a `Session` the subclass opens."""

    @abstractmethod
    def _reading(self, scope: SyncScope) -> AbstractContextManager[Session | None]:
        """A session for reads, or None when the store holds no state yet (reading creates nothing)."""

    @abstractmethod
    def _writing(self, scope: SyncScope) -> AbstractContextManager[Session]:
        """A session inside one transaction, the tables created first if need be."""

    # ---- reads --------------------------------------------------------------

    def _rows(self, scope: SyncScope, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query whose first parameters are the scope's (sync, project)."""
        with self._reading(scope) as session:
            return [] if session is None else session.rows(sql, [scope.sync, scope.project_gid, *params])

    def synced(self, scope: SyncScope) -> pd.DataFrame:
        rows = self._rows(
            scope,
            f"SELECT primary_key, task_gid, payload_hash::text, removed, comment_hash::text FROM synced_tasks WHERE {SCOPED}",
        )
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
        return {row[0] for row in self._rows(scope, f"SELECT task_gid FROM synced_tasks WHERE {SCOPED}")}

    def open_intents(self, scope: SyncScope) -> list[Intent]:
        rows = self._rows(
            scope,
            f"SELECT primary_key, payload, attempted_at FROM create_intents WHERE {SCOPED} "
            'ORDER BY attempted_at, primary_key COLLATE "C"',
        )
        return [Intent(key, json.loads(payload), attempted_at.astimezone(UTC)) for key, payload, attempted_at in rows]

    def open_comment_intents(self, scope: SyncScope) -> list[CommentIntent]:
        rows = self._rows(
            scope,
            f"SELECT primary_key, task_gid, text, comment_hash::text, attempted_at FROM comment_intents WHERE {SCOPED} "
            'ORDER BY attempted_at, primary_key COLLATE "C"',
        )
        return [
            CommentIntent(key, gid, text, int(comment_hash), attempted_at.astimezone(UTC))
            for key, gid, text, comment_hash, attempted_at in rows
        ]

    def written(self, scope: SyncScope, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        with self._reading(scope) as session:
            if session is None:
                return {}
            wanted, params = session.batch("wanted_keys", {"primary_key": ("text", list(keys))})
            rows = session.rows(
                f"SELECT primary_key, written FROM synced_tasks WHERE {SCOPED} AND written IS NOT NULL "
                f"AND primary_key IN (SELECT primary_key FROM {wanted})",
                [scope.sync, scope.project_gid, *params],
            )
        return {key: json.loads(written) for key, written in rows}

    def event_cursor(self, scope: SyncScope) -> EventCursor | None:
        rows = self._rows(scope, f"SELECT sync_token, read_at FROM event_cursors WHERE {SCOPED}")
        return EventCursor(rows[0][0], rows[0][1].astimezone(UTC)) if rows else None

    def people_edits(self, scope: SyncScope) -> dict[str, dict[str, Any]]:
        return people_edits_from(self._rows(scope, f"SELECT primary_key, field, asana_value FROM people_edits WHERE {SCOPED}"))

    def rejections(self, scope: SyncScope) -> pd.DataFrame:
        return self._frame(
            scope,
            f"SELECT {', '.join(REJECTION_COLUMNS)} FROM rejections WHERE {SCOPED} "
            'ORDER BY primary_key COLLATE "C", field COLLATE "C"',
            REJECTION_COLUMNS,
        )

    def runs(self, scope: SyncScope) -> pd.DataFrame:
        return self._frame(scope, f"SELECT {', '.join(RUN_COLUMNS)} FROM sync_runs WHERE {SCOPED} ORDER BY started_at", RUN_COLUMNS)

    def _frame(self, scope: SyncScope, query: str, columns: tuple[str, ...]) -> pd.DataFrame:
        frame = pd.DataFrame(self._rows(scope, query), columns=list(columns), dtype=object)
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
        with self._writing(scope) as session:
            batch, params = session.batch(
                "new_intents", {"primary_key": ("text", list(latest)), "payload": ("text", list(latest.values()))}
            )
            session.execute(
                "INSERT INTO create_intents (sync_name, project_gid, primary_key, payload, attempted_at, run_id) "
                f"SELECT ?, ?, new_intents.primary_key, new_intents.payload, ?, ? FROM {batch} "
                "ON CONFLICT (sync_name, project_gid, primary_key) DO UPDATE SET "
                "payload = EXCLUDED.payload, attempted_at = EXCLUDED.attempted_at, run_id = EXCLUDED.run_id",
                [scope.sync, scope.project_gid, attempted_at, run_id, *params],
            )
        return attempted_at

    def record_comment_intents(self, scope: SyncScope, run_id: str, intents: list[CommentIntent]) -> None:
        if not intents:
            return
        latest = list({intent.primary_key: intent for intent in intents}.values())
        with self._writing(scope) as session:
            batch, params = session.batch(
                "new_comments",
                {
                    "primary_key": ("text", [intent.primary_key for intent in latest]),
                    "task_gid": ("text", [intent.task_gid for intent in latest]),
                    "text": ("text", [intent.text for intent in latest]),
                    "comment_hash": ("hash", [intent.comment_hash for intent in latest]),
                    "attempted_at": ("time", [intent.attempted_at for intent in latest]),
                },
            )
            session.execute(
                "INSERT INTO comment_intents (sync_name, project_gid, primary_key, task_gid, text, comment_hash, attempted_at, "
                "run_id) SELECT ?, ?, new_comments.primary_key, new_comments.task_gid, new_comments.text, "
                f"new_comments.comment_hash, new_comments.attempted_at, ? FROM {batch} "
                "ON CONFLICT (sync_name, project_gid, primary_key) DO UPDATE SET task_gid = EXCLUDED.task_gid, "
                "text = EXCLUDED.text, comment_hash = EXCLUDED.comment_hash, attempted_at = EXCLUDED.attempted_at, "
                "run_id = EXCLUDED.run_id",
                [scope.sync, scope.project_gid, run_id, *params],
            )

    def start_run(self, scope: SyncScope, run_id: str, keys: list[str], rejections: pd.DataFrame) -> None:
        with self._writing(scope) as session:
            planned, params = session.batch("planned_keys", {"primary_key": ("text", [str(key) for key in keys])})
            session.execute(
                f"DELETE FROM rejections WHERE {SCOPED} AND "
                f"(primary_key IS NULL OR primary_key IN (SELECT primary_key FROM {planned}))",
                [scope.sync, scope.project_gid, *params],
            )
            if len(rejections):
                self._insert_rejections(
                    session, scope, run_id, utc_now(), *(rejections[name].tolist() for name in ("primary_key", "field", "reason"))
                )

    def apply(self, scope: SyncScope, run_id: str, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        now = utc_now()
        where = [scope.sync, scope.project_gid]
        batch = OutcomeBatch.of(outcomes)
        synced = list(batch.synced.values())
        with self._writing(scope) as session:
            if synced:
                table, params = session.batch(
                    "synced_batch",
                    {
                        "primary_key": ("text", [outcome.primary_key for outcome in synced]),
                        "task_gid": ("text", [outcome.task_gid for outcome in synced]),
                        "payload_hash": ("hash", [outcome.payload_hash for outcome in synced]),
                        "removed": ("text", [outcome.removed for outcome in synced]),
                        "written": ("text", [outcome.written_json() for outcome in synced]),
                    },
                )
                session.execute(
                    "INSERT INTO synced_tasks (sync_name, project_gid, primary_key, task_gid, payload_hash, synced_at, run_id, "
                    "removed, written) SELECT ?, ?, synced_batch.primary_key, synced_batch.task_gid, synced_batch.payload_hash, "
                    f"?, ?, synced_batch.removed, synced_batch.written FROM {table} "
                    "ON CONFLICT (sync_name, project_gid, primary_key) DO UPDATE SET task_gid = EXCLUDED.task_gid, "
                    "payload_hash = EXCLUDED.payload_hash, synced_at = EXCLUDED.synced_at, run_id = EXCLUDED.run_id, "
                    "removed = EXCLUDED.removed, written = COALESCE(EXCLUDED.written, synced_tasks.written)",
                    [*where, now, run_id, *params],
                )
                self._delete_keys(session, scope, "rejections", list(batch.synced))
            if batch.forgotten:
                self._delete_keys(session, scope, "synced_tasks", batch.forgotten)
            if batch.commented:
                table, params = session.batch(
                    "commented_batch",
                    {
                        "primary_key": ("text", list(batch.commented)),
                        "comment_hash": ("hash", list(batch.commented.values())),
                    },
                )
                session.execute(
                    f"UPDATE synced_tasks SET comment_hash = commented_batch.comment_hash FROM {table} "
                    "WHERE synced_tasks.sync_name = ? AND synced_tasks.project_gid = ? "
                    "AND synced_tasks.primary_key = commented_batch.primary_key",
                    [*params, *where],
                )
                self._delete_keys(session, scope, "comment_intents", list(batch.commented))
            if batch.settled:
                self._delete_keys(session, scope, "create_intents", batch.settled)
            if batch.rejected:
                rejected = batch.rejected
                self._insert_rejections(
                    session, scope, run_id, now,
                    [outcome.primary_key for outcome in rejected], [outcome.field or "" for outcome in rejected],
                    [outcome.reason for outcome in rejected],
                )  # fmt: skip

    @staticmethod
    def _delete_keys(session: Session, scope: SyncScope, table: str, keys: list[str]) -> None:
        """Delete the rows of `keys` in one scope of `table`."""
        doomed, params = session.batch("doomed_keys", {"primary_key": ("text", keys)})
        session.execute(
            f"DELETE FROM {table} WHERE {SCOPED} AND primary_key IN (SELECT primary_key FROM {doomed})",
            [scope.sync, scope.project_gid, *params],
        )

    @staticmethod
    def _insert_rejections(
        session: Session, scope: SyncScope, run_id: str, now: datetime, keys: list[Any], fields: list[Any], reasons: list[Any]
    ) -> None:
        batch, params = session.batch(
            "new_rejections",
            {"primary_key": ("text", _texts(keys)), "field": ("text", _texts(fields)), "reason": ("text", _texts(reasons))},
        )
        session.execute(
            "INSERT INTO rejections (sync_name, project_gid, primary_key, field, reason, run_id, rejected_at) "
            f"SELECT ?, ?, new_rejections.primary_key, new_rejections.field, new_rejections.reason, ?, ? FROM {batch}",
            [scope.sync, scope.project_gid, run_id, now, *params],
        )

    def rekey(self, scope: SyncScope, renames: dict[str, str]) -> None:
        if not renames:
            return
        with self._writing(scope) as session:
            for table in KEYED_TABLES:
                batch, params = session.batch("renamed_keys", {"old": ("text", list(renames)), "new": ("text", list(renames.values()))})
                session.execute(
                    f"UPDATE {table} SET primary_key = renamed_keys.new FROM {batch} WHERE {table}.sync_name = ? "
                    f"AND {table}.project_gid = ? AND {table}.primary_key = renamed_keys.old",
                    [*params, scope.sync, scope.project_gid],
                )

    def clear_releases(self, scope: SyncScope, keys: list[str] | None = None) -> list[str]:
        with self._reading(scope) as reading:
            if reading is None:
                return []
        with self._writing(scope) as session:
            chosen, params = session.batch("chosen_keys", {"primary_key": ("text", list(keys or []))})
            rows = session.rows(
                f"DELETE FROM synced_tasks WHERE {SCOPED} AND removed = ? "
                f"AND (? OR primary_key IN (SELECT primary_key FROM {chosen})) RETURNING primary_key",
                [scope.sync, scope.project_gid, RELEASED, keys is None, *params],
            )
        return sorted(row[0] for row in rows)

    def save_observation(self, scope: SyncScope, cursor: EventCursor, people_edits: Mapping[str, Mapping[str, Any]]) -> None:
        with self._writing(scope) as session:
            session.execute(
                "INSERT INTO event_cursors (sync_name, project_gid, sync_token, read_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sync_name, project_gid) DO UPDATE SET sync_token = EXCLUDED.sync_token, read_at = EXCLUDED.read_at",
                [scope.sync, scope.project_gid, cursor.token, cursor.read_at],
            )
            session.execute(f"DELETE FROM people_edits WHERE {SCOPED}", [scope.sync, scope.project_gid])
            rows = people_edit_rows(scope, people_edits, utc_now())
            if rows:
                session.executemany("INSERT INTO people_edits VALUES (?, ?, ?, ?, ?, ?)", rows)

    def forget_task(self, scope: SyncScope, primary_key: str) -> None:
        with self._writing(scope) as session:
            session.execute(f"DELETE FROM synced_tasks WHERE {SCOPED} AND primary_key = ?", [scope.sync, scope.project_gid, primary_key])

    def record_run(self, scope: SyncScope, summary: dict[str, Any]) -> None:
        columns = ("run_id", "sync_mode", "started_at", "finished_at", *RUN_COUNTS)
        with self._writing(scope) as session:
            session.execute(
                f"INSERT INTO sync_runs (sync_name, project_gid, {', '.join(columns)}) VALUES (?, ?, {', '.join('?' for _ in columns)})",
                [scope.sync, scope.project_gid, *(summary[name] for name in columns)],
            )
