"""7. The state: which task each row became and what was written to it, in a DuckDB file by
default or in PostgreSQL (`open_state_store` chooses)."""

from .duckdb_store import DuckDBStateStore
from .postgres_store import PostgresStateStore
from .store import (
    COMPLETED,
    DEFAULT_SYNC,
    REJECTION_COLUMNS,
    REJECTION_FIELDS,
    RELEASED,
    RUN_COUNTS,
    SYNCED_COLUMNS,
    CommentIntent,
    EventCursor,
    Intent,
    Outcome,
    StateStore,
    SyncScope,
    empty_synced,
    utc_now,
)
from .stores import open_state_store

__all__ = [
    "COMPLETED",
    "CommentIntent",
    "EventCursor",
    "DEFAULT_SYNC",
    "RELEASED",
    "REJECTION_COLUMNS",
    "REJECTION_FIELDS",
    "RUN_COUNTS",
    "SYNCED_COLUMNS",
    "DuckDBStateStore",
    "Intent",
    "Outcome",
    "PostgresStateStore",
    "StateStore",
    "SyncScope",
    "empty_synced",
    "open_state_store",
    "utc_now",
]
