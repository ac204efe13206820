"""Schedule, sensor and asset checks: when syncs start, and what stops or flags them."""

import os
import time

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from asana_sync_pipeline.definitions import build_definitions
from asana_sync_pipeline.schedules import asana_sync_schedule
from asana_sync_pipeline.sensors import warehouse_model_sensor
from asana_sync_pipeline_tests.conftest import failure_text


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


def test_duplicate_primary_keys_block_the_sync_before_planning(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'One' AS name UNION ALL SELECT 'a', 'Two' UNION ALL SELECT NULL, 'Three'")
    result = sandbox.sync()
    assert not result.success
    evaluations = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    key_check = evaluations["primary_key_unique_and_not_null"]
    assert not key_check.passed
    assert key_check.metadata["duplicated_keys"].value == 1 and key_check.metadata["null_keys"].value == 1
    assert "asana_task_payloads" not in {event.step_key for event in result.all_events if event.is_step_success}
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
    assert not rate.passed and rate.metadata["rejection_rate"].value == 0.5


def test_definitions_load_with_every_piece():
    defs = build_definitions()
    repository = defs.get_repository_def()
    assert {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()} == {"warehouse_model", "asana_task_payloads", "asana_tasks"}
    assert set(repository.schedule_defs and [s.name for s in repository.schedule_defs]) == {"asana_sync_schedule"}
    assert [sensor.name for sensor in repository.sensor_defs] == ["warehouse_model_sensor"]
    assert {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")} == {"asana_sync_job", "asana_connection_test"}
