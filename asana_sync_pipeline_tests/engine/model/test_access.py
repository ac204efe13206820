"""The model's connection: the warehouse read-only, nothing beyond it, limits that cannot be lifted."""

from __future__ import annotations

import duckdb
import pytest

from asana_sync_pipeline.engine.duckdb_files import FileLockedTooLong
from asana_sync_pipeline.engine.errors import ModelQueryRefused, SyncConfigError
from asana_sync_pipeline.engine.model.access import folders, model_connection
from asana_sync_pipeline.engine.model.warehouse import model_fingerprint, read_model


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE model AS SELECT 'k' || range AS id, 'Task ' || range AS name FROM range(4)")
    return str(path)


def test_the_warehouse_is_read_and_never_written(warehouse):
    with model_connection(warehouse) as connection:
        assert len(read_model(connection, "SELECT * FROM model")) == 4
        with pytest.raises(duckdb.Error, match="read-only"):
            connection.execute("DELETE FROM model")
    with duckdb.connect(warehouse, read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM model").fetchone() == (4,)


@pytest.mark.parametrize(
    "query, said",
    [
        ("SELECT content AS id FROM read_text('/proc/self/environ')", "reached outside the warehouse"),
        ("COPY model TO '/tmp/stolen.csv'; SELECT * FROM model", "COPY writes or reads files"),
        ("ATTACH ':memory:' AS other; SELECT * FROM model", "ATTACH opens another database"),
        ("EXPORT DATABASE '/tmp/exported'; SELECT * FROM model", "EXPORT DATABASE writes files"),
        ("PRAGMA enable_profiling; SELECT * FROM model", "PRAGMA changes the connection"),
        ("SET threads = 1; SELECT * FROM model", "may not change DuckDB's settings"),
        ("SET enable_external_access = true; SELECT * FROM model", "may not change DuckDB's settings"),
        ("SELECT * FROM 'model.parquet'", "reached outside the warehouse"),
    ],
)
def test_reaching_beyond_the_warehouse_is_refused_by_name(warehouse, query, said):
    with model_connection(warehouse) as connection:
        for read in (read_model, model_fingerprint):
            with pytest.raises(ModelQueryRefused, match=said) as refused:
                read(connection, query)
            assert "read_files_in" in str(refused.value)


def test_folders_are_absolute_and_closed_at_their_end(tmp_path):
    assert folders([str(tmp_path / "exports")]) == [f"{tmp_path / 'exports'}/"]
    with pytest.raises(SyncConfigError, match="not an absolute path"):
        folders(["exports"])


def test_a_writer_holding_the_file_is_waited_for_and_named(warehouse, monkeypatch):
    import asana_sync_pipeline.engine.model.access as access

    monkeypatch.setattr(access, "WAIT_SECONDS", 0.3)
    heard: list[str] = []
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({warehouse!r}); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(FileLockedTooLong, match=r"stayed locked by another process \(PID"):
            with model_connection(warehouse, log=heard.append):
                pass
        assert heard and f"PID {holder.pid}" in heard[0]
    finally:
        holder.kill()
        holder.wait()
