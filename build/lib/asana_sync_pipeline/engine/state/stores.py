"""Which store holds the state: PostgreSQL when SYNC_STATE_URL is set, else the DuckDB file."""

from __future__ import annotations

from typing import Any

from ..log import Log
from .duckdb_store import DuckDBStateStore
from .postgres_store import PostgresStateStore
from .store import StateStore


def open_state_store(
    *, url: str | None, database: str, connection_config: dict[str, Any] | None = None, log: Log | None = None
) -> StateStore:
    """The PostgreSQL store for `url` (a postgresql:// URL) when given, else the DuckDB file `database`
    (`log` hears when another process holds that file and the store waits for it)."""
    if url and url.strip():
        return PostgresStateStore(url)
    return DuckDBStateStore(database, connection_config, log=log)
