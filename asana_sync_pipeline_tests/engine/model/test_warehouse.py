"""Reading the model: repeated text arrives as categoricals, everything else as DuckDB's own read,
in the query's order, and the plan is the same whichever way the rows arrived."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from asana_sync_pipeline.engine.model.warehouse import read_model, whole_table
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.settings import SyncSettings

MODEL = """
CREATE TABLE model AS
SELECT
    'acct-' || lpad(i::VARCHAR, 4, '0') AS id,
    'Follow up with account ' || i AS name,
    CASE WHEN i % 9 = 0 THEN NULL WHEN i % 2 = 0 THEN 'it''s due' ELSE '' END AS notes,
    ['ada@acme.example', 'me', 'Grace Hopper'][1 + i % 3] AS assignee,
    CASE WHEN i % 4 = 0 THEN '1200000000000201' END AS tags,
    DATE '2026-01-01' + (i % 30)::INTEGER AS due_on,
    i % 5 = 0 AS completed,
    ['x', 'y'][1 + i % 2] AS "odd ""column"" name"
FROM range(400) t(i)
"""


@pytest.fixture
def warehouse(tmp_path):
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as connection:
        connection.execute(MODEL)
    return path


def read_both(path, query):
    with duckdb.connect(path, read_only=True) as connection:
        return connection.execute(query).df(), read_model(connection, query)


def as_objects(frame):
    return frame.astype(object).where(frame.notna(), None)


def test_repeated_text_is_categorical_and_distinct_text_stays_text(warehouse):
    plain, model = read_both(warehouse, "SELECT * FROM model")
    assert {name for name, dtype in model.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)} == {
        "notes", "assignee", "tags", 'odd "column" name'
    }
    assert model.dtypes["id"] == plain.dtypes["id"] and model.dtypes["name"] == plain.dtypes["name"]
    assert model.dtypes["due_on"] == plain.dtypes["due_on"] and model.dtypes["completed"] is np.dtype(bool)
    pd.testing.assert_frame_equal(as_objects(model), as_objects(plain))


def test_nulls_empty_strings_and_quotes_survive_the_encoding(warehouse):
    _, model = read_both(warehouse, "SELECT notes FROM model ORDER BY id")
    assert model["notes"].iloc[:4].tolist()[1:] == ["", "it's due", ""]
    assert pd.isna(model["notes"].iloc[0])


def test_the_query_runs_once_keeps_its_order_and_leaves_nothing_behind(warehouse):
    query = "SELECT * FROM model ORDER BY id DESC;"
    with duckdb.connect(warehouse, read_only=True) as connection:
        first = read_model(connection, query)
        second = read_model(connection, query)
        temporary = connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary UNION ALL "
            "SELECT count(*) FROM duckdb_types() WHERE type_name LIKE 'asana_sync%'"
        ).fetchall()
    assert first["id"].tolist() == sorted(first["id"], reverse=True)
    pd.testing.assert_frame_equal(first, second)
    assert temporary == [(0,), (0,)]


class Recorded:
    """A connection that remembers the statements it ran."""

    def __init__(self, connection):
        self.connection, self.statements = connection, []

    def execute(self, statement, *args, **kwargs):
        self.statements.append(str(statement))
        return self.connection.execute(statement, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.connection, name)


def test_a_whole_table_is_read_in_place_and_gives_what_the_copy_gives(warehouse):
    with duckdb.connect(warehouse, read_only=True) as connection:
        recorded = Recorded(connection)
        in_place = read_model(recorded, "SELECT * FROM model")
        copied = read_model(connection, "SELECT * FROM model WHERE true")
    assert not any("TEMP TABLE" in statement for statement in recorded.statements)
    pd.testing.assert_frame_equal(in_place, copied)
    assert {name for name, dtype in in_place.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)} == {
        "notes", "assignee", "tags", 'odd "column" name'
    }


def test_only_a_table_read_whole_and_as_it_is_skips_the_copy(warehouse, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with duckdb.connect(warehouse) as connection:
        connection.execute("CREATE SCHEMA other; CREATE TABLE other.copied AS SELECT * FROM model")
        connection.execute("CREATE TABLE asana_sync_model AS SELECT * FROM model LIMIT 3")
        connection.execute("CREATE VIEW moving AS SELECT *, random() AS chance FROM model")
        assert whole_table(connection, "SELECT * FROM model") == '"model"'
        assert whole_table(connection, "from other.copied") == '"other"."copied"'
        for query in (
            "SELECT * FROM moving",  # a view: it may give other rows to each scan
            "SELECT * FROM model WHERE id > 'acct-0100'",
            "SELECT id, name FROM model",
            "SELECT * EXCLUDE (notes) FROM model",
            "SELECT * FROM model AS m",
            "SELECT * FROM model LIMIT 3",
            "SELECT * FROM model, other.copied",
            "SELECT * FROM (SELECT * FROM model)",
            "SELECT * FROM 'model.parquet'",  # a file, no table
            "SELECT 1; SELECT 2",
            "not even SQL",
        ):
            assert whole_table(connection, query) is None, query
        connection.execute("CREATE TABLE other.model AS SELECT * FROM model")
        assert whole_table(connection, "SELECT * FROM model") == '"model"', "the table the name resolves to"
        connection.execute("COPY (SELECT * FROM model) TO 'tasks.csv'")
        connection.execute("""CREATE TABLE other."tasks.csv" AS SELECT 1 AS one""")
        assert whole_table(connection, "SELECT * FROM 'tasks.csv'") is None, "a file, whatever tables share its name"
        shuffled = read_model(connection, "SELECT * FROM moving")
        assert len(shuffled) == 400 and shuffled["chance"].between(0, 1).all()
        assert len(read_model(connection, "SELECT * FROM asana_sync_model")) == 3
        assert connection.execute("SELECT count(*) FROM asana_sync_model").fetchone() == (3,), "the user's table stays"


class Interfering(Recorded):
    """Another client inserts a row with a new assignee just after the first category type is made."""

    def __init__(self, connection, other):
        super().__init__(connection)
        self.other, self.done = other, False

    def execute(self, statement, *args, **kwargs):
        result = super().execute(statement, *args, **kwargs)
        if "TEMP TYPE" in str(statement) and not self.done:
            self.done = True
            self.other.execute("INSERT INTO model (id, name, assignee) VALUES ('late', 'Late', 'a brand new assignee')")
        return result


@pytest.mark.parametrize("query", ["SELECT * FROM model", "SELECT * FROM model WHERE true"])
def test_every_scan_sees_the_same_rows_while_another_client_writes(warehouse, query):
    with duckdb.connect(warehouse) as connection, duckdb.connect(warehouse) as other:
        interfering = Interfering(connection, other)
        model = read_model(interfering, query)
        assert interfering.done and len(model) == 400 and "late" not in set(model["id"])
        assert len(read_model(connection, query)) == 401, "the next read sees the row"


def test_a_column_compared_without_case_keeps_each_value_as_written():
    with duckdb.connect() as connection:
        connection.execute("SET default_collation = 'nocase'")
        connection.execute("CREATE TABLE people (id VARCHAR, who VARCHAR COLLATE NOCASE, team VARCHAR)")
        connection.execute("INSERT INTO people SELECT 'k' || i, ['Ada', 'ada', 'Grace'][1 + i % 3], ['A', 'a'][1 + i % 2] FROM range(30) t(i)")
        model = read_model(connection, "SELECT * FROM people")
    assert model["who"].tolist()[:3] == ["Ada", "ada", "Grace"] and model["team"].tolist()[:2] == ["A", "a"]
    assert isinstance(model.dtypes["who"], pd.CategoricalDtype)


def test_a_failing_query_raises_duckdbs_error_and_a_model_without_text_reads_plainly(warehouse):
    with duckdb.connect(warehouse, read_only=True) as connection:
        with pytest.raises(duckdb.Error, match="no_such_table"):
            read_model(connection, "SELECT * FROM no_such_table")
        with pytest.raises(duckdb.Error, match="boom"):  # fails while its copy is made, in its transaction
            read_model(connection, "SELECT *, CASE WHEN id = 'acct-0399' THEN error('boom') END AS late FROM model")
        left = connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary UNION ALL "
            "SELECT count(*) FROM duckdb_types() WHERE type_name LIKE 'asana_sync%'"
        ).fetchall()
        assert left == [(0,), (0,)]
        numbers = read_model(connection, "SELECT range AS id FROM range(3)")
    assert numbers["id"].tolist() == [0, 1, 2]


def test_the_plan_is_the_same_whichever_way_the_rows_arrived(warehouse):
    plain, model = read_both(warehouse, "SELECT * REPLACE (completed::VARCHAR AS completed) FROM model")
    assert isinstance(model.dtypes["completed"], pd.CategoricalDtype)
    expected, actual = build_plan(plain, SyncSettings()), build_plan(model, SyncSettings())
    pd.testing.assert_frame_equal(actual.table, expected.table)
    pd.testing.assert_frame_equal(actual.rejections, expected.rejections)
    assert actual.counts()["reject"] == 133
    for field, values in expected.values.items():
        assert np.array_equal(pd.isna(actual.values[field]), pd.isna(values)), field
        assert actual.values[field][pd.notna(values)].tolist() == values[pd.notna(values)].tolist(), field


def test_a_categorical_primary_key_is_read_as_its_text():
    model = pd.DataFrame({"id": pd.Categorical(["a", "b", None, "a"]), "name": ["1", "2", "3", "4"]})
    plan = build_plan(model, SyncSettings())
    assert plan.keys() == ["a", "b", None, "a"]
    assert plan.counts() == {"create": 1, "update": 0, "unchanged": 0, "reject": 3}


def test_statements_before_the_query_run_first_and_a_query_must_come_last(warehouse):
    with duckdb.connect(warehouse, read_only=True) as connection:
        model = read_model(connection, "SET VARIABLE cutoff = 3; SELECT id FROM model WHERE due_on < DATE '2026-01-01' + getvariable('cutoff') ORDER BY id -- soon\n")
        assert len(model) == 42
        pivoted = read_model(connection, "PIVOT (SELECT assignee, completed FROM model) ON completed USING count(*)")
        assert sorted(pivoted.columns) == ["assignee", "false", "true"]
        for query in ("", "  ;  ", "SELECT 1; SET VARIABLE x = 1"):
            with pytest.raises(duckdb.Error, match="must end with a SELECT"):
                read_model(connection, query)


def test_the_fingerprint_reads_the_query_as_read_model_does():
    from asana_sync_pipeline.engine.model.warehouse import model_fingerprint

    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT 'a' AS id, 'A' AS name")
    plain = model_fingerprint(connection, "SELECT * FROM t")
    assert model_fingerprint(connection, "SELECT * FROM t;") == plain
    assert model_fingerprint(connection, "SET threads = 1; SELECT * FROM t;") == plain
    connection.execute("UPDATE t SET name = 'B'")
    assert model_fingerprint(connection, "SELECT * FROM t") != plain
