"""The mistakes people make when they paste values and point the sync at things, end to end:
each is cleaned or fails fast with a message saying what is wrong and what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import dagster as dg
import duckdb
import pytest

from asana_sync_pipeline_tests.conftest import TOKEN, failure_text, materialization

MODEL = "SELECT 'a' AS id, 'Task A' AS name UNION ALL SELECT 'b', 'Task B'"
OTHER_PROJECT = "1200000000000110"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("pasted", [f"{TOKEN}\n", f"  {TOKEN}  ", f"Bearer {TOKEN}", f"bearer {TOKEN}\r\n"])
def test_a_token_pasted_with_whitespace_or_bearer_is_cleaned(sandbox, monkeypatch, pasted):
    sandbox.write_model(MODEL)
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", pasted)
    started = time.monotonic()
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert len(sandbox.tasks()) == 2 and time.monotonic() - started < 15


@pytest.mark.parametrize(("pasted", "problem"), [("   ", "is empty"), (f"{TOKEN[:10]} {TOKEN[10:]}", "contains a space")])
def test_a_token_that_cannot_work_is_refused_at_once_without_its_value(sandbox, monkeypatch, pasted, problem):
    sandbox.write_model(MODEL)
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", pasted)
    result = sandbox.sync()
    assert not result.success
    text = failure_text(result)
    assert f"ASANA_ACCESS_TOKEN {problem}" in text
    assert TOKEN[:10] not in text and TOKEN[10:] not in text
    assert sandbox.stats()["requests"] == 0
    assert sandbox.tasks() == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("{root}", "does not end with /api/1.0"),
        ("{hostport}/api/1.0", "must start with https://"),
    ],
)
def test_a_base_url_missing_its_path_or_scheme_is_explained(sandbox, monkeypatch, url, message):
    sandbox.write_model(MODEL)
    root = sandbox.server.base_url.removesuffix("/api/1.0")
    bad = url.format(root=root, hostport=root.removeprefix("http://"))
    monkeypatch.setenv("ASANA_BASE_URL", bad)
    result = sandbox.sync()
    assert not result.success
    assert message in failure_text(result) and bad in failure_text(result)
    assert sandbox.tasks() == []


def test_a_closed_port_fails_in_seconds_naming_the_url(sandbox, monkeypatch):
    sandbox.write_model(MODEL)
    url = f"http://127.0.0.1:{free_port()}/api/1.0"
    monkeypatch.setenv("ASANA_BASE_URL", url)
    started = time.monotonic()
    result = sandbox.sync()
    assert not result.success
    assert f"Cannot reach Asana at {url}" in failure_text(result)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("override", [{"max_concurrent_writes": 0}, {"requests_per_minute": 0}])
def test_a_pace_of_zero_is_a_configuration_error_not_a_hang(sandbox, override):
    sandbox.write_model(MODEL)
    resources = {"asana": {"config": {"access_token": TOKEN, "project_gid": sandbox.project_gid,
                                      "base_url": sandbox.server.base_url, **override}}}
    started = time.monotonic()
    result = sandbox.sync(resources=resources)
    assert not result.success
    assert f"{next(iter(override))} must be a positive whole number" in failure_text(result)
    assert time.monotonic() - started < 10
    assert sandbox.tasks() == []


def _cli(sandbox, extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **sandbox.environment(**extra_env)}
    return subprocess.run([sys.executable, "-m", "asana_sync_pipeline", "--sync", "default", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ASANA_MAX_CONCURRENT_WRITES", "0", "ASANA_MAX_CONCURRENT_WRITES must be a positive whole number (1 or more), got 0"),
        ("ASANA_MAX_CONCURRENT_WRITES", "fifteen", "ASANA_MAX_CONCURRENT_WRITES must be a positive whole number, got 'fifteen'"),
        ("ASANA_REQUESTS_PER_MINUTE", "1.5", "ASANA_REQUESTS_PER_MINUTE must be a positive whole number, got '1.5'"),
    ],
)
def test_pace_variables_that_are_not_positive_whole_numbers_are_configuration_errors(variable, value, message):
    from asana_sync_pipeline.definitions import build_definitions
    from asana_sync_pipeline.engine.errors import SyncConfigError

    with pytest.raises(SyncConfigError) as raised:
        build_definitions({variable: value})
    assert str(raised.value) == message


def test_a_configuration_error_on_the_command_line_is_one_line(sandbox):
    sandbox.write_model(MODEL)
    done = _cli(sandbox, {"ASANA_MAX_CONCURRENT_WRITES": "0"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Configuration error: ASANA_MAX_CONCURRENT_WRITES must be a positive whole number (1 or more), got 0"
    ), done.stderr
    assert sandbox.tasks() == []


def test_the_cli_prints_why_a_check_warned_and_the_sync_mode_in_any_case(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'One' AS name UNION ALL SELECT 'a', 'Two' UNION ALL SELECT 'b', 'Three'")
    done = _cli(sandbox, {}, "--sync-mode", "UPSERT")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created: 1" in done.stdout
    assert "WARNING: check primary_key_unique_and_not_null did not pass: 0 rows without id, 2 rows sharing one" in done.stdout
    assert "duplicated_keys=1" in done.stdout


def test_the_cli_prints_the_reason_of_a_failed_run_once_and_no_framework_trace(sandbox):
    sandbox.write_model(MODEL)
    done = _cli(sandbox, {}, "--query", "SELECT * FROM no_such_model")
    assert done.returncode == 1
    assert "FAILED in warehouse_model: The model query failed: Catalog Error" in done.stdout
    assert done.stdout.count("The model query failed") == 1 and "Stack Trace" not in done.stdout + done.stderr
    assert 'warehouse_model: Execution of step "warehouse_model" failed.' in done.stdout


def test_an_unexpected_error_on_the_command_line_shows_the_original_exception_and_where(sandbox, monkeypatch, capsys):
    from asana_sync_pipeline.__main__ import main
    from asana_sync_pipeline.engine.writing import sync

    def broken(self, plan, created):
        raise KeyError("a bug in the report")

    monkeypatch.setattr(sync.TaskSync, "_people", broken)
    sandbox.write_model(MODEL)
    assert main(["--sync", "default"]) == 1
    out = capsys.readouterr().out
    assert "FAILED in asana_tasks: KeyError: 'a bug in the report'" in out
    assert "(unexpected: please report it with this trace)" in out and "in broken" in out
    assert "DagsterExecutionStepExecutionError" not in out


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ASANA_PROJECT_GID", "12ab", "Project GID must contain only digits, got '12ab'"),
        ("ASANA_BASE_URL", "http://127.0.0.1:9/", "ASANA_BASE_URL 'http://127.0.0.1:9/' does not end with /api/1.0"),
        ("ASANA_ACCESS_TOKEN", "", "ASANA_ACCESS_TOKEN is empty."),
        ("ASANA_ACCESS_TOKEN", "0/a b", "ASANA_ACCESS_TOKEN contains a space or a line break inside it"),
        ("SYNC_STATE_URL", "postgresql://sync:p@ss:w0rd/x@db:5432/state", "SYNC_STATE_URL is not a PostgreSQL URL"),
    ],
)
def test_settings_that_cannot_work_are_one_line_before_any_run(sandbox, variable, value, message):
    sandbox.write_model(MODEL)
    done = _cli(sandbox, {variable: value})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"Configuration error: {message}") and done.stderr.count("\n") == 1, done.stderr
    assert "STEP_FAILURE" not in done.stdout + done.stderr and sandbox.tasks() == []


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: None, "the file does not exist"),
        (lambda path: path.write_bytes(b""), "the file is empty"),
        (lambda path: path.write_text("id,name\na,Task\n"), "it is not a DuckDB database file"),
    ],
)
def test_a_missing_empty_or_foreign_warehouse_fails_in_seconds(sandbox, make, problem):
    make(sandbox.warehouse)
    started = time.monotonic()
    result = sandbox.sync()
    assert not result.success
    assert f"Cannot open the warehouse at {sandbox.warehouse}: {problem}" in failure_text(result)
    assert "WAREHOUSE_DUCKDB_PATH" in failure_text(result)
    assert time.monotonic() - started < 10


def test_upsert_in_capitals_is_upsert(sandbox):
    sandbox.write_model(MODEL)
    result = sandbox.sync({"sync_mode": "UPSERT"})
    assert result.success, failure_text(result)
    assert materialization(result, "asana_task_payloads")["sync_mode"] == "upsert"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("1200000000000302", "sync_key_field 1200000000000302 (ARR (USD)) is a number field; it must be a text custom field"),
        ("1299999999999999", "sync_key_field 1299999999999999 is not a custom field of project"),
    ],
)
def test_a_sync_key_field_that_is_not_a_text_field_of_the_project_fails_before_any_write(sandbox, field, message):
    sandbox.write_model(MODEL)
    result = sandbox.sync({"sync_key_field": field})
    assert not result.success
    assert message in failure_text(result)
    assert sandbox.tasks() == [] and sandbox.stats()["write_requests"] == 0


def test_a_blank_task_gid_creates_a_task(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Task A' AS name, '' AS task_gid UNION ALL SELECT 'b', 'Task B', '   '")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 2
    evaluations = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert evaluations["names_present_for_new_rows"].passed


def test_a_project_dropped_from_the_projects_column_is_removed_from_the_task(sandbox):
    sandbox.write_model(f"SELECT 'a' AS id, 'Task A' AS name, '{OTHER_PROJECT}' AS projects")
    assert sandbox.sync().success
    [task] = sandbox.tasks()
    assert {project["gid"] for project in task["projects"]} == {sandbox.project_gid, OTHER_PROJECT}
    sandbox.write_model("SELECT 'a' AS id, 'Task A' AS name, '' AS projects")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    [task] = sandbox.tasks()
    assert [project["gid"] for project in task["projects"]] == [sandbox.project_gid]


def test_the_dry_run_needs_no_token_for_a_model_of_gids(sandbox, monkeypatch):
    from asana_sync_pipeline.definitions import build_definitions

    sandbox.write_model(MODEL)
    monkeypatch.delenv("ASANA_ACCESS_TOKEN")
    defs = build_definitions()
    job = dg.define_asset_job("dry_run", selection=["warehouse_model", "asana_task_payloads"])
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("dry_run").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success, failure_text(result)
    planned = materialization(result, "asana_task_payloads")
    assert planned["to_create"] == 2
    assert "ASANA_ACCESS_TOKEN is not set: planned offline" in planned["notes"]
    full = sandbox.sync()
    assert not full.success
    assert "ASANA_ACCESS_TOKEN is not set" in failure_text(full)


def test_the_demo_never_touches_the_warehouse_the_environment_names(tmp_path):
    mine = tmp_path / "my_warehouse.duckdb"
    with duckdb.connect(str(mine)) as connection:
        connection.execute("CREATE TABLE asana_task_model AS SELECT 'mine' AS id, 'Mine' AS name")
    before = mine.read_bytes()
    env = {key: value for key, value in os.environ.items() if key != "ASANA_ACCESS_TOKEN"}
    env["WAREHOUSE_DUCKDB_PATH"] = str(mine)
    query = "SELECT * FROM asana_task_model WHERE id IN ('acct-0001', 'acct-0002')"
    demo = [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default", "--sync-mode", "INSERT", "--query", query]
    done = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created: 2" in done.stdout and "The emulator now holds 2 tasks" in done.stdout
    assert "data_checks" not in done.stdout and str(mine) not in done.stdout
    assert mine.read_bytes() == before


class _Stop(Exception):
    pass


class _RecordingJob:
    """Records the run config the command line would launch, then stops."""

    def __init__(self) -> None:
        self.ops: dict | None = None

    def with_logger_defs(self, _: dict) -> _RecordingJob:
        return self

    def execute_in_process(self, run_config: dict, **_: object) -> None:
        self.ops = run_config["ops"]
        raise _Stop


@pytest.mark.parametrize(
    ("argv", "ops"),
    [
        ([], {}),
        (["--sync-mode", "Insert"], {"asana_task_payloads": {"config": {"sync_mode": "insert"}}}),
    ],
)
def test_without_sync_mode_on_the_command_line_each_sync_keeps_its_own(monkeypatch, argv, ops):
    import asana_sync_pipeline.__main__ as cli

    job = _RecordingJob()
    monkeypatch.setattr(cli, "sync_jobs", lambda: {"default": job})
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", "0/recording")
    monkeypatch.setenv("ASANA_PROJECT_GID", "1200000000000100")
    with pytest.raises(_Stop):
        cli.main(argv)
    assert job.ops == ops


def test_the_demo_runs_the_samples_syncs_and_names_the_others(monkeypatch, capsys):
    import asana_sync_pipeline.__main__ as cli
    import asana_sync_pipeline.definitions as definitions
    from asana_sync_pipeline.sync_spec import SyncSpec

    launches = SyncSpec(name="launches", model_query="SELECT 1", project_gid="1209876543210000", access_token_env="MARKETING_TOKEN")
    specs = {**definitions.sync_specs(), "launches": launches}
    ran: list[str] = []
    monkeypatch.setattr(cli, "sync_jobs", lambda: dict.fromkeys(specs, None))
    monkeypatch.setattr(definitions, "sync_specs", lambda: specs)
    monkeypatch.setattr(cli, "_run_once", lambda label, spec, *args, **kwargs: ran.append(spec.name) or True)
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", "demo-token")
    monkeypatch.setenv("ASANA_PROJECT_GID", "1200000000000100")
    assert cli._run_all([], None, None, demo=True)
    assert ran == ["default", "data_checks"]
    assert "Not in the demo (the sample's syncs only; choose one with --sync): launches" in capsys.readouterr().out


def test_asana_lost_mid_run_fails_with_the_documented_message_and_the_next_run_finishes_exactly(tmp_path, monkeypatch):
    from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
    from asana_sync_pipeline_tests.conftest import Sandbox

    rows = 200
    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=20)) as server:
        box = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)
        box.write_model(f"SELECT 'k' || i AS id, 'Task ' || i AS name FROM range({rows}) t(i)")
        resources = {"asana": {"config": {"access_token": {"env": "ASANA_ACCESS_TOKEN"}, "project_gid": {"env": "ASANA_PROJECT_GID"},
                                          "base_url": server.base_url, "max_attempts": 2, "reconcile_grace_seconds": 0.05}}}

        def stop_after_some_writes() -> None:
            while server.task_count() < 30:
                time.sleep(0.005)
            server.stop()

        stopper = threading.Thread(target=stop_after_some_writes, daemon=True)
        stopper.start()
        lost = box.sync(resources=resources)
        stopper.join(timeout=10)
        assert not lost.success
        assert f"Lost the connection to Asana at {server.base_url} during the writes" in failure_text(lost)
        assert "retried (never duplicated) on the next run" in failure_text(lost)
        made = set(server.state.tasks)
        recorded = {row["task_gid"] for row in box.state_rows("synced_tasks")}
        assert 15 <= len(recorded) < rows and recorded <= made

        server.start()
        assert box.sync(resources=resources).success
        names = sorted(task["name"] for task in box.tasks())
    assert names == sorted(f"Task {n}" for n in range(rows))


def test_dates_beyond_the_calendar_reject_their_row_and_the_others_sync(sandbox):
    sandbox.write_model(
        "SELECT * FROM (VALUES "
        "('ok', 'Fine', DATE '2026-12-31', NULL, DATE '2027-01-15'), "
        "('far', 'Year 10000', DATE '10000-01-01', NULL, NULL), "
        "('inf', 'Infinity', 'infinity'::DATE, NULL, NULL), "
        "('late', 'Late instant', NULL, TIMESTAMPTZ '10000-01-01 09:00:00+00', NULL), "
        "('field', 'Custom date', NULL, NULL, '-infinity'::DATE)"
        ") AS t(id, name, due_on, due_at, \"custom_fields.Renewal date\")"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    found = materialization(result, "asana_tasks")
    assert (found["created"], found["rejected"]) == (1, 4)
    rejections = found["rejections"]
    for key, shown in (("far", "10000-01-01"), ("inf", "infinity"), ("late", "10000-01-01 09:00:00+00"), ("field", "-infinity")):
        assert f"{shown} is outside the dates Asana takes (years 1 to 9999)" in rejections, (key, rejections)
    assert [(task["name"], task["due_on"]) for task in sandbox.tasks()] == [("Fine", "2026-12-31")]
