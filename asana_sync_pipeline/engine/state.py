"""The sync state in DuckDB: which task each row became, what is in flight, what was rejected.

Tables (all keyed by project GID, so one state file can serve several projects):
- `synced_tasks`: primary key -> task GID and the hash of the payload last synced.
- `create_intents`: a create about to be sent. Written (and committed) before the
  request, removed once its GID is recorded; one left behind marks a create whose
  outcome is unknown (crash, timeout) and is reconciled before creating again.
- `rejections`: rows that could not sync, with field, reason, run and time; a row
  leaves it when it syncs.
- `sync_runs`: one line per run with its counts.

Connections are short-lived and retried while another process holds DuckDB's
write lock, so overlapping processes queue instead of crashing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

SCHEMA = """
CREATE TABLE IF NOT EXISTS synced_tasks (
    project_gid VARCHAR NOT NULL,
    primary_key VARCHAR NOT NULL,
    task_gid VARCHAR NOT NULL,
    payload_hash UBIGINT,
    synced_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (project_gid, primary_key)
);
CREATE TABLE IF NOT EXISTS create_intents (
    project_gid VARCHAR NOT NULL,
    primary_key VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (project_gid, primary_key)
);
CREATE TABLE IF NOT EXISTS rejections (
    project_gid VARCHAR NOT NULL,
    primary_key VARCHAR,
    field VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    run_id VARCHAR,
    rejected_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_runs (
    run_id VARCHAR NOT NULL,
    project_gid VARCHAR NOT NULL,
    sync_mode VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    adopted BIGINT NOT NULL
);
"""

LOCK_WAIT_SECONDS = 120.0
SYNC_LOCK_WAIT_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Intent:
    """A create that was about to be sent: enough to recognise its task later."""

    primary_key: str
    payload: dict[str, Any]
    attempted_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What happened to one row; the store applies many of these in one transaction.

    `task_gid` set: the row now has this task (created, adopted or updated) and
    `payload_hash` is what it holds. `field`/`reason` set: rejected. `clear_intent`:
    the create's outcome is settled, so its intent goes.
    """

    primary_key: str
    task_gid: str | None = None
    payload_hash: int | None = None
    field: str | None = None
    reason: str | None = None
    clear_intent: bool = False


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class StateStore:
    """All reads and writes of the sync state; one short connection per call."""

    def __init__(self, database: str, connection_config: dict[str, Any] | None = None):
        self.database = database
        self.connection_config = dict(connection_config or {})
        self._schema_ready = False

    @property
    def location(self) -> str:
        return self.database

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, waiting (with backoff) while another process holds the lock."""
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                connection = duckdb.connect(self.database, config=self.connection_config)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            if not self._schema_ready:
                connection.execute(SCHEMA)
                self._schema_ready = True
            yield connection
        finally:
            connection.close()

    @contextmanager
    def exclusive(self, log: Callable[[str], None]) -> Iterator[None]:
        """Hold the sync lock: one writer of this state file at a time, across processes."""
        if self.database == ":memory:":
            yield
            return
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.database + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log("Another sync holds this state file; waiting for it to finish")
            lock.acquire(timeout=SYNC_LOCK_WAIT_SECONDS)
        try:
            yield
        finally:
            lock.release()

    def synced(self, project_gid: str) -> pd.DataFrame:
        """Primary key -> task GID and payload hash, for planning; a state file not yet made is
        not created here, so a dry run leaves no trace."""
        if self.database != ":memory:" and not Path(self.database).exists():
            return pd.DataFrame({name: pd.Series(dtype=object) for name in ("primary_key", "task_gid", "payload_hash")})
        with self.connect() as connection:
            return connection.execute(
                "SELECT primary_key, task_gid, payload_hash FROM synced_tasks WHERE project_gid = ?",
                [project_gid],
            ).df()

    def task_gids(self, project_gid: str) -> set[str]:
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT task_gid FROM synced_tasks WHERE project_gid = ?", [project_gid]
            ).fetchall()
        return {row[0] for row in rows}

    def open_intents(self, project_gid: str) -> list[Intent]:
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT primary_key, payload, attempted_at FROM create_intents WHERE project_gid = ? "
                "ORDER BY attempted_at, primary_key",
                [project_gid],
            ).fetchall()
        return [Intent(key, json.loads(payload), attempted_at) for key, payload, attempted_at in rows]

    def record_intents(self, project_gid: str, run_id: str, intents: list[tuple[str, dict[str, Any]]]) -> datetime:
        """Commit the intents of creates about to be sent; returns their timestamp."""
        attempted_at = utc_now()
        if not intents:
            return attempted_at
        frame = pd.DataFrame(
            {
                "project_gid": project_gid,
                "primary_key": [key for key, _ in intents],
                "payload": [json.dumps(payload, sort_keys=True) for _, payload in intents],
                "attempted_at": attempted_at,
                "run_id": run_id,
            }
        )
        with self.connect() as connection:
            connection.register("new_intents", frame)
            connection.execute(
                "INSERT OR REPLACE INTO create_intents "
                "SELECT project_gid, primary_key, payload, attempted_at, run_id FROM new_intents"
            )
        return attempted_at

    def start_run(self, project_gid: str, run_id: str, keys: list[str], rejections: pd.DataFrame) -> None:
        """Replace the rejections of the rows this run plans with the planning's own."""
        frame = rejections.assign(project_gid=project_gid, run_id=run_id, rejected_at=utc_now())
        with self.connect() as connection:
            connection.execute("BEGIN")
            connection.register("planned_keys", pd.DataFrame({"primary_key": pd.Series(keys, dtype=object)}))
            connection.execute(
                "DELETE FROM rejections WHERE project_gid = ? AND "
                "(primary_key IS NULL OR primary_key IN (SELECT primary_key FROM planned_keys))",
                [project_gid],
            )
            if len(frame):
                connection.register("new_rejections", frame)
                connection.execute(
                    "INSERT INTO rejections SELECT project_gid, primary_key, field, reason, run_id, rejected_at "
                    "FROM new_rejections"
                )
            connection.execute("COMMIT")

    def apply(self, project_gid: str, run_id: str, outcomes: list[Outcome]) -> None:
        """Record a batch of outcomes atomically: GIDs, hashes, settled intents, rejections."""
        if not outcomes:
            return
        now = utc_now()
        synced = [outcome for outcome in outcomes if outcome.task_gid is not None]
        rejected = [outcome for outcome in outcomes if outcome.reason is not None]
        settled = [outcome.primary_key for outcome in outcomes if outcome.clear_intent]
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
                        }
                    ),
                )
                connection.execute(
                    "INSERT OR REPLACE INTO synced_tasks "
                    "SELECT ?, primary_key, task_gid, payload_hash, ?, ? FROM synced_batch",
                    [project_gid, now, run_id],
                )
                connection.execute(
                    "DELETE FROM rejections WHERE project_gid = ? AND primary_key IN "
                    "(SELECT primary_key FROM synced_batch)",
                    [project_gid],
                )
            if settled:
                connection.register("settled_batch", pd.DataFrame({"primary_key": settled}))
                connection.execute(
                    "DELETE FROM create_intents WHERE project_gid = ? AND primary_key IN "
                    "(SELECT primary_key FROM settled_batch)",
                    [project_gid],
                )
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
                    "INSERT INTO rejections SELECT ?, primary_key, field, reason, ?, ? FROM rejected_batch",
                    [project_gid, run_id, now],
                )
            connection.execute("COMMIT")

    def forget_task(self, project_gid: str, primary_key: str) -> None:
        """Drop a mapping whose task no longer exists in Asana."""
        with self.connect() as connection:
            connection.execute(
                "DELETE FROM synced_tasks WHERE project_gid = ? AND primary_key = ?", [project_gid, primary_key]
            )

    def rejections(self, project_gid: str) -> pd.DataFrame:
        with self.connect() as connection:
            return connection.execute(
                "SELECT primary_key, field, reason, run_id, rejected_at FROM rejections "
                "WHERE project_gid = ? ORDER BY primary_key, field",
                [project_gid],
            ).df()

    def record_run(self, summary: dict[str, Any]) -> None:
        columns = ("run_id", "project_gid", "sync_mode", "started_at", "finished_at", "created", "updated", "unchanged", "rejected", "adopted")
        with self.connect() as connection:
            connection.execute(
                f"INSERT INTO sync_runs ({', '.join(columns)}) VALUES ({', '.join('$' + name for name in columns)})",
                {name: summary[name] for name in columns},
            )
