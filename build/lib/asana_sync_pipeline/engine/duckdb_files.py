"""Opening DuckDB files that other processes use too: the warehouse and the sync state.

DuckDB lets one process at a time write a file (and none read it meanwhile): a second opener
gets an IOException naming the holder. `connect` waits for such a holder with backoff, for a
bounded time, saying once whom it waits for; any other failure is the caller's to explain.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import duckdb

from .errors import AsanaSyncError
from .log import Log

DUCKDB_MAGIC = b"DUCK"
FIRST_DELAY = 0.05
"""Seconds before the first retry of a locked file (doubling up to one second)."""
HOLDER = re.compile(r"held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")


class FileLockedTooLong(AsanaSyncError):
    """Another process held a DuckDB file for longer than the caller would wait."""


def is_duckdb_file(path: Path) -> bool:
    """True when `path` starts like a DuckDB database (its magic bytes sit at offset 8)."""
    with path.open("rb") as handle:
        return handle.read(12)[8:12] == DUCKDB_MAGIC


def lock_holder(message: str) -> str:
    """Who holds a DuckDB file, from DuckDB's lock error: `PID 123, /usr/bin/python3`."""
    found = HOLDER.search(message)
    return f"PID {found['pid']}, {found['program']}" if found else "its process is not named"


def is_lock_conflict(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(
    database: str, config: dict[str, Any], *, wait_seconds: float, what: str, log: Log | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to `database`, waiting up to `wait_seconds` while another process holds its lock.

    `what` names the file in messages ("the warehouse", "the sync state"); `log` is told once, at
    the first conflict, whom the wait is for. Raises `FileLockedTooLong` after the wait, and lets
    every other DuckDB error through."""
    deadline = time.monotonic() + wait_seconds
    delay = FIRST_DELAY
    while True:
        try:
            return duckdb.connect(database, config=config)
        except duckdb.Error as exc:
            if not is_lock_conflict(exc):
                raise
            if delay == FIRST_DELAY and log is not None:
                log(f"{what[:1].upper()}{what[1:]} at {database} is open in another process ({lock_holder(str(exc))}); "
                    f"waiting up to {wait_seconds:.0f} s for it to close")  # fmt: skip
            if time.monotonic() > deadline:
                raise FileLockedTooLong(
                    f"{what[:1].upper()}{what[1:]} at {database} stayed locked by another process ({lock_holder(str(exc))}) "
                    f"for {wait_seconds:.0f} s; nothing was lost: run again once that process is done"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
