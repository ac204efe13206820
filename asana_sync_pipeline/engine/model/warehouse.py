"""Reading the warehouse model out of DuckDB into pandas.

Text columns that repeat a few values (assignees, tags, custom-field JSON,
section names) arrive as pandas categoricals: DuckDB encodes them itself, in
parallel, the DataFrame is smaller, and the field rules then run once per
distinct value without touching a Python string per row. Mostly distinct text
(names, primary keys) stays `str`. Rows keep the query's order.

Numbers wider than a float stay exact: pandas would turn HUGEINT, UHUGEINT and
DECIMAL columns into float64 (2^53 and 2^53 + 1 become one key; a DECIMAL(38,10)
name becomes 1.2345678901234567e+19), so they arrive as their exact text.
(BIGINT and UBIGINT already arrive as exact 64-bit integers.) A date or time value
Python cannot hold (infinity, the year 10000) arrives as its text, its column's other
values as dates and times: the field rules reject those rows, and only those.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..duckdb_files import is_duckdb_file
from ..errors import SyncConfigError
from .access import check_statements, refusal

MODEL_TABLE = "asana_sync_model"
QUERY_TYPES = (duckdb.StatementType.SELECT, duckdb.StatementType.MULTI)
"""SELECT, and what DuckDB expands into several statements (PIVOT)."""
EXACT_NUMBERS = "exact_numbers"
"""`DataFrame.attrs` key: the columns holding numbers wider than a float, read as their exact text."""
MAX_CATEGORIES = 10_000
"""Text columns with more distinct values than this stay `str`."""
MAX_DISTINCT_SHARE = 0.25
"""...and so do those whose distinct values exceed this share of the rows."""


def one_row(connection: duckdb.DuckDBPyConnection, query: str, parameters: list[Any] | None = None) -> tuple[Any, ...]:
    """The single row an aggregate query returns."""
    row = connection.execute(query, parameters).fetchone()
    assert row is not None, "an aggregate query returns one row"
    return row


def count_rows(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(one_row(connection, f"SELECT count(*) FROM {quote_identifier(table)}")[0])


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def prepare_model_query(connection: duckdb.DuckDBPyConnection, query: str) -> str:
    """Run the statements before the last (`SET VARIABLE`, `CREATE TEMP ...`: `access.check_statements`
    refuses any other kind) and return the last, which must be a query."""
    statements = connection.extract_statements(query)
    if not statements or statements[-1].type not in QUERY_TYPES:
        raise duckdb.InvalidInputException("the model query must end with a SELECT statement that returns one row per task")
    check_statements(statements)
    *setup, model_query = statements
    for statement in setup:
        connection.execute(statement)
    return model_query.query.strip().rstrip(";")


def model_fingerprint(connection: duckdb.DuckDBPyConnection, query: str) -> str:
    """Row count and XOR of row hashes of the model: equal fingerprints, equal rows (to a hash)."""
    with _refusals():
        model_query = prepare_model_query(connection, query)
        count, digest = one_row(connection, f"SELECT count(*), bit_xor(hash(model)) FROM ({model_query}) AS model")
    return f"{count}:{digest or 0}"


@contextmanager
def _refusals() -> Iterator[None]:
    """A DuckDB error that means the query reached beyond the warehouse, said as such (`ModelQueryRefused`)."""
    try:
        yield
    except duckdb.Error as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        raise refused from None


def read_model(connection: duckdb.DuckDBPyConnection, query: str) -> pd.DataFrame:
    """Run `query` once, into a temporary table, and read it with repeated text as categoricals; a
    query that reads a local table as it is (`SELECT * FROM t`) reads the table itself, without the copy.

    Statements before the last (`SET VARIABLE`, `CREATE TEMP ...`) run as they are; the last must be
    a query. On a connection of `access.model_connection`, a query that reaches beyond the warehouse
    raises `ModelQueryRefused`. The reading takes several scans (types, distinct values, the rows),
    all in one transaction: they see the same rows even while another client writes."""
    with _refusals():
        return _read_model(connection, query)


def _read_model(connection: duckdb.DuckDBPyConnection, query: str) -> pd.DataFrame:
    model_query = prepare_model_query(connection, query)
    own_transaction = _begin(connection)
    created: list[tuple[str, str]] = []
    try:
        model = _read(connection, model_query, created)
    except BaseException:
        if own_transaction:
            connection.execute("ROLLBACK")  # takes what it created with it
        else:
            _drop(connection, created)
        raise
    _drop(connection, created)
    if own_transaction:
        connection.execute("COMMIT")
    return model


def _read(connection: duckdb.DuckDBPyConnection, model_query: str, created: list[tuple[str, str]]) -> pd.DataFrame:
    """`read_model`'s scans; `created` collects what it creates, as (TABLE or TYPE, name), to drop after."""
    source = whole_table(connection, model_query)
    if source is None:
        created.append(("TABLE", f"temp.main.{MODEL_TABLE}"))
        connection.execute(f"CREATE OR REPLACE TEMP TABLE {MODEL_TABLE} AS {model_query}")
        source = MODEL_TABLE
    table = connection.sql(f"SELECT * FROM {source}")
    text_columns = [name for name, kind in zip(table.columns, table.types) if kind == "VARCHAR"]
    as_text = [name for name, kind in zip(table.columns, table.types) if _wider_than_float(str(kind))]
    temporal = [name for name, kind in zip(table.columns, table.types) if _temporal(str(kind))]
    beyond = _beyond_calendar_columns(connection, source, temporal)
    replacements = [f"CAST({quote_identifier(name)} AS VARCHAR) AS {quote_identifier(name)}" for name in as_text]
    beyond_text = []
    for name in beyond:
        column = quote_identifier(name)
        replacements.append(f"CASE WHEN {_within_calendar(column)} THEN {column} END AS {column}")
        beyond_text.append(f"CASE WHEN NOT ({_within_calendar(column)}) THEN CAST({column} AS VARCHAR) END")
    for position, name in enumerate(_repeated_text_columns(connection, source, text_columns)):
        type_name = f"asana_sync_values_{position}"
        column = quote_identifier(name)
        created.append(("TYPE", type_name))
        # COLLATE c: every value as it is written, even in a NOCASE column, which would merge 'Ada' and 'ada'
        connection.execute(f"CREATE OR REPLACE TEMP TYPE {type_name} AS ENUM (SELECT DISTINCT {column} COLLATE c FROM {source})")
        replacements.append(f"CAST({column} AS {type_name}) AS {column}")
    select = f"SELECT * REPLACE ({', '.join(replacements)})" if replacements else "SELECT *"
    model = connection.execute(f"{select} FROM {source}").df() if not beyond else _with_beyond_calendar(
        connection.execute(f"{select}, {', '.join(beyond_text)} FROM {source}").df(), beyond
    )
    model.attrs[EXACT_NUMBERS] = [name for name, kind in zip(table.columns, table.types) if _wider_than_float(str(kind))]
    return model


def _begin(connection: duckdb.DuckDBPyConnection) -> bool:
    """Start a transaction; False when the connection is already in one (the caller's, left to it)."""
    try:
        connection.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        return False
    return True


def _drop(connection: duckdb.DuckDBPyConnection, created: list[tuple[str, str]]) -> None:
    for kind, name in reversed(created):
        connection.execute(f"DROP {kind} IF EXISTS {name}")


def whole_table(connection: duckdb.DuckDBPyConnection, query: str) -> str | None:
    """The table `query` reads whole and as it is (`SELECT * FROM [catalog.][schema.]name`), quoted,
    when DuckDB reads it with a plain scan of a table in a DuckDB database (the name may be a view
    that is itself such a scan); None for any other query, or a name that is a file, a DataFrame, a
    remote database's table or a view that computes anything.

    Reading the model takes several scans. Such a table gives the same rows to each of them in one
    transaction, so it is read in place, without first copying every row; anything else (a filter,
    an expression, a join, a view that may call `random()`) runs once, into a temporary table."""
    try:
        shape = _shape(connection, query)
        if shape is None or shape["node"].get("type") != "SELECT_NODE":
            return None
        found = shape["node"].get("from_table") or {}
        if found.get("type") != "BASE_TABLE" or not found.get("table_name"):
            return None
        parts = [found.get("catalog_name") or "", found.get("schema_name") or "", found["table_name"]]
        reference = ".".join(quote_identifier(part) for part in parts if part)
        if _shape(connection, f"SELECT * FROM {reference}") != shape:
            return None
        return reference if _scans_a_local_table(connection, reference) else None
    except (duckdb.Error, ValueError, KeyError, TypeError, IndexError):
        return None


def _scans_a_local_table(connection: duckdb.DuckDBPyConnection, reference: str) -> bool:
    """Whether DuckDB plans `SELECT * FROM reference` as one sequential scan of a table in a local
    DuckDB database (its physical plan, as JSON)."""
    plan = json.loads(one_row(connection, f"EXPLAIN (FORMAT JSON) SELECT * FROM {reference}")[1])
    if len(plan) != 1 or plan[0].get("children") or plan[0].get("name") != "SEQ_SCAN":
        return False
    catalog = str((plan[0].get("extra_info") or {}).get("Table", "")).split(".")[0]
    kind = connection.execute(
        "SELECT type, coalesce(path, '') FROM duckdb_databases() WHERE database_name = ?", [catalog]
    ).fetchall()
    return len(kind) == 1 and kind[0][0] == "duckdb" and not kind[0][1].startswith("md:")


def _shape(connection: duckdb.DuckDBPyConnection, query: str) -> dict[str, Any] | None:
    """The parsed query (DuckDB's `json_serialize_sql`) without where each part stood in the text."""
    tree = json.loads(one_row(connection, "SELECT json_serialize_sql(?)", [query])[0])
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        return None
    return _without_locations(tree["statements"][0])


def _without_locations(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_locations(item) for key, item in value.items() if not key.startswith("query_location")}
    if isinstance(value, list):
        return [_without_locations(item) for item in value]
    return value


def _wider_than_float(kind: str) -> bool:
    return kind in ("HUGEINT", "UHUGEINT") or kind.startswith("DECIMAL")


def _temporal(kind: str) -> bool:
    return kind == "DATE" or kind.startswith("TIMESTAMP")


def _within_calendar(column: str) -> str:
    """SQL: the (quoted) date or time column's value is one Python can hold (NULL for NULL)."""
    return f"(isfinite({column}) AND year({column}) BETWEEN 1 AND 9999)"


def _beyond_calendar_columns(connection: duckdb.DuckDBPyConnection, source: str, names: list[str]) -> list[str]:
    """The date and time columns holding a value Python cannot (infinity, a year past 9999 or before 1).
    Such a value is read as its text, and only it: each rejects its row with a reason instead of failing
    the read, and the column's other values stay dates and times (`_with_beyond_calendar`)."""
    if not names:
        return []
    counts = ", ".join(f"count(*) FILTER (WHERE NOT {_within_calendar(column)})" for column in map(quote_identifier, names))
    found = one_row(connection, f"SELECT {counts} FROM {source}")
    return [name for name, count in zip(names, found) if count]


def _with_beyond_calendar(model: pd.DataFrame, beyond: list[str]) -> pd.DataFrame:
    """The model read with `beyond`'s values past the calendar as NULL, followed by one text column per
    such column holding those values alone: each column of `beyond` becomes Python objects, its dates and
    times as they are and the values past the calendar as their text (the text columns are dropped)."""
    width = model.shape[1] - len(beyond)
    texts = model.iloc[:, width:]
    model = model.iloc[:, :width].copy()
    for position, name in enumerate(beyond):
        text = texts.iloc[:, position]
        model[name] = model[name].astype(object).where(text.isna(), text)
    return model


def _repeated_text_columns(connection: duckdb.DuckDBPyConnection, source: str, names: list[str]) -> list[str]:
    """The text columns worth encoding, judged by an approximate distinct count (one scan)."""
    if not names:
        return []
    estimates = ", ".join(f"approx_count_distinct({quote_identifier(name)})" for name in names)
    rows, *distinct = one_row(connection, f"SELECT count(*), {estimates} FROM {source}")
    limit = min(MAX_CATEGORIES, rows * MAX_DISTINCT_SHARE)
    return [name for name, count in zip(names, distinct) if 0 < count <= limit]


def table_parts(table: str) -> list[str]:
    """A table's name as `[catalog.][schema.]name` (each part possibly in double quotes), in its parts."""
    parts = [part.strip().strip('"') for part in table.split(".")]
    if not table.strip() or len(parts) > 3 or not all(parts):
        raise SyncConfigError(f"{table!r} is not a table name: give it as name, schema.name or catalog.schema.name")
    return parts


def table_query(table: str) -> str:
    """`SELECT *` of a table named `[catalog.][schema.]name`, its parts quoted."""
    return f"SELECT * FROM {'.'.join(quote_identifier(part) for part in table_parts(table))}"


def resolve_table(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    """The quoted reference of `table` in the warehouse `connection` reads; a catalog the connection does
    not hold is dropped (the name the table had where it was built, e.g. dbt's), a missing schema is
    `main`. A table (or view) that does not exist raises `SyncConfigError` listing those that do."""
    parts = table_parts(table)
    catalogs = {row[0].lower() for row in connection.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
    if len(parts) == 3 and parts[0].lower() not in catalogs:
        parts = parts[1:]
    *qualifiers, name = parts
    schema = qualifiers[-1] if qualifiers else "main"
    catalog = qualifiers[0] if len(qualifiers) == 2 else None
    rows = connection.execute(
        "SELECT table_catalog, table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog NOT IN ('system', 'temp') ORDER BY table_schema, table_name"
    ).fetchall()
    for found_catalog, found_schema, found_name in rows:
        if (
            found_name.lower() == name.lower()
            and found_schema.lower() == schema.lower()
            and (catalog is None or found_catalog.lower() == catalog.lower())
        ):
            return ".".join(quote_identifier(part) for part in (found_catalog, found_schema, found_name))
    existing = [f"{found_schema}.{found_name}" for _, found_schema, found_name in rows]
    close = difflib.get_close_matches(f"{schema}.{name}", existing, n=3, cutoff=0.6)
    listed = ", ".join(existing[:30]) + (f", … ({len(existing)} in all)" if len(existing) > 30 else "") if existing else "none"
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise SyncConfigError(f"the table {table} does not exist in the warehouse.{hint} Tables there: {listed}")


def tables_read(query: str) -> list[str]:
    """The tables the last statement of `query` reads, as written (`name`, `schema.name`, ...); none when
    it does not parse. No connection: DuckDB's parser alone."""
    try:
        with duckdb.connect(":memory:") as parser:
            statements = parser.extract_statements(query)
        return sorted(duckdb.get_table_names(statements[-1].query, qualified=True)) if statements else []
    except (duckdb.Error, IndexError):
        return []


WAREHOUSE_HINT = (
    "Set WAREHOUSE_DUCKDB_PATH to your warehouse, or build the sample one with `python -m asana_sync_pipeline.sample.warehouse`."
)


def check_warehouse_file(database: str, hint: str = WAREHOUSE_HINT) -> None:
    """Fail at once, with what to do (`hint`: where the path came from), when the warehouse file
    cannot be a DuckDB database (opening it would otherwise be retried as if another process held its lock)."""
    if database == ":memory:" or database.startswith("md:"):
        return
    path = Path(database)
    if not path.exists():
        raise SyncConfigError(f"Cannot open the warehouse at {path}: the file does not exist. {hint}")
    if path.is_dir():
        raise SyncConfigError(f"Cannot open the warehouse at {path}: it is a folder, not a DuckDB file. {hint}")
    if path.stat().st_size == 0:
        raise SyncConfigError(f"Cannot open the warehouse at {path}: the file is empty. {hint}")
    if not is_duckdb_file(path):
        raise SyncConfigError(f"Cannot open the warehouse at {path}: it is not a DuckDB database file. {hint}")
