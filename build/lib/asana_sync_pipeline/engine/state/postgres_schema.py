"""The state's tables (declared in `tables`) created in PostgreSQL when missing and completed in
place. Changes run in one transaction under a transaction-level advisory lock, so processes
that open a new database at the same moment do not trip over each other.
"""

from __future__ import annotations

import psycopg

from .tables import POSTGRES, TABLES

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
    return all(set(table.column_names) <= existing.get(table.name, set()) for table in TABLES)


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
                connection.execute(table.create(POSTGRES))
            else:
                for name in table.column_names:
                    if name not in existing[table.name]:
                        connection.execute(table.add_column(name, POSTGRES))
            for statement in table.create_indexes():
                connection.execute(statement)
    return True
