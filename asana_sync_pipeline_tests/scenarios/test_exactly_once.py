"""Exactly once, under injected faults, SIGKILLs mid-run and overlapping runs:
every valid row ends as exactly one task, and the state DB knows every GID."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, failure_text, materialization, people


def rows_sql(count: int) -> str:
    return (
        "SELECT 'row-' || lpad(i::VARCHAR, 5, '0') AS id, 'Task ' || i AS name, "
        "DATE '2026-12-01' + (i % 30)::INTEGER AS due_on FROM range(" + str(count) + ") t(i)"
    )


def assert_exactly_once(sandbox: Sandbox, expected: int) -> None:
    tasks = sandbox.tasks()
    names = Counter(task["name"] for task in tasks)
    assert len(tasks) == expected, f"{len(tasks)} tasks for {expected} rows"
    assert max(names.values()) == 1, [name for name, seen in names.items() if seen > 1][:5]
    synced = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
    assert sorted(synced.values()) == sorted(task["gid"] for task in tasks)
    assert sandbox.state_rows("create_intents") == []


def fast_recovery(sandbox: Sandbox) -> dict:
    """Resource config for tests: the same bindings, short waits (run config replaces a resource's config wholesale)."""
    return {
        "asana": {
            "config": {
                "access_token": {"env": "ASANA_ACCESS_TOKEN"},
                "project_gid": {"env": "ASANA_PROJECT_GID"},
                "base_url": sandbox.server.base_url,
                "reconcile_grace_seconds": 0.05,
                "timeout_seconds": 2.0,
            }
        }
    }


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN, fault_rate=0.2, seed=20261128)


def test_a_fifth_of_writes_failing_still_yields_exactly_one_task_per_row(sandbox):
    sandbox.write_model(rows_sql(500))
    result = sandbox.sync(resources=fast_recovery(sandbox))
    assert result.success, failure_text(result)
    stats = sandbox.stats()
    assert sum(stats["faults"].values()) >= 100
    assert stats["faults"].get("reset_after", 0) > 0
    summary = materialization(result, "asana_tasks")
    assert summary["created"] == 500 and summary["rejected"] == 0
    assert summary["adopted_after_interruption"] > 0
    assert_exactly_once(sandbox, 500)


def _sync_process(sandbox: Sandbox) -> subprocess.Popen:
    env = {**os.environ, **sandbox.environment(ASANA_MAX_CONCURRENT_WRITES="5")}
    return subprocess.Popen(
        [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for_writes(sandbox: Sandbox, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while sandbox.server.task_count() < at_least and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def test_overlapping_runs_neither_duplicate_nor_crash(tmp_path):
    rows = 200
    with EmulatorServer(people(EmulatorSettings(token=TOKEN, latency_ms=10))) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        sandbox.write_model(rows_sql(rows))
        first, second = _sync_process(sandbox), _sync_process(sandbox)
        outputs = [process.communicate(timeout=180)[0] for process in (first, second)]
        assert [first.returncode, second.returncode] == [0, 0], outputs
        assert_exactly_once(sandbox, rows)
        created = sorted(int(line.split()[-1]) for output in outputs for line in output.splitlines() if line.strip().startswith("created:"))
        assert created == [0, rows]


SYNC_KEY_FIELD = "1200000000000301"


def test_timeouts_and_dropped_answers_are_reconciled_exactly_by_the_sync_key(tmp_path, monkeypatch):
    settings = EmulatorSettings(
        token=TOKEN, fault_rate=0.2, fault_kinds=("reset_after", "error_500"), slow_rate=0.1, slow_seconds=1.5, seed=11
    )
    with EmulatorServer(people(settings)) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        sandbox.bind(monkeypatch)
        sandbox.write_model(
            "SELECT 'row-' || (i % 40) AS id, 'Same name' AS name FROM range(40) t(i)"
        )
        resources = fast_recovery(sandbox)
        resources["asana"]["config"]["timeout_seconds"] = 0.5
        result = sandbox.sync({"sync_key_field": SYNC_KEY_FIELD}, resources=resources)
        assert result.success, failure_text(result)
        assert materialization(result, "asana_tasks")["adopted_after_interruption"] > 0
        tasks = {task["gid"]: task for task in sandbox.tasks()}
        assert len(tasks) == 40
        keys = [
            next(field["text_value"] for field in task["custom_fields"] if field["gid"] == SYNC_KEY_FIELD)
            for task in tasks.values()
        ]
        assert sorted(keys) == sorted(f"row-{n}" for n in range(40))
        synced = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
        assert all(
            next(field["text_value"] for field in tasks[gid]["custom_fields"] if field["gid"] == SYNC_KEY_FIELD) == key
            for key, gid in synced.items()
        )


def repeated_names_sql(count: int) -> str:
    """Rows that differ only in their notes (and some in their due dates), all with one name."""
    return (
        "SELECT 'row-' || lpad(i::VARCHAR, 4, '0') AS id, 'Follow up with account' AS name, "
        "'Account ' || i || ' needs a call' AS notes, "
        "CASE WHEN i % 5 = 0 THEN (TIMESTAMPTZ '2026-12-01 17:00:00+00' + (i % 3) * INTERVAL 1 HOUR) END AS due_at "
        "FROM range(" + str(count) + ") t(i)"
    )


def assert_each_row_on_exactly_one_task(sandbox: Sandbox, count: int) -> None:
    tasks = sandbox.tasks()
    by_notes = Counter(task["notes"] for task in tasks)
    assert len(tasks) == count, f"{len(tasks)} tasks for {count} rows"
    assert set(by_notes) == {f"Account {i} needs a call" for i in range(count)}
    assert max(by_notes.values()) == 1
    notes_by_gid = {task["gid"]: task["notes"] for task in tasks}
    synced = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
    assert {key: notes_by_gid[gid] for key, gid in synced.items()} == {
        f"row-{i:04d}": f"Account {i} needs a call" for i in range(count)
    }
    assert sandbox.state_rows("create_intents") == []


@pytest.mark.parametrize("seed", [7, 11])
def test_repeated_names_under_faults_leave_every_row_on_its_own_task_without_a_sync_key(tmp_path, monkeypatch, seed):
    rows = 200
    settings = EmulatorSettings(token=TOKEN, fault_rate=0.3, fault_kinds=("reset_after", "error_503"), seed=seed)
    with EmulatorServer(people(settings)) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        sandbox.bind(monkeypatch)
        sandbox.write_model(repeated_names_sql(rows))
        adopted = 0
        for _ in range(4):
            result = sandbox.sync(resources=fast_recovery(sandbox))
            assert result.success, failure_text(result)
            adopted += materialization(result, "asana_tasks")["adopted_after_interruption"]
        assert server.stats.faults.get("reset_after", 0) > 0 and adopted > 0
        assert_each_row_on_exactly_one_task(sandbox, rows)
        server.settings.fault_rate = 0.0
        final = materialization(sandbox.sync(resources=fast_recovery(sandbox)), "asana_tasks")
        assert (final["created"], final["updated"], final["unchanged"]) == (0, 0, rows)


def test_sigkills_with_repeated_names_leave_every_row_on_its_own_task(tmp_path):
    rows = 240
    chooser = random.Random(11)
    with EmulatorServer(people(EmulatorSettings(token=TOKEN, latency_ms=15))) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        sandbox.write_model(repeated_names_sql(rows))
        kills = 0
        while kills < 4 and server.task_count() < rows - 20:
            process = _sync_process(sandbox)
            _wait_for_writes(sandbox, process, server.task_count() + 1)
            time.sleep(chooser.uniform(0.0, 0.4))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        assert kills >= 2 and 0 < server.task_count() < rows
        final = _sync_process(sandbox)
        output, _ = final.communicate(timeout=120)
        assert final.returncode == 0, output
        assert_each_row_on_exactly_one_task(sandbox, rows)


def _recorded_tasks(sandbox: Sandbox) -> int:
    """Tasks the state has recorded, read while another process writes it (between its connections)."""
    import duckdb

    while True:
        try:
            with duckdb.connect(str(sandbox.state), read_only=True) as connection:
                row = connection.execute("SELECT count(*) FROM synced_tasks").fetchone()
                return int(row[0]) if row else 0
        except duckdb.Error:
            time.sleep(0.01)


@pytest.mark.parametrize("killed", ["before_any_outcome", "after_some_outcomes", "beside_a_task_made_by_hand"])
def test_after_a_run_killed_mid_write_the_next_says_it_matched_its_creates_not_that_the_state_is_old(tmp_path, killed):
    rows = 80
    with EmulatorServer(people(EmulatorSettings(token=TOKEN, latency_ms=15))) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        sandbox.write_model(rows_sql(rows))
        by_hand = killed == "beside_a_task_made_by_hand"
        if by_hand:
            with sandbox.api() as person:
                person.post("/tasks", json={"data": {"name": "Made by hand", "projects": [sandbox.project_gid]}}).raise_for_status()
        process = _sync_process(sandbox)
        _wait_for_writes(sandbox, process, 3 + by_hand)
        if killed == "after_some_outcomes":
            while process.poll() is None and (not sandbox.state.exists() or _recorded_tasks(sandbox) == 0):
                time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        recorded = len(sandbox.state_rows("synced_tasks"))
        assert (recorded > 0) == (killed == "after_some_outcomes") and recorded + by_hand < server.task_count() < rows
        made = server.task_count() - recorded - by_hand
        final = _sync_process(sandbox)
        output, _ = final.communicate(timeout=180)
        assert final.returncode == 0, output
        assert f"Reconciling {rows - recorded:,} creates left unsettled by an earlier run" in output, output
        assert "older copy" not in output, output
        if by_hand:
            warning = (
                f"holds tasks besides the {made} tasks an interrupted run created, matched to their rows: if earlier runs "
                "synced this model with another state"
            )
            assert warning in output and output.count("WARNING") == 1, output
            tasks = sandbox.tasks()
            assert len(tasks) == rows + 1 and len({task["name"] for task in tasks}) == rows + 1
        else:
            assert "WARNING" not in output, output
            assert_exactly_once(sandbox, rows)
