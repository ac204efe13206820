"""7. The state: which task each row became and what was written to it, in a DuckDB file by
default or in PostgreSQL (`open_state_store` chooses)."""

from .duckdb_store import DuckDBStateStore
from .postgres_store import PostgresStateStore
from .store import (
    COMPLETED,
    DEFAULT_SYNC,
    DELETED_IN_ASANA,
    LIVE,
    MOVED_OUT,
    REJECTION_COLUMNS,
    REJECTION_FIELDS,
    RELEASED,
    REMOVED,
    RUN_COUNTS,
    SYNCED_COLUMNS,
    CommentIntent,
    EventCursor,
    Intent,
    Outcome,
    OutcomeCursor,
    Refresh,
    StateStore,
    SyncScope,
    empty_synced,
    utc_now,
)
from .stores import open_state_store

__all__ = [
    "COMPLETED",
    "DELETED_IN_ASANA",
    "LIVE",
    "MOVED_OUT",
    "REMOVED",
    "OutcomeCursor",
    "Refresh",
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
