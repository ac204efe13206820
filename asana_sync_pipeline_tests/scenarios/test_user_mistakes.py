"""The mistakes people make when they paste values and point the sync at things, end to end:
each is cleaned or fails fast with a message saying what is wrong and what to do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import duckdb
import httpx
import pytest

from asana_sync_pipeline_tests.conftest import TOKEN, failure_text, materialization, people
from asana_sync_pipeline_tests.dagster_dev import free_port, wait_for_ui

MODEL = "SELECT 'a' AS id, 'Task A' AS name UNION ALL SELECT 'b', 'Task B'"
LOCAL_DATA = pytest.mark.xdist_group("local_data")
"""Tests that run syncs locally share the project's data/ folder (the sample warehouse, data/demo/): one at a time."""
OTHER_PROJECT = "1200000000000110"


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
    assert "Query: SELECT * FROM no_such_model" in done.stdout and "asana_sync_model" not in done.stdout
    assert done.stdout.count("The model query failed") == 1 and "Stack Trace" not in done.stdout + done.stderr
    assert 'warehouse_model: Execution of step "warehouse_model" failed.' in done.stdout


def test_an_unexpected_error_on_the_command_line_shows_the_original_exception_and_where(sandbox, monkeypatch, capsys):
    from asana_sync_pipeline.engine.writing import sync
    from asana_sync_pipeline.local.cli import main

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


@LOCAL_DATA
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
    import asana_sync_pipeline.local.cli as cli

    job = _RecordingJob()
    monkeypatch.setattr(cli, "sync_jobs", lambda: {"default": job})
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", "0/recording")
    monkeypatch.setenv("ASANA_PROJECT_GID", "1200000000000100")
    with pytest.raises(_Stop):
        cli.main(argv)
    assert job.ops == ops


LOCAL_VARIABLES = (
    "ASANA_ACCESS_TOKEN", "MARKETING_TOKEN", "ASANA_BASE_URL", "ASANA_PROJECT_GID", "WAREHOUSE_DUCKDB_PATH",
    "SYNC_STATE_DUCKDB_PATH", "SYNC_STATE_URL",
)  # fmt: skip


@pytest.fixture
def three_syncs(monkeypatch):
    """The code location's syncs plus `launches`, whose token is MARKETING_TOKEN; the runs only recorded."""
    import asana_sync_pipeline.definitions as definitions
    import asana_sync_pipeline.local.cli as cli
    from asana_sync_pipeline.lib.sync_spec import SyncSpec

    launches = SyncSpec(name="launches", model_query="SELECT 1", project_gid="1209876543210000", access_token_env="MARKETING_TOKEN")
    specs = {**definitions.sync_specs(), "launches": launches}
    ran: list[str] = []
    monkeypatch.setattr(cli, "sync_jobs", lambda: dict.fromkeys(specs, None))
    monkeypatch.setattr(definitions, "sync_specs", lambda: specs)
    monkeypatch.setattr(cli, "_run_once", lambda label, spec, *args, **kwargs: ran.append(spec.name) or True)
    monkeypatch.setattr(cli, "_print_follow_up_figure", lambda warehouse: ran.append("figure"))  # no run, no outcomes
    for name in LOCAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)  # restored after the test, whatever the run sets
    return cli, ran


@LOCAL_DATA
def test_the_demo_runs_the_samples_syncs_and_names_the_others(three_syncs, capsys):
    cli, ran = three_syncs
    assert cli.main([]) == 0
    assert ran == ["default", "data_checks", "default", "figure"], "the sample's syncs, the default one's second run, the figure"
    out = capsys.readouterr().out
    assert "Not in the demo (the sample's syncs only; choose one with --sync): launches" in out
    assert "(the bundled fixture; nothing leaves this machine)" in out


def test_a_mistaken_choice_on_the_command_line_is_refused_before_anything_starts(three_syncs, capsys, tmp_path):
    cli, ran = three_syncs
    assert cli.main(["--sync", "nosuch"]) == 2
    assert cli.main(["--query", "SELECT 1"]) == 2
    not_duckdb = tmp_path / "mine.json"
    not_duckdb.write_text("{}")
    assert cli.main(["--warehouse", str(not_duckdb)]) == 2
    captured = capsys.readouterr()
    assert "Configuration error: no sync named nosuch; the syncs are: default, data_checks, launches" in captured.err
    assert "Configuration error: --query applies to one sync; choose it with --sync" in captured.err
    assert "it is not a DuckDB database file. Point --warehouse (WAREHOUSE= for make) at a DuckDB database file." in captured.err
    assert "Sample warehouse" not in captured.out and "Asana emulator" not in captured.out and ran == []


@LOCAL_DATA
def test_your_warehouse_runs_your_syncs_and_names_the_samples(three_syncs, capsys, tmp_path, monkeypatch):
    cli, ran = three_syncs
    warehouse = tmp_path / "mine.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE launches AS SELECT 1 AS id")
    assert cli.main(["--warehouse", str(warehouse)]) == 0
    assert ran == ["launches"]
    out = capsys.readouterr().out
    assert "Not run against your warehouse (the sample's syncs; choose one with --sync): data_checks, default" in out
    assert cli.main(["--warehouse", str(warehouse), "--sync", "default"]) == 0 and ran == ["launches", "default"]
    for name in LOCAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)  # the local runs above pointed them at their emulator
    assert cli.main(["--warehouse", str(warehouse), "--query", "SELECT 2 AS id"]) == 0, "one sync runs: --query applies to it"
    assert ran == ["launches", "default", "launches"]


def test_a_sync_with_its_own_token_runs_against_asana_and_the_others_are_named(three_syncs, monkeypatch, capsys):
    cli, ran = three_syncs
    monkeypatch.setenv("MARKETING_TOKEN", TOKEN)
    assert cli.main([]) == 0
    assert ran == ["launches"], "not the demo: the one sync whose token is set"
    out = capsys.readouterr().out
    assert "Not run, their token is not set: default (ASANA_ACCESS_TOKEN), data_checks (ASANA_ACCESS_TOKEN)" in out
    assert "emulator" not in out


@LOCAL_DATA
def test_a_fixture_runs_every_sync_against_the_emulator_even_with_tokens_set(three_syncs, monkeypatch, tmp_path, capsys):
    from asana_sync_pipeline.emulator.settings import default_fixture

    cli, ran = three_syncs
    monkeypatch.setenv("MARKETING_TOKEN", TOKEN)
    fixture = tmp_path / "workspace.json"
    fixture.write_text(__import__("json").dumps(default_fixture()))
    assert cli.main(["--fixture", str(fixture)]) == 0
    assert ran == ["default", "data_checks", "launches"], "with a fixture of your own, no person of the demo edits it"
    assert os.environ["MARKETING_TOKEN"] == "emulator-token", "every sync's token variable points at the emulator"
    assert "(your fixture; nothing leaves this machine)" in capsys.readouterr().out


@LOCAL_DATA
def test_a_broken_fixture_is_a_configuration_error(tmp_path, capsys):
    from asana_sync_pipeline.local.cli import main

    broken = tmp_path / "broken.json"
    broken.write_text('{"workspace": ')
    assert main(["--fixture", str(broken)]) == 2
    assert "Configuration error:" in capsys.readouterr().err


def test_asana_lost_mid_run_fails_with_the_documented_message_and_the_next_run_finishes_exactly(tmp_path, monkeypatch):
    from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
    from asana_sync_pipeline_tests.conftest import Sandbox

    rows = 200
    with EmulatorServer(people(EmulatorSettings(token=TOKEN, latency_ms=20))) as server:
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


def test_one_timestamp_beyond_the_calendar_rejects_its_row_not_its_column(sandbox):
    """A TIMESTAMP or TIMESTAMPTZ column holding one value past 9999: only that row is rejected; the
    others keep their dates, as they would without it."""
    sandbox.write_model(
        "SELECT * FROM (VALUES "
        "('a', 'First', TIMESTAMP '2026-01-04', NULL), "
        "('b', 'Second', TIMESTAMP '2026-02-01', NULL), "
        "('c', 'Timed', NULL, TIMESTAMPTZ '2026-01-05 09:30:00+00'), "
        "('d', 'No date', NULL, NULL), "
        "('far', 'Year 10000', TIMESTAMP '9999-12-31' + INTERVAL 1 DAY, NULL), "
        "('late', 'Late instant', NULL, TIMESTAMPTZ '9999-12-31 23:00:00+00' + INTERVAL 2 HOUR)"
        ") AS t(id, name, due_on, due_at)"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    found = materialization(result, "asana_tasks")
    rejections = found["rejections"]
    assert (found["created"], found["rejected"]) == (4, 2), rejections
    assert "10000-01-01 00:00:00 is outside the dates Asana takes (years 1 to 9999)" in rejections, rejections
    assert "10000-01-01 01:00:00" in rejections and "2026-" not in rejections, rejections
    tasks = {task["name"]: (task["due_on"], task["due_at"]) for task in sandbox.tasks()}
    assert tasks == {
        "First": ("2026-01-04", None),
        "Second": ("2026-02-01", None),
        "Timed": ("2026-01-05", "2026-01-05T09:30:00.000Z"),
        "No date": (None, None),
    }


@LOCAL_DATA
def test_a_new_sync_is_tried_locally_in_one_command_with_a_fixture_and_a_warehouse(tmp_path):
    import json

    fixture = tmp_path / "workspace.json"
    fixture.write_text(json.dumps({
        "workspace": {"gid": "1", "name": "Acme"},
        "users": [{"gid": "10", "name": "Bot", "email": "bot@acme.example"}],
        "projects": [{"gid": "100", "name": "Onboarding", "sections": [{"gid": "40", "name": "New"}]}],
    }))  # fmt: skip
    warehouse = tmp_path / "mine.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE asana_task_model AS SELECT 'c' || i AS id, 'Welcome customer ' || i AS name FROM range(3) t(i)")
    before = warehouse.read_bytes()
    env = {key: value for key, value in os.environ.items() if key not in LOCAL_VARIABLES}
    env["ASANA_ACCESS_TOKEN"] = "1/a-real-token-left-alone"
    command = [sys.executable, "-m", "asana_sync_pipeline", "--fixture", str(fixture), "--warehouse", str(warehouse), "--sync", "default"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(your fixture; nothing leaves this machine)" in done.stdout and "created: 3" in done.stdout
    assert "The emulator now holds 3 tasks" in done.stdout and "second run" not in done.stdout
    assert warehouse.read_bytes() == before, "the warehouse is read, never written"


@LOCAL_DATA
def test_make_dev_runs_without_a_terminal_and_stops_everything_it_started(tmp_path):
    warehouse = tmp_path / "mine.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE asana_task_model AS SELECT 'a' AS id, 'A' AS name")
    ui, emulator = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in LOCAL_VARIABLES}
    log = tmp_path / "dev.log"
    command = [sys.executable, "-m", "asana_sync_pipeline.local.dev", "--port", str(ui), "--emulator-port", str(emulator),
               "--warehouse", str(warehouse)]  # fmt: skip
    launcher = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        wait_for_ui(f"http://127.0.0.1:{ui}", launcher, log, timeout=150)
        assert httpx.get(f"http://127.0.0.1:{emulator}/_emulator/health").json()["ok"] is True
        [dg_dev] = subprocess.run(["pgrep", "-f", f"dg dev --host 127.0.0.1 --port {ui}"], capture_output=True, text=True).stdout.split()
        started = subprocess.run(["pgrep", "-g", dg_dev], capture_output=True, text=True).stdout.split()
        assert len(started) >= 3, "dg dev, its webserver and its daemon, in one process group"
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=90) == 0, log.read_text()[-3000:]
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    text = log.read_text()
    assert "Stopped the Dagster UI and the emulator" in text and "can't access tty" not in text
    for port in (ui, emulator):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    leftovers = subprocess.run(["pgrep", "-g", dg_dev], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "nothing dg dev started is left running"
