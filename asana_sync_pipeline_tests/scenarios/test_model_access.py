"""A model query reads the warehouse and nothing else: files, other databases, extensions and
settings are refused in a dry run and in a real run, before anything is written; `read_files_in`
opens named folders for reading, and only for reading."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from asana_sync_pipeline_tests.conftest import TOKEN, failure_text

SEED = "SELECT 'acct-' || range AS id, 'Follow up ' || range AS name FROM range(3)"
SETTING = "read_files_in"


def _refused(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    text = failure_text(result)
    assert SETTING in text, text
    return text


def _everything_stored(sandbox, result: dg.ExecuteInProcessResult) -> str:
    """Every metadata value and log message the run left in the instance."""
    records = sandbox.instance.all_logs(result.run_id)
    return "\n".join(str(record.user_message) + str(record.dagster_event) for record in records)


@pytest.mark.parametrize("dry", [True, False], ids=["dry run", "real run"])
def test_a_query_reading_the_environment_is_refused_and_leaks_nothing(sandbox, monkeypatch, dry):
    webhook, password = "https://hooks.example.com/services/T000/B000/S3CRETWEBHOOK", "pg-S3CRET-password"
    monkeypatch.setenv("ASANA_SYNC_ALERT_WEBHOOK_URL", webhook)
    monkeypatch.setenv("PGPASSWORD", password)
    sandbox.write_model(SEED)
    query = "SELECT 'e' AS id, replace(content, chr(0), ' | ') AS name FROM read_text('/proc/self/environ')"
    result = sandbox.sync(query=query, dry=dry)
    text = _refused(result)
    assert "reached outside the warehouse" in text
    stored = _everything_stored(sandbox, result)
    assert TOKEN not in stored and webhook not in stored and password not in stored
    assert sandbox.tasks() == []


@pytest.mark.parametrize("dry", [True, False], ids=["dry run", "real run"])
def test_a_warehouse_view_that_reads_a_file_is_refused_as_its_query_would_be(sandbox, dry):
    sandbox.write_model(SEED)
    with duckdb.connect(str(sandbox.warehouse)) as connection:
        connection.execute("CREATE VIEW leaky AS SELECT 'e' AS id, content AS name FROM read_text('/proc/self/environ')")
    result = sandbox.sync(query="SELECT * FROM leaky", dry=dry)
    assert "reached outside the warehouse" in _refused(result)
    assert TOKEN not in _everything_stored(sandbox, result)
    assert sandbox.tasks() == []


def test_copy_over_the_state_is_refused_and_the_state_survives(sandbox):
    sandbox.write_model(SEED)
    assert sandbox.sync().success
    before = sandbox.state_rows("synced_tasks")
    attack = f"COPY (SELECT 'garbage' AS x) TO '{sandbox.state}' (FORMAT csv); SELECT * FROM asana_task_model"
    for dry in (True, False):
        text = _refused(sandbox.sync(query=attack, dry=dry))
        assert "COPY" in text
    assert sandbox.state_rows("synced_tasks") == before
    again = sandbox.sync()
    assert again.success, failure_text(again)
    assert len(sandbox.tasks()) == 3


def test_attaching_the_state_read_write_is_refused(sandbox):
    sandbox.write_model(SEED)
    assert sandbox.sync().success
    attack = f"ATTACH '{sandbox.state}' AS s (READ_WRITE); DELETE FROM s.synced_tasks; SELECT * FROM asana_task_model"
    for dry in (True, False):
        text = _refused(sandbox.sync(query=attack, dry=dry))
        assert "ATTACH" in text
    assert len(sandbox.state_rows("synced_tasks")) == 3


@pytest.mark.parametrize(
    "attack, said",
    [
        ("INSTALL httpfs FROM community; SELECT * FROM asana_task_model", "INSTALL and LOAD"),
        ("LOAD httpfs; SELECT * FROM asana_task_model", "INSTALL and LOAD"),
        ("SET enable_external_access = true; SELECT * FROM asana_task_model", "may not change DuckDB's settings"),
        ("SELECT * FROM read_csv('/etc/passwd')", "reached outside the warehouse"),
        ("SELECT file AS id, file AS name FROM glob('/etc/*')", "reached outside the warehouse"),
    ],
)
def test_extensions_settings_and_file_functions_are_refused(sandbox, attack, said):
    sandbox.write_model(SEED)
    text = _refused(sandbox.sync(query=attack, dry=True))
    assert said in text


def test_variables_and_temporary_objects_still_work(sandbox):
    sandbox.write_model(SEED)
    query = (
        "SET VARIABLE prefix = 'Call '; CREATE TEMP MACRO title(n) AS getvariable('prefix') || n; "
        "SELECT id, title(name) AS name FROM asana_task_model"
    )
    result = sandbox.sync(query=query)
    assert result.success, failure_text(result)
    assert sorted(sandbox.tasks_by_name()) == ["Call Follow up 0", "Call Follow up 1", "Call Follow up 2"]


def test_read_files_in_opens_a_folder_for_reading_only(sandbox, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    with duckdb.connect() as connection:
        connection.execute(f"COPY ({SEED}) TO '{exports / 'model.parquet'}' (FORMAT parquet)")
    sandbox.write_model(SEED)
    refused = _refused(sandbox.sync(query=f"SELECT * FROM read_parquet('{exports / 'model.parquet'}')", dry=True))
    assert "reached outside the warehouse" in refused

    monkeypatch.setenv("ASANA_SYNC_READ_FILES_IN", str(exports))
    result = sandbox.sync(query=f"SELECT * FROM read_parquet('{exports}/*.parquet')")
    assert result.success, failure_text(result)
    assert len(sandbox.tasks()) == 3
    # Still nothing outside the folder, and no writing inside it.
    assert "reached outside" in _refused(sandbox.sync(query="SELECT content AS id, 'x' AS name FROM read_text('/etc/hostname')"))
    writing = f"COPY (SELECT 1 AS x) TO '{exports / 'dropped.csv'}'; SELECT * FROM asana_task_model"
    assert "COPY" in _refused(sandbox.sync(query=writing, dry=True))
    assert not (exports / "dropped.csv").exists()
    # A sibling folder that shares the name's beginning stays closed.
    sibling = tmp_path / "exports_private"
    sibling.mkdir()
    with duckdb.connect() as connection:
        connection.execute(f"COPY ({SEED}) TO '{sibling / 'model.parquet'}' (FORMAT parquet)")
    assert "reached outside" in _refused(sandbox.sync(query=f"SELECT * FROM read_parquet('{sibling / 'model.parquet'}')", dry=True))


def test_the_model_sensor_reads_through_the_same_limits(sandbox):
    from asana_sync_pipeline.definitions import build_definitions
    from asana_sync_pipeline.lib.sensors import build_sensor
    from asana_sync_pipeline.lib.sync_spec import SyncSpec

    sandbox.write_model(SEED)
    defs = build_definitions(include_defs_folder=False)
    resources = {"warehouse": defs.resources["warehouse"]}
    prying = SyncSpec(name="probe", model_query="SELECT content AS id FROM read_text('/proc/self/environ')", sensor=True)
    sensor = build_sensor(prying, defs.resolve_job_def("asana_sync_job"))
    with dg.build_sensor_context(resources=resources) as context:
        skipped = sensor(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "refused" in skipped.skip_message and SETTING in skipped.skip_message
    with dg.build_sensor_context(resources=resources) as context:
        baseline = defs.resolve_sensor_def("warehouse_model_sensor")(context)
    assert isinstance(baseline, dg.SkipReason) and "Baseline recorded" in baseline.skip_message


def test_a_yaml_sync_names_its_folders_in_its_model(sandbox, tmp_path, monkeypatch):
    from asana_sync_pipeline_tests.components.asana_sync.test_component import load, project_with, run

    exports = tmp_path / "exports"
    exports.mkdir()
    with duckdb.connect() as connection:
        connection.execute(f"COPY ({SEED}) TO '{exports / 'launches.parquet'}' (FORMAT parquet)")
    sandbox.write_model(SEED)
    yaml = (
        "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: launches\n"
        f"  model:\n    query: SELECT * FROM read_parquet('{exports}/launches.parquet')\n    read_files_in: ['{exports}']\n"
        f"  project_gid: '{sandbox.project_gid}'\n"
    )
    result = run(load(project_with(tmp_path, {"launches": yaml}, monkeypatch)), "launches_asana_sync_job")
    assert result.success, failure_text(result)
    assert len(sandbox.tasks()) == 3

    with_asset = yaml.replace(f"    query: SELECT * FROM read_parquet('{exports}/launches.parquet')\n", "    asset: marts/launches\n")
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path / "second", {"launches": with_asset}, monkeypatch))
    assert "read_files_in applies to a model query" in str(raised.value) + str(raised.value.__cause__)
