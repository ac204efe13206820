"""What a model query may do: read the warehouse, and nothing else.

A model query is written by whoever can write a YAML sync, set a run's config in the Launchpad or
pass `--query`, and it runs in a process that holds the Asana token, the alert webhook URL and
the state's password. So it runs on a connection that:

- opens the warehouse read-only;
- reaches no file but the warehouse (DuckDB's `enable_external_access = false`): no `read_text`,
  `read_csv`, `glob`, `COPY … TO`, `ATTACH`, `EXPORT`, `INSTALL` or `LOAD`;
- installs and loads no extension by itself;
- cannot lift any of this (`lock_configuration = true`: a `SET` of a setting is refused).

Its text may hold, before the query, `SET VARIABLE` and `CREATE TEMP …` statements (they change
nothing outside the connection); any other statement is refused by its kind before anything runs.

`read_files_in` (per sync, none by default) names folders whose files the query may read, for
teams that keep models in Parquet or CSV: DuckDB's `allowed_directories`. It trusts whoever writes
the sync's queries with every file in those folders; writing there stays refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ..duckdb_files import connect
from ..errors import ModelQueryRefused, SyncConfigError
from ..log import Log

READ_FILES_SETTING = "read_files_in"
WAIT_SECONDS = 120.0
"""How long a model read waits for a process writing the warehouse file."""
LOCKED_DOWN = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
"""Set when the connection opens; external access and the lock follow once it is open (DuckDB
takes `allowed_directories` only then)."""
SETUP_STATEMENTS = (duckdb.StatementType.SET, duckdb.StatementType.CREATE)
"""What may come before the query: a variable (`SET VARIABLE`; settings are locked) or a temporary object."""
REFUSED_KINDS = {
    "COPY": "COPY writes or reads files",
    "ATTACH": "ATTACH opens another database",
    "DETACH": "DETACH changes the databases open",
    "LOAD": "INSTALL and LOAD add extensions",
    "EXPORT": "EXPORT DATABASE writes files",
    "PRAGMA": "PRAGMA changes the connection",
    "CALL": "CALL runs a procedure",
}


def trust_note() -> str:
    return (
        f"A model query reads the warehouse and nothing else. To let this sync's queries read files (Parquet, CSV), "
        f"list their folders in the sync's {READ_FILES_SETTING} (YAML: model: {{query: …, {READ_FILES_SETTING}: [folder]}}; "
        f"the default sync: ASANA_SYNC_READ_FILES_IN): that trusts whoever can write the sync's queries, its run config "
        "included, with every file in them."
    )


def check_statements(statements: Sequence[duckdb.Statement]) -> None:
    """Refuse, by its kind and before anything runs, a statement a model query may not hold."""
    for statement in statements[:-1]:
        if statement.type in SETUP_STATEMENTS:
            continue
        kind = statement.type.name
        why = REFUSED_KINDS.get(kind, f"{kind} is not a query")
        raise ModelQueryRefused(
            f"The model query may not run {statement.query.strip()[:80]!r} ({why}). Before its SELECT it may hold only "
            f"SET VARIABLE and CREATE TEMP statements. {trust_note()}"
        )


def refusal(exc: duckdb.Error) -> ModelQueryRefused | None:
    """The refusal a DuckDB error means when the query reached beyond the warehouse, else None."""
    text = str(exc).split("\nLINE ")[0].strip()
    if isinstance(exc, duckdb.PermissionException) or "disabled by configuration" in text:
        return ModelQueryRefused(f"The model query reached outside the warehouse: {text}. {trust_note()}")
    if "configuration has been locked" in text:
        return ModelQueryRefused(
            f"The model query may not change DuckDB's settings: {text}. Settings are locked so that a query cannot lift "
            f"its limits; SET VARIABLE still works. {trust_note()}"
        )
    return None


def folders(read_files_in: Sequence[str]) -> list[str]:
    """`read_files_in` as DuckDB's `allowed_directories`: absolute, each ending in `/`, so that
    `/data/models` does not also open `/data/models_private`."""
    found = []
    for folder in read_files_in:
        path = Path(folder).expanduser()
        if not path.is_absolute():
            raise SyncConfigError(f"{READ_FILES_SETTING}: {folder!r} is not an absolute path; name each folder in full")
        found.append(str(path.resolve()).rstrip("/") + "/")
    return found


@contextmanager
def model_connection(
    database: str, *, read_files_in: Sequence[str] = (), config: dict[str, Any] | None = None, log: Log | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection on which a model query reads `database` and nothing else (see the module doc),
    but the files of `read_files_in`. Waits, bounded, for a process that is writing the file."""
    allowed = folders(read_files_in)
    settings = {**(config or {}), **LOCKED_DOWN}
    if database != ":memory:":
        settings["access_mode"] = "READ_ONLY"
    connection = connect(database, settings, wait_seconds=WAIT_SECONDS, what="the warehouse", log=log)
    try:
        if allowed:
            connection.execute(f"SET allowed_directories = [{', '.join(_literal(folder) for folder in allowed)}]")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        yield connection
    finally:
        connection.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
