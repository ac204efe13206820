"""The state's tables, declared once for both stores: each column has a kind, and each store
renders the kinds in its own SQL (`DUCKDB`, `POSTGRES`).

A column or a table added later is one entry here: stores written by an earlier
version gain it on the next open (a column added to a table that may already hold
rows must be nullable or have a default).

Hashes are unsigned 64-bit integers: DuckDB has UBIGINT; PostgreSQL's BIGINT stops
at 2^63 - 1, so there they are NUMERIC(20) with a check, exact up to 2^64 - 1, and
travel as text between Python and the server, never through a float.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = {
    # kind: (DuckDB, PostgreSQL)
    "required text": ("VARCHAR NOT NULL", "TEXT NOT NULL"),
    "text": ("VARCHAR", "TEXT"),
    "hash": ("UBIGINT", "NUMERIC(20, 0) CHECK ({column} >= 0)"),
    "required hash": ("UBIGINT NOT NULL", "NUMERIC(20, 0) NOT NULL CHECK ({column} >= 0)"),
    "time": ("TIMESTAMPTZ NOT NULL", "TIMESTAMPTZ NOT NULL"),
    "optional time": ("TIMESTAMPTZ", "TIMESTAMPTZ"),
    "number": ("BIGINT", "BIGINT"),
    "count": ("BIGINT NOT NULL", "BIGINT NOT NULL"),
    "count from 0": ("BIGINT NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0"),
}
DUCKDB, POSTGRES = 0, 1


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    """(column, kind) pairs; kinds are the keys of `KINDS`."""
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    """Created in PostgreSQL only: DuckDB scans its columnar tables fast, and its indexes slow every insert."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def column_sql(self, name: str, dialect: int) -> str:
        kind = dict(self.columns)[name]
        return KINDS[kind][dialect].format(column=name)

    def create(self, dialect: int) -> str:
        parts = [f"{name} {self.column_sql(name, dialect)}" for name in self.column_names]
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(parts)})"

    def add_column(self, name: str, dialect: int) -> str:
        return f"ALTER TABLE {self.name} ADD COLUMN {name} {self.column_sql(name, dialect)}"

    def create_indexes(self) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {self.name}_by_{'_'.join(columns)} ON {self.name} ({', '.join(columns)})"
            for columns in self.indexes
        ]


SCOPE = (("sync_name", "required text"), ("project_gid", "required text"))
SCOPED_KEY = ("sync_name", "project_gid", "primary_key")
SYNC_TABLES = (
    Table(
        "synced_tasks",
        (
            *SCOPE,
            ("primary_key", "required text"),
            ("task_gid", "required text"),
            ("payload_hash", "hash"),
            ("synced_at", "time"),
            ("run_id", "text"),
            ("removed", "text"),
            ("comment_hash", "hash"),
            ("written", "text"),
        ),
        primary_key=SCOPED_KEY,
    ),
    Table(
        "comment_intents",
        (
            *SCOPE,
            ("primary_key", "required text"),
            ("task_gid", "required text"),
            ("text", "required text"),
            ("comment_hash", "required hash"),
            ("attempted_at", "time"),
            ("run_id", "text"),
        ),
        primary_key=SCOPED_KEY,
    ),
    Table(
        "create_intents",
        (
            *SCOPE, ("primary_key", "required text"), ("payload", "required text"), ("attempted_at", "time"), ("run_id", "text"),
            ("job_gid", "text"),
        ),
        primary_key=SCOPED_KEY,
    ),
    Table(
        "rejections",
        (
            *SCOPE,
            ("primary_key", "text"),
            ("field", "required text"),
            ("reason", "required text"),
            ("run_id", "text"),
            ("rejected_at", "time"),
        ),
        indexes=(SCOPED_KEY,),
    ),
    Table(
        "sync_runs",
        (
            ("run_id", "required text"),
            *SCOPE,
            ("sync_mode", "required text"),
            ("started_at", "time"),
            ("finished_at", "time"),
            ("created", "count"),
            ("updated", "count"),
            ("unchanged", "count"),
            ("rejected", "count"),
            ("adopted", "count"),
            ("recreated", "count from 0"),
            ("completed", "count from 0"),
            ("deleted", "count from 0"),
            ("reopened", "count from 0"),
            ("comments", "count from 0"),
            ("released", "count from 0"),
        ),
        indexes=(("sync_name", "project_gid", "started_at"),),
    ),
    Table(
        "event_cursors",
        (*SCOPE, ("sync_token", "required text"), ("read_at", "time")),
        primary_key=("sync_name", "project_gid"),
    ),
    Table(
        "task_links",
        (
            *SCOPE,
            ("primary_key", "required text"),
            ("kind", "required text"),
            ("target", "required text"),
            ("task_gid", "required text"),
            ("link_gid", "text"),
            ("name", "text"),
            ("attempted_at", "optional time"),
            ("run_id", "text"),
        ),
        primary_key=(*SCOPED_KEY, "kind", "target"),
    ),
    Table(
        "people_edits",
        (*SCOPE, ("primary_key", "required text"), ("field", "required text"), ("asana_value", "text"), ("seen_at", "time")),
        primary_key=(*SCOPED_KEY, "field"),
    ),
)
OUTCOME_TABLES = (
    Table(
        "task_snapshots",
        (
            *SCOPE,
            ("task_gid", "required text"),
            ("primary_key", "required text"),
            ("status", "required text"),
            ("task", "text"),
            ("read_at", "optional time"),
            ("first_synced_at", "time"),
            ("last_written_at", "optional time"),
            ("last_run_id", "text"),
        ),
        primary_key=("sync_name", "project_gid", "task_gid"),
    ),
    Table(
        "task_history",
        (
            *SCOPE,
            ("change_id", "required text"),
            ("primary_key", "required text"),
            ("task_gid", "required text"),
            ("field", "required text"),
            ("old_value", "text"),
            ("new_value", "text"),
            ("changed_by", "text"),
            ("changed_at", "time"),
            ("run_id", "text"),
        ),
        primary_key=("sync_name", "project_gid", "change_id"),
    ),
    Table(
        "sync_log",
        (
            *SCOPE,
            ("run_id", "required text"),
            ("run_started_at", "optional time"),
            ("primary_key", "text"),
            ("task_gid", "text"),
            ("action", "required text"),
            ("fields", "text"),
            ("status", "required text"),
            ("error", "text"),
            ("http_status", "number"),
            ("logged_at", "time"),
        ),
        indexes=(("sync_name", "project_gid", "logged_at"),),
    ),
    Table(
        "outcome_cursors",
        (*SCOPE, ("sync_token", "text"), ("read_at", "optional time"), ("layout", "text")),
        primary_key=("sync_name", "project_gid"),
    ),
)
"""What becomes of each task (the outcomes in the warehouse): each task as last read, the changes
of its fields, every action of every run, and where the outcomes' reading of events stands."""
TABLES = SYNC_TABLES + OUTCOME_TABLES
BY_NAME = {table.name: table for table in TABLES}
