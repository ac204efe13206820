"""What the DuckDB state file must be before anything is written to it, and what its failures mean.

The state lives in a file of its own: never the warehouse, never another program's database (a
DuckDB file holding tables the state does not, and no state). A file that already holds the
state's `synced_tasks` is the state, whatever else it holds (a copy of a warehouse that once held
it is how to move such a state out). A file system that cannot be written (a read-only mount,
no permission, a full disk) is said as such, with what to do and what it cost: never as a
damaged file, and never as DuckDB's or the operating system's raw error.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..errors import StateStoreError
from .tables import BY_NAME, DUCKDB, KINDS

OWN_FILE = (
    "Point SYNC_STATE_DUCKDB_PATH at a file of its own (the default is data/sync_state.duckdb; a new file is "
    "created on the first run)."
)
SHOWN_NAMES = 10

READ_ONLY = (errno.EROFS,)
NOT_ALLOWED = (errno.EACCES, errno.EPERM)
FULL = (errno.ENOSPC, errno.EDQUOT)
DUCKDB_REASONS = {
    "read-only file system": READ_ONLY[0],
    "permission denied": NOT_ALLOWED[0],
    "no space left on device": FULL[0],
    "disk quota exceeded": FULL[1],
}
"""How DuckDB's errors spell the operating system's (it quotes `strerror`)."""


def same_file(one: str, other: str) -> bool:
    """Whether two paths name one file (through links too); False when either does not exist."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def refuse_the_warehouse(database: str, warehouse: str | None) -> None:
    """Refuse a state file that is the warehouse, before anything opens it for writing."""
    if warehouse is None or database == ":memory:" or not same_file(database, warehouse):
        return
    raise StateStoreError(
        f"The sync state at {database} is the warehouse: SYNC_STATE_DUCKDB_PATH names the same file as "
        f"WAREHOUSE_DUCKDB_PATH ({warehouse}), and the sync never writes into the warehouse; nothing was written. "
        f"{OWN_FILE} If earlier runs already kept their state there (its tables synced_tasks, create_intents, ...), "
        "copy the file and point SYNC_STATE_DUCKDB_PATH at the copy: the state in it is used as it is."
    )


def check_is_state(connection: duckdb.DuckDBPyConnection, database: str, *, may_lack_sync_name: Iterable[str]) -> None:
    """Refuse, before the state's tables are created or migrated in it, a file that is another
    program's database: a table named like one of the state's in another shape, or tables and
    views the state does not have and no `synced_tasks`. `may_lack_sync_name`: the tables of files
    written before syncs were named, which a migration gives that column."""
    found = connection.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "ORDER BY table_name"
    ).fetchall()
    schema = one_value(connection, "SELECT current_schema()")
    others = sorted(name if table_schema == schema else f"{table_schema}.{name}" for table_schema, name in found
                    if table_schema != schema or name not in BY_NAME)  # fmt: skip
    old = set(may_lack_sync_name)
    for table_schema, name in found:
        if table_schema != schema or name not in BY_NAME:
            continue
        columns = [
            row[0]
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
                "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
        ]
        table = BY_NAME[name]
        required = {column for column, kind in table.columns if _required(kind)} - ({"sync_name"} if name in old else set())
        if not set(columns) <= set(table.column_names) or not required <= set(columns):
            _refuse(database, f"its table {name} is not the sync state's (columns {', '.join(columns)})")
    if others and not any(table_schema == schema and name == "synced_tasks" for table_schema, name in found):
        _refuse(database, f"it holds {_listed(others)}, and no sync state")


def _required(kind: str) -> bool:
    """A column every version of its table had (NOT NULL without a default)."""
    sql = KINDS[kind][DUCKDB]
    return "NOT NULL" in sql and "DEFAULT" not in sql


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def _refuse(database: str, problem: str) -> None:
    raise StateStoreError(
        f"The sync state at {database} is another program's database: {problem}. The sync writes its state only "
        f"into a file of its own, so it left this one as it is; nothing was written. {OWN_FILE}"
    )


def one_value(connection: duckdb.DuckDBPyConnection, query: str) -> str:
    row = connection.execute(query).fetchone()
    assert row is not None, "a scalar query returns one row"
    return str(row[0])


def unwritable(database: str, exc: BaseException, *, opening: bool) -> StateStoreError | None:
    """What a failure to write the state file means, when it is one (a read-only file system, no
    permission, a full disk), said with what to do; None for any other failure. `opening`: it
    happened before anything was written (opening the file, creating it or its lock)."""
    code = _errno(exc)
    if code is None:
        return None
    path = Path(database)
    exists = database != ":memory:" and path.exists()
    where = f"The sync state at {database}" if exists else f"The sync state at {database} cannot be created: its folder"
    if opening:
        cost = "Nothing was written, to the state or to Asana."
    else:
        cost = (
            "The write that failed was undone as a whole and nothing before it was lost: the next run finds what this "
            "one did after it (a create whose task could not be recorded is matched to its row through the intent "
            "recorded before it, never made twice)."
        )
    if code in READ_ONLY:
        return StateStoreError(
            f"{where} is on a read-only file system: a run records there which task each row became, so it cannot "
            f"run. {cost} Mount it read-write, or copy the state to a writable place and point SYNC_STATE_DUCKDB_PATH "
            "at the copy (a file that does not exist yet is created there)."
        )
    if code in NOT_ALLOWED:
        who = f"user {os.getuid()}" if hasattr(os, "getuid") else "this user"
        return StateStoreError(
            f"{where} cannot be written by {who} (permission denied): a run records there which task each row "
            f"became, so it cannot run. {cost} Give this user write access to the file and its folder (DuckDB "
            "writes a .wal file beside it), or point SYNC_STATE_DUCKDB_PATH at a writable place."
        )
    return StateStoreError(
        f"The sync state at {database} could not be written: the disk holding it is full. {cost} Free space on "
        "that disk (or move the state to another one and point SYNC_STATE_DUCKDB_PATH at it), then run again."
    )


def _errno(exc: BaseException) -> int | None:
    """The operating system's error behind `exc`, when it is one that keeps a file from being written."""
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        code = exc.errno
    elif isinstance(exc, duckdb.Error):
        text = str(exc).lower()
        code = next((value for spelled, value in DUCKDB_REASONS.items() if spelled in text), None)
    else:
        return None
    return code if code in (*READ_ONLY, *NOT_ALLOWED, *FULL) else None


@contextmanager
def said_when_unwritable(database: str, *, opening: bool) -> Iterator[None]:
    """Failures to write the state file, raised as `StateStoreError`s that say what happened (`unwritable`)."""
    try:
        yield
    except (OSError, duckdb.Error) as exc:
        explained = unwritable(database, exc, opening=opening)
        if explained is None:
            raise
        raise explained from None
