"""Schedule, sensor and asset checks: when syncs start, and what stops or flags them."""

import os
import time

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from asana_sync_pipeline.definitions import build_definitions
from asana_sync_pipeline_tests.conftest import failure_text

DEFINITIONS = build_definitions({}, include_defs_folder=False)
asana_sync_schedule = DEFINITIONS.get_repository_def().get_schedule_def("asana_sync_schedule")
warehouse_model_sensor = DEFINITIONS.get_repository_def().get_sensor_def("warehouse_model_sensor")


def test_schedule_is_hourly_off_by_default_and_launches_the_sync_job():
    assert asana_sync_schedule.cron_schedule == "0 * * * *"
    assert asana_sync_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert asana_sync_schedule.job_name == "asana_sync_job"
    [request] = asana_sync_schedule.evaluate_tick(dg.build_schedule_context()).run_requests
    assert isinstance(request, dg.RunRequest)


def _evaluate(warehouse, cursor):
    context = dg.build_sensor_context(cursor=cursor, resources={"warehouse": DuckDBResource(database=str(warehouse))})
    result = warehouse_model_sensor.evaluate_tick(context)
    return result, context.cursor if result.cursor is None else result.cursor


def test_sensor_launches_on_a_model_change_and_not_otherwise(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assert warehouse_model_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    result, cursor = _evaluate(warehouse, None)
    assert result.run_requests == [] and "No warehouse" in result.skip_message
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE asana_task_model AS SELECT 'a' AS id, 'Task' AS name")
    result, cursor = _evaluate(warehouse, cursor)
    assert result.run_requests == [] and "Baseline" in result.skip_message
    result, cursor = _evaluate(warehouse, cursor)
    assert result.run_requests == [] and "has not changed" in result.skip_message

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE unrelated AS SELECT 1 AS x")
    os.utime(warehouse, ns=(time.time_ns(), time.time_ns() + 10**9))
    result, cursor = _evaluate(warehouse, cursor)
    assert result.run_requests == [] and "rows did not" in result.skip_message

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("UPDATE asana_task_model SET name = 'Task, renamed'")
    os.utime(warehouse, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    result, cursor = _evaluate(warehouse, cursor)
    [request] = result.run_requests
    assert request.run_key.startswith("model-")
    again, _ = _evaluate(warehouse, cursor)
    assert again.run_requests == []


def _set_name(warehouse, name: str, bump: int) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("UPDATE asana_task_model SET name = ?", [name])
    os.utime(warehouse, ns=(time.time_ns(), time.time_ns() + bump * 10**9))


def test_a_model_returning_to_an_earlier_state_launches_again(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE asana_task_model AS SELECT 'a' AS id, 'A' AS name")
    _, cursor = _evaluate(warehouse, None)
    keys = []
    for bump, name in enumerate(["B", "A", "B"], start=1):
        _set_name(warehouse, name, bump)
        result, cursor = _evaluate(warehouse, cursor)
        [request] = result.run_requests
        keys.append(request.run_key)
    assert len(set(keys)) == 3, keys


def test_repeated_and_missing_keys_reject_only_their_rows(sandbox):
    sandbox.write_model(
        "SELECT 'a' AS id, 'One' AS name UNION ALL SELECT 'a', 'Two' UNION ALL SELECT NULL, 'Three' "
        "UNION ALL SELECT 'b', 'Four'"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    evaluations = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    key_check = evaluations["primary_key_unique_and_not_null"]
    assert not key_check.passed and key_check.severity == dg.AssetCheckSeverity.WARN
    assert key_check.metadata["duplicated_keys"].value == 1 and key_check.metadata["null_keys"].value == 1
    assert [task["name"] for task in sandbox.tasks()] == ["Four"]
    rejected = {(row["primary_key"] if isinstance(row["primary_key"], str) else None, row["field"]) for row in sandbox.state_rows("rejections")}
    assert rejected == {("a", "id"), (None, "id")}


def test_a_primary_key_that_is_not_a_column_is_a_configuration_error_naming_the_columns(sandbox):
    sandbox.write_model("SELECT 'a' AS account, 'One' AS name")
    result = sandbox.sync()
    assert not result.success
    text = failure_text(result)
    assert "Configuration error: primary_key 'id' is not a column of the model; columns are: account, name" in text
    assert result.get_asset_check_evaluations() == []
    assert sandbox.tasks() == []


def test_checks_pass_on_a_clean_model_and_warn_on_rejections(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name")
    clean = sandbox.sync()
    assert clean.success, failure_text(clean)
    assert all(evaluation.passed for evaluation in clean.get_asset_check_evaluations())

    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name UNION ALL SELECT 'b', NULL UNION ALL SELECT 'c', 'x'")
    flagged = sandbox.sync()
    assert flagged.success
    evaluations = {evaluation.check_name: evaluation for evaluation in flagged.get_asset_check_evaluations()}
    assert not evaluations["names_present_for_new_rows"].passed
    assert evaluations["names_present_for_new_rows"].severity == dg.AssetCheckSeverity.WARN
    rate = evaluations["rejection_rate_below_threshold"]
    assert not rate.passed and rate.metadata["rejection_rate"].value == 0.3333 and rate.metadata["rows"].value == 3
    assert rate.description.startswith("1 of 3 rows (33.3%) were rejected; the limit is 5.0% (max_rejection_rate)")


def test_names_check_counts_only_rows_that_would_create_a_task(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name")
    assert sandbox.sync().success
    sandbox.write_model("SELECT 'a' AS id, NULL::VARCHAR AS name UNION ALL SELECT 'b', '  '")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    evaluations = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert evaluations["names_present_for_new_rows"].metadata["rows_without_name"].value == 1


def test_definitions_load_with_every_piece():
    defs = build_definitions({}, include_defs_folder=False)
    repository = defs.get_repository_def()
    assert {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()} == {"warehouse_model", "asana_task_payloads", "asana_tasks", "asana_task_outcomes", "asana_task_history", "asana_sync_log"}
    assert set(repository.schedule_defs and [s.name for s in repository.schedule_defs]) == {"asana_sync_schedule", "asana_outcomes_schedule"}
    assert {sensor.name for sensor in repository.sensor_defs} == {"warehouse_model_sensor", "asana_sync_alerts"}
    assert {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")} == {"asana_sync_job", "asana_dry_run_job", "asana_connection_test", "asana_outcomes_job"}
