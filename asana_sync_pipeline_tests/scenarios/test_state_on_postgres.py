"""Runs on several machines sharing nothing but PostgreSQL: each in its own working directory,
with its own DAGSTER_HOME and its own copy of the warehouse; the state and its lock are in
PostgreSQL (SYNC_STATE_URL), so every task is created exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, people

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300


def machine(folder: Path, server: EmulatorServer, state_url: str) -> subprocess.Popen:
    """`python -m asana_sync_pipeline --sync default` as a machine of its own would run it."""
    (folder / "dagster_home").mkdir(parents=True)
    Sandbox(server=server, warehouse=folder / "warehouse.duckdb", state=folder / "state.duckdb").write_model(
        f"SELECT 'row-' || lpad(i::VARCHAR, 4, '0') AS id, 'Task ' || i AS name FROM range({ROWS}) t(i)"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "ASANA_ACCESS_TOKEN": TOKEN,
        "ASANA_BASE_URL": server.base_url,
        "ASANA_PROJECT_GID": server.project_gid,
        "ASANA_MAX_CONCURRENT_WRITES": "3",
        "WAREHOUSE_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "SYNC_STATE_DUCKDB_PATH": str(folder / "state.duckdb"),
        "SYNC_STATE_URL": state_url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_three_runs_from_separate_homes_sharing_only_postgresql_create_every_task_once(tmp_path, postgres_server):
    database = postgres_server.new_database()
    with EmulatorServer(people(EmulatorSettings(token=TOKEN, latency_ms=20))) as server:
        processes = [machine(tmp_path / name, server, postgres_server.url(database)) for name in ("one", "two", "three")]
        outputs = [process.communicate(timeout=240)[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], outputs
        tasks = Sandbox(server=server, warehouse=tmp_path, state=tmp_path).tasks()

    created = sorted(int(line.split()[-1]) for output in outputs for line in output.splitlines() if line.strip().startswith("created:"))
    assert created == [0, 0, ROWS]
    assert any(
        f"holds its lock on {postgres_server.masked_url(database)}; waiting for it to finish" in output for output in outputs
    )
    assert len(tasks) == ROWS and max(Counter(task["name"] for task in tasks).values()) == 1
    synced = {row["primary_key"]: row["task_gid"] for row in postgres_server.rows(database, "synced_tasks")}
    assert sorted(synced.values()) == sorted(task["gid"] for task in tasks)
    assert postgres_server.rows(database, "create_intents") == []
    assert not any((tmp_path / name / "state.duckdb").exists() for name in ("one", "two", "three"))
    assert not any(postgres_server.password in output for output in outputs)
