"""The PostgreSQL tables of the sync state, declared once: the same tables and columns as the
DuckDB file (see `duckdb_store.SCHEMA`), created when missing and completed in place.

A column or a table added later is one entry in `TABLES`: databases written by an
earlier version gain it on the next open (a column added to a table that may
already hold rows must be nullable or have a default). Changes run in one
transaction under a transaction-level advisory lock, so processes that open a
new database at the same moment do not trip over each other.

Payload hashes are unsigned 64-bit integers: NUMERIC(20) keeps every value up to
2^64 - 1 exactly (BIGINT stops at 2^63 - 1); they travel as text between Python
and the server, never through a float.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def create(self) -> str:
        parts = [f"{name} {kind}" for name, kind in self.columns]
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(parts)})"

    def create_indexes(self) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {self.name}_by_{'_'.join(columns)} ON {self.name} ({', '.join(columns)})"
            for columns in self.indexes
        ]


SCOPE_COLUMNS = (("sync_name", "TEXT NOT NULL"), ("project_gid", "TEXT NOT NULL"))
TABLES = (
    Table(
        "synced_tasks",
        (
            *SCOPE_COLUMNS,
            ("primary_key", "TEXT NOT NULL"),
            ("task_gid", "TEXT NOT NULL"),
            ("payload_hash", "NUMERIC(20, 0) CHECK (payload_hash >= 0)"),
            ("synced_at", "TIMESTAMPTZ NOT NULL"),
            ("run_id", "TEXT"),
            ("removed", "TEXT"),
            ("comment_hash", "NUMERIC(20, 0) CHECK (comment_hash >= 0)"),
        ),
        primary_key=("sync_name", "project_gid", "primary_key"),
    ),
    Table(
        "comment_intents",
        (
            *SCOPE_COLUMNS,
            ("primary_key", "TEXT NOT NULL"),
            ("task_gid", "TEXT NOT NULL"),
            ("text", "TEXT NOT NULL"),
            ("comment_hash", "NUMERIC(20, 0) NOT NULL"),
            ("attempted_at", "TIMESTAMPTZ NOT NULL"),
            ("run_id", "TEXT"),
        ),
        primary_key=("sync_name", "project_gid", "primary_key"),
    ),
    Table(
        "create_intents",
        (
            *SCOPE_COLUMNS,
            ("primary_key", "TEXT NOT NULL"),
            ("payload", "TEXT NOT NULL"),
            ("attempted_at", "TIMESTAMPTZ NOT NULL"),
            ("run_id", "TEXT"),
        ),
        primary_key=("sync_name", "project_gid", "primary_key"),
    ),
    Table(
        "rejections",
        (
            *SCOPE_COLUMNS,
            ("primary_key", "TEXT"),
            ("field", "TEXT NOT NULL"),
            ("reason", "TEXT NOT NULL"),
            ("run_id", "TEXT"),
            ("rejected_at", "TIMESTAMPTZ NOT NULL"),
        ),
        indexes=(("sync_name", "project_gid", "primary_key"),),
    ),
    Table(
        "sync_runs",
        (
            ("run_id", "TEXT NOT NULL"),
            *SCOPE_COLUMNS,
            ("sync_mode", "TEXT NOT NULL"),
            ("started_at", "TIMESTAMPTZ NOT NULL"),
            ("finished_at", "TIMESTAMPTZ NOT NULL"),
            ("created", "BIGINT NOT NULL"),
            ("updated", "BIGINT NOT NULL"),
            ("unchanged", "BIGINT NOT NULL"),
            ("rejected", "BIGINT NOT NULL"),
            ("adopted", "BIGINT NOT NULL"),
            ("recreated", "BIGINT NOT NULL DEFAULT 0"),
            ("completed", "BIGINT NOT NULL DEFAULT 0"),
            ("deleted", "BIGINT NOT NULL DEFAULT 0"),
            ("reopened", "BIGINT NOT NULL DEFAULT 0"),
            ("comments", "BIGINT NOT NULL DEFAULT 0"),
        ),
        indexes=(("sync_name", "project_gid", "started_at"),),
    ),
)
SCHEMA_LOCK_KEY = 0x6173616E615F7363  # "asana_sc": one key for every schema change of this project
"""Key of the transaction-level advisory lock held while tables are created or completed."""


def _existing_columns(connection: psycopg.Connection) -> dict[str, set[str]]:
    rows = connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        [[table.name for table in TABLES]],
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def _complete(existing: dict[str, set[str]]) -> bool:
    return all({name for name, _ in table.columns} <= existing.get(table.name, set()) for table in TABLES)


def ensure_schema(connection: psycopg.Connection, *, create: bool) -> bool:
    """Make every table and column of `TABLES` exist; True when they do.

    With `create=False` (a read), a database holding none of the tables is left
    untouched and False is returned: reading leaves no trace."""
    existing = _existing_columns(connection)
    if _complete(existing):
        return True
    if not existing and not create:
        return False
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK_KEY])
        existing = _existing_columns(connection)
        for table in TABLES:
            if table.name not in existing:
                connection.execute(table.create())
            else:
                for name, kind in table.columns:
                    if name not in existing[table.name]:
                        connection.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")
            for statement in table.create_indexes():
                connection.execute(statement)
    return True
