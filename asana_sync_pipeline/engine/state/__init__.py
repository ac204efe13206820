"""The sync state: one interface (`StateStore`), kept in a DuckDB file by default."""

from .base import (
    COMPLETED,
    DEFAULT_SYNC,
    RUN_COUNTS,
    CommentIntent,
    Intent,
    Outcome,
    StateStore,
    SyncScope,
    empty_synced,
    utc_now,
)
from .duckdb_store import DuckDBStateStore

__all__ = [
    "COMPLETED",
    "CommentIntent",
    "DEFAULT_SYNC",
    "RUN_COUNTS",
    "DuckDBStateStore",
    "Intent",
    "Outcome",
    "StateStore",
    "SyncScope",
    "empty_synced",
    "utc_now",
]
