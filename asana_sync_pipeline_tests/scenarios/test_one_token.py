"""One token, one budget, end to end: syncs in separate processes (the command line, as a team
runs a manual sync beside a scheduled one) on one token share its rate limit, so that the
emulator, which counts the limit per token as Asana does, answers almost no 429."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, people

PROJECTS = ("1200000000000100", "1200000000000110", "1200000000000120")
LIMIT = 600
"""The emulator's limit per minute, counted over a 6-second window (60 requests) so that an overrun
shows in seconds rather than after a minute."""
PACE = 480
"""What each process is told the token allows (ASANA_REQUESTS_PER_MINUTE). Over Asana's real 60-second
window the pacer keeps a second's burst of slack; a 6-second window shrinks that slack tenfold, so the
processes pace at 80% of what the emulator counts. Alone, each would send at the whole pace: two or
three together, unshared, would be answered 429 for half or two thirds of their requests."""


def run_syncs_at_once(server: EmulatorServer, tmp_path, count: int, rows: int) -> list[subprocess.CompletedProcess]:
    processes = []
    for n, project in enumerate(PROJECTS[:count]):
        warehouse = tmp_path / f"warehouse-{n}.duckdb"
        duckdb.connect(str(warehouse)).close()
        env = {
            **{key: value for key, value in os.environ.items() if key != "SYNC_STATE_URL"},
            "ASANA_ACCESS_TOKEN": TOKEN,
            "ASANA_BASE_URL": server.base_url,
            "ASANA_PROJECT_GID": project,
            "ASANA_REQUESTS_PER_MINUTE": str(PACE),
            "WAREHOUSE_DUCKDB_PATH": str(warehouse),
            "SYNC_STATE_DUCKDB_PATH": str(tmp_path / f"state-{n}.duckdb"),
        }
        query = f"SELECT 'p{n}-' || i AS id, 'Task ' || i AS name FROM range({rows}) t(i)"
        command = [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default", "--query", query]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return [subprocess.CompletedProcess(process.args, process.wait(timeout=300), process.stdout.read()) for process in processes]


@pytest.mark.parametrize(("count", "rows"), [(2, 110), (3, 70)])
def test_processes_on_one_token_share_its_rate_limit(tmp_path, count, rows):
    settings = EmulatorSettings(token=TOKEN, rate_limit_per_minute=LIMIT, rate_window_seconds=6, latency_ms=20)
    with EmulatorServer(people(settings)) as server:
        done = run_syncs_at_once(server, tmp_path, count, rows)
        stats = server.stats.snapshot()
    for result in done:
        assert result.returncode == 0, result.stdout[-3000:]
        assert f"created: {rows}" in result.stdout and "rejected: 0" in result.stdout, result.stdout[-3000:]
    assert server.task_count() == count * rows
    assert stats["rate_limited"] <= 0.02 * stats["requests"], stats
