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
    COMPLETED,
    LIVE,
    REJECTION_COLUMNS,
    RELEASED,
    REMOVED,
    RUN_COUNTS,
    SYNCED_COLUMNS,
    CommentIntent,
    EventCursor,
    Intent,
    Outcome,
    OutcomeBatch,
    OutcomeCursor,
    Refresh,
    StateStore,
    SyncScope,
    TaskLink,
    people_edit_rows,
    people_edits_from,
    utc_now,
)
from .tables import BY_NAME

SCOPED = "sync_name = ? AND project_gid = ?"
TIMESTAMP_COLUMNS = ("synced_at", "attempted_at", "rejected_at", "started_at", "finished_at")
RUN_COLUMNS = BY_NAME["sync_runs"].column_names
KEYED_TABLES = (
    "synced_tasks", "create_intents", "comment_intents", "rejections", "people_edits", "task_snapshots", "task_history",
    "sync_log", "task_links",
)  # fmt: skip
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


def _status(outcome: Outcome) -> str:
    """A task's status (`sync_status` of the outcomes) after an outcome that gives it to a row."""
    if outcome.task_status:
        return outcome.task_status
    if outcome.removed == COMPLETED:
        return REMOVED
    return RELEASED if outcome.removed == RELEASED else LIVE


def _log_line(outcome: Outcome) -> tuple[Any, ...]:
    status = "ok" if outcome.reason is None else ("failed" if outcome.failed else "rejected")
    error = None if outcome.reason is None else (f"{outcome.field}: {outcome.reason}" if outcome.field else outcome.reason)
    fields = json.dumps(outcome.changes, sort_keys=True, ensure_ascii=False, default=str) if outcome.changes else None
    return (outcome.primary_key, outcome.task_gid or outcome.about, outcome.action, fields, status, error, outcome.http_status)


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

    def project_task_gids(self, scope: SyncScope) -> set[str]:
        rows = self._rows(scope, "SELECT task_gid FROM synced_tasks WHERE sync_name <> ? AND project_gid = ?")
        return {row[0] for row in rows}

    def last_finished_at(self, scope: SyncScope) -> datetime | None:
        rows = self._rows(scope, f"SELECT max(finished_at) FROM sync_runs WHERE {SCOPED}")
        return rows[0][0].astimezone(UTC) if rows and rows[0][0] is not None else None

    def open_intents(self, scope: SyncScope) -> list[Intent]:
        rows = self._rows(
            scope,
            f"SELECT primary_key, payload, attempted_at, job_gid FROM create_intents WHERE {SCOPED} "
            'ORDER BY attempted_at, primary_key COLLATE "C"',
        )
        return [Intent(key, json.loads(payload), attempted_at.astimezone(UTC), job) for key, payload, attempted_at, job in rows]

    def links(self, scope: SyncScope) -> list[TaskLink]:
        rows = self._rows(
            scope,
            f"SELECT primary_key, kind, target, task_gid, link_gid, name, attempted_at FROM task_links WHERE {SCOPED} "
            'ORDER BY primary_key COLLATE "C", kind, target COLLATE "C"',
        )
        return [
            TaskLink(key, kind, target, task, link, name, None if at is None else at.astimezone(UTC))
            for key, kind, target, task, link, name, at in rows
        ]

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
                "payload = EXCLUDED.payload, attempted_at = EXCLUDED.attempted_at, run_id = EXCLUDED.run_id, job_gid = NULL",
                [scope.sync, scope.project_gid, attempted_at, run_id, *params],
            )
        return attempted_at

    def note_job(self, scope: SyncScope, primary_key: str, job_gid: str) -> None:
        with self._writing(scope) as session:
            session.execute(
                f"UPDATE create_intents SET job_gid = ? WHERE {SCOPED} AND primary_key = ?",
                [job_gid, scope.sync, scope.project_gid, primary_key],
            )

    def record_links(self, scope: SyncScope, run_id: str, kept: list[TaskLink], dropped: list[tuple[str, str, str]]) -> None:
        if not kept and not dropped:
            return
        with self._writing(scope) as session:
            if dropped:
                table, params = session.batch(
                    "dropped_links",
                    {name: ("text", [ident[at] for ident in dropped]) for at, name in enumerate(("primary_key", "kind", "target"))},
                )
                session.execute(
                    f"DELETE FROM task_links WHERE {SCOPED} AND EXISTS (SELECT 1 FROM {table} WHERE "
                    "dropped_links.primary_key = task_links.primary_key AND dropped_links.kind = task_links.kind "
                    "AND dropped_links.target = task_links.target)",
                    [scope.sync, scope.project_gid, *params],
                )
            if kept:
                latest = list({link.ident: link for link in kept}.values())
                table, params = session.batch(
                    "kept_links",
                    {
                        "primary_key": ("text", [link.primary_key for link in latest]),
                        "kind": ("text", [link.kind for link in latest]),
                        "target": ("text", [link.target for link in latest]),
                        "task_gid": ("text", [link.task_gid for link in latest]),
                        "link_gid": ("text", [link.link_gid for link in latest]),
                        "name": ("text", [link.name for link in latest]),
                        "attempted_at": ("time", [link.attempted_at for link in latest]),
                    },
                )
                session.execute(
                    "INSERT INTO task_links (sync_name, project_gid, primary_key, kind, target, task_gid, link_gid, name, "
                    "attempted_at, run_id) SELECT ?, ?, kept_links.primary_key, kept_links.kind, kept_links.target, "
                    "kept_links.task_gid, kept_links.link_gid, kept_links.name, kept_links.attempted_at, ? "
                    f"FROM {table} ON CONFLICT (sync_name, project_gid, primary_key, kind, target) DO UPDATE SET "
                    "task_gid = EXCLUDED.task_gid, link_gid = EXCLUDED.link_gid, name = EXCLUDED.name, "
                    "attempted_at = EXCLUDED.attempted_at, run_id = EXCLUDED.run_id",
                    [scope.sync, scope.project_gid, run_id, *params],
                )

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

    def start_run(
        self, scope: SyncScope, run_id: str, keys: list[str], rejections: pd.DataFrame, *, run_started_at: datetime | None = None
    ) -> None:
        with self._writing(scope) as session:
            planned, params = session.batch("planned_keys", {"primary_key": ("text", [str(key) for key in keys])})
            session.execute(
                f"DELETE FROM rejections WHERE {SCOPED} AND "
                f"(primary_key IS NULL OR primary_key IN (SELECT primary_key FROM {planned}))",
                [scope.sync, scope.project_gid, *params],
            )
            if len(rejections):
                now = utc_now()
                keys_, fields_, reasons = (rejections[name].tolist() for name in ("primary_key", "field", "reason"))
                self._insert_rejections(session, scope, run_id, now, keys_, fields_, reasons)
                self._log(
                    session, scope, run_id, run_started_at, now,
                    [(key, None, "reject", None, "rejected", f"{field}: {reason}" if field else reason, None)
                     for key, field, reason in zip(_texts(keys_), _texts(fields_), _texts(reasons))],
                )  # fmt: skip

    def apply(self, scope: SyncScope, run_id: str, outcomes: list[Outcome], *, run_started_at: datetime | None = None) -> None:
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
            self._track_tasks(session, scope, run_id, now, outcomes)
            self._log(session, scope, run_id, run_started_at, now, [_log_line(outcome) for outcome in outcomes if outcome.action])

    def _track_tasks(self, session: Session, scope: SyncScope, run_id: str, now: datetime, outcomes: list[Outcome]) -> None:
        """What became of each task the outcomes name (`task_snapshots`): a task given to a row, with its
        status, when first synced and last written; a task gone from the state keeps its row, with its fate."""
        given = {outcome.task_gid: outcome for outcome in outcomes if outcome.task_gid is not None}
        if given:
            table, params = session.batch(
                "given",
                {
                    "task_gid": ("text", list(given)),
                    "primary_key": ("text", [outcome.primary_key for outcome in given.values()]),
                    "status": ("text", [_status(outcome) for outcome in given.values()]),
                    "written_at": ("time", [now if outcome.wrote else None for outcome in given.values()]),
                },
            )
            session.execute(
                "INSERT INTO task_snapshots (sync_name, project_gid, task_gid, primary_key, status, first_synced_at, "
                "last_written_at, last_run_id) SELECT ?, ?, given.task_gid, given.primary_key, given.status, ?, given.written_at, "
                f"CASE WHEN given.written_at IS NULL THEN NULL ELSE ? END FROM {table} "
                "ON CONFLICT (sync_name, project_gid, task_gid) DO UPDATE SET primary_key = EXCLUDED.primary_key, "
                "status = EXCLUDED.status, last_written_at = COALESCE(EXCLUDED.last_written_at, task_snapshots.last_written_at), "
                "last_run_id = COALESCE(EXCLUDED.last_run_id, task_snapshots.last_run_id)",
                [scope.sync, scope.project_gid, now, run_id, *params],
            )
        gone = {outcome.primary_key: outcome.task_status or REMOVED for outcome in outcomes if outcome.forget}
        if gone:
            table, params = session.batch("gone", {"primary_key": ("text", list(gone)), "status": ("text", list(gone.values()))})
            session.execute(
                f"UPDATE task_snapshots SET status = gone.status FROM {table} WHERE task_snapshots.sync_name = ? "
                "AND task_snapshots.project_gid = ? AND task_snapshots.primary_key = gone.primary_key "
                f"AND task_snapshots.status = '{LIVE}'",
                [*params, scope.sync, scope.project_gid],
            )

    @staticmethod
    def _log(
        session: Session, scope: SyncScope, run_id: str, run_started_at: datetime | None, now: datetime,
        lines: list[tuple[Any, ...]],
    ) -> None:  # fmt: skip
        """Lines of the sync log: (primary key, task GID, action, fields JSON, status, error, HTTP status)."""
        if not lines:
            return
        columns = list(zip(*lines))
        table, params = session.batch(
            "log_lines",
            {
                "primary_key": ("text", list(columns[0])),
                "task_gid": ("text", list(columns[1])),
                "action": ("text", list(columns[2])),
                "fields": ("text", list(columns[3])),
                "status": ("text", list(columns[4])),
                "error": ("text", list(columns[5])),
                "http_status": ("text", [None if value is None else str(value) for value in columns[6]]),
            },
        )
        session.execute(
            "INSERT INTO sync_log (sync_name, project_gid, run_id, run_started_at, primary_key, task_gid, action, fields, "
            "status, error, http_status, logged_at) SELECT ?, ?, ?, ?, log_lines.primary_key, log_lines.task_gid, log_lines.action, "
            f"log_lines.fields, log_lines.status, log_lines.error, CAST(log_lines.http_status AS BIGINT), ? FROM {table}",
            [scope.sync, scope.project_gid, run_id, run_started_at or now, now, *params],
        )

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

    # ---- what became of each task (the outcomes) ----------------------------------

    def snapshots(self, scope: SyncScope) -> pd.DataFrame:
        columns = ("task_gid", "primary_key", "status", "task", "read_at", "first_synced_at", "last_written_at", "last_run_id")
        frame = pd.DataFrame(
            self._rows(scope, f"SELECT {', '.join(columns)} FROM task_snapshots WHERE {SCOPED} ORDER BY first_synced_at, task_gid"),
            columns=list(columns), dtype=object,
        )  # fmt: skip
        for name in ("read_at", "first_synced_at", "last_written_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame

    def save_refresh(self, scope: SyncScope, refresh: Refresh) -> None:
        where = [scope.sync, scope.project_gid]
        with self._writing(scope) as session:
            if refresh.tasks:
                table, params = session.batch(
                    "read_tasks",
                    {
                        "task_gid": ("text", list(refresh.tasks)),
                        "task": ("text", [dumps(task, sort_keys=True) for task in refresh.tasks.values()]),
                    },
                )
                session.execute(
                    f"UPDATE task_snapshots SET task = read_tasks.task, read_at = ? FROM {table} WHERE "
                    "task_snapshots.sync_name = ? AND task_snapshots.project_gid = ? AND task_snapshots.task_gid = read_tasks.task_gid",
                    [refresh.read_at, *params, *where],
                )
            if refresh.statuses:
                table, params = session.batch(
                    "fates", {"task_gid": ("text", list(refresh.statuses)), "status": ("text", list(refresh.statuses.values()))}
                )
                session.execute(
                    f"UPDATE task_snapshots SET status = fates.status FROM {table} WHERE task_snapshots.sync_name = ? "
                    "AND task_snapshots.project_gid = ? AND task_snapshots.task_gid = fates.task_gid",
                    [*params, *where],
                )
            if refresh.history:
                names = ("change_id", "primary_key", "task_gid", "field", "old_value", "new_value", "changed_by", "run_id")
                table, params = session.batch(
                    "changes",
                    {
                        **{name: ("text", [row.get(name) for row in refresh.history]) for name in names},
                        "changed_at": ("time", [row["changed_at"] for row in refresh.history]),
                    },
                )
                session.execute(
                    f"INSERT INTO task_history (sync_name, project_gid, {', '.join(names)}, changed_at) "
                    f"SELECT ?, ?, {', '.join(f'changes.{name}' for name in names)}, changes.changed_at FROM {table} "
                    "ON CONFLICT (sync_name, project_gid, change_id) DO NOTHING",
                    [*where, *params],
                )
            if refresh.cursor is not None:
                session.execute(
                    "INSERT INTO outcome_cursors (sync_name, project_gid, sync_token, read_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (sync_name, project_gid) DO UPDATE SET sync_token = EXCLUDED.sync_token, read_at = EXCLUDED.read_at",
                    [*where, refresh.cursor.token, refresh.cursor.read_at],
                )

    def outcome_cursor(self, scope: SyncScope) -> OutcomeCursor:
        rows = self._rows(scope, f"SELECT sync_token, read_at, layout FROM outcome_cursors WHERE {SCOPED}")
        if not rows:
            return OutcomeCursor(None, None, None)
        token, read_at, layout = rows[0]
        return OutcomeCursor(token, read_at.astimezone(UTC) if read_at else None, json.loads(layout) if layout else None)

    def save_outcome_layout(self, scope: SyncScope, layout: dict[str, Any]) -> None:
        with self._writing(scope) as session:
            session.execute(
                "INSERT INTO outcome_cursors (sync_name, project_gid, layout) VALUES (?, ?, ?) "
                "ON CONFLICT (sync_name, project_gid) DO UPDATE SET layout = EXCLUDED.layout",
                [scope.sync, scope.project_gid, json.dumps(layout, sort_keys=True, ensure_ascii=False)],
            )

    def history(self, scope: SyncScope) -> pd.DataFrame:
        columns = ("primary_key", "task_gid", "field", "old_value", "new_value", "changed_by", "changed_at", "run_id")
        frame = pd.DataFrame(
            self._rows(scope, f"SELECT {', '.join(columns)} FROM task_history WHERE {SCOPED} ORDER BY changed_at, change_id"),
            columns=list(columns), dtype=object,
        )  # fmt: skip
        frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True)
        return frame

    def sync_log(self, scope: SyncScope, since: datetime) -> pd.DataFrame:
        columns = ("run_id", "run_started_at", "primary_key", "task_gid", "action", "fields", "status", "error", "http_status", "logged_at")
        with self._reading(scope) as reading:
            held = reading is not None
        rows: list[tuple[Any, ...]] = []
        if held:
            with self._writing(scope) as session:
                session.execute(f"DELETE FROM sync_log WHERE {SCOPED} AND logged_at < ?", [scope.sync, scope.project_gid, since])
                rows = session.rows(
                    f"SELECT {', '.join(columns)} FROM sync_log WHERE {SCOPED} ORDER BY logged_at, run_id",
                    [scope.sync, scope.project_gid],
                )
        frame = pd.DataFrame(rows, columns=list(columns), dtype=object).rename(columns={"logged_at": "at"})
        for name in ("run_started_at", "at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        frame["http_status"] = frame["http_status"].astype("Int64")
        return frame
