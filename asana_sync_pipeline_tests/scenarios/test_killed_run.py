"""A run killed with SIGKILL while it holds its token's pool slot blocks no later run, under the
instance as shipped (dagster_home/dagster.yaml: a pool limit of 1, no daemon): real `dagster job
execute` processes, each in its own process group, their output read while they run.

The second run notices that the slot's holder is dead, marks it failed, frees the slot and
finishes; a third run, waiting for the second (alive), says which pool it waits for and which run
holds it, uses next to no CPU while it waits, and stops on SIGTERM. Every task exists once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, people

pytestmark = pytest.mark.xdist_group("dagster_processes")

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")
SHIPPED_INSTANCE = ROOT / "dagster_home" / "dagster.yaml"
POOL = "asana_token_asana_access_token"
ROWS = 500
PACE = 600
"""Requests per minute: the second run's creates take most of a minute, time for the third to start and wait."""


class Run:
    """`dagster job execute` of the default sync's job, in its own process group; its output is read
    by a thread as it comes (a pipe left unread would stall the run)."""

    def __init__(self, env: dict[str, str]):
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [DAGSTER, "job", "execute", "-m", "asana_sync_pipeline.definitions", "-j", "asana_sync_job"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds since the start until `text` is in the output; fails if the run ends or time runs out first."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.process.poll() is None, f"ended ({self.process.returncode}) before {text!r}:\n{self.output[-4000:]}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout:.0f} s:\n{self.output[-4000:]}"
            time.sleep(0.2)
        return time.monotonic() - self.started

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running after {timeout:.0f} s:\n{self.output[-4000:]}")
        self._reader.join(timeout=10)
        return code

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wait_until(condition, timeout: float, what: str, run: Run) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s:\n{run.output[-4000:]}"
        time.sleep(0.1)


def newest_run(instance: dg.DagsterInstance, after: set[str]) -> dg.DagsterRun:
    runs = [run for run in instance.get_runs() if run.run_id not in after]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.timeout(600)
def test_a_run_killed_holding_the_pool_slot_blocks_no_later_run(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(SHIPPED_INSTANCE, home / "dagster.yaml")
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(f"CREATE TABLE asana_task_model AS SELECT 'row-' || i AS id, 'Task ' || i AS name FROM range({ROWS}) t(i)")
    runs: list[Run] = []
    with EmulatorServer(people(EmulatorSettings(token=TOKEN))) as server, dg.DagsterInstance.from_config(str(home)) as instance:
        env = {
            **{key: value for key, value in os.environ.items() if key != "SYNC_STATE_URL"},
            "DAGSTER_HOME": str(home),
            "ASANA_ACCESS_TOKEN": TOKEN,
            "ASANA_BASE_URL": server.base_url,
            "ASANA_PROJECT_GID": server.project_gid,
            "ASANA_REQUESTS_PER_MINUTE": str(PACE),
            "WAREHOUSE_DUCKDB_PATH": str(warehouse),
            "SYNC_STATE_DUCKDB_PATH": str(tmp_path / "state.duckdb"),
        }
        try:
            runs.append(first := Run(env))
            wait_until(lambda: server.task_count() >= 5, 240, "task written by the first run", first)
            assert instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 1
            first.kill()
            killed = newest_run(instance, set())
            time.sleep(1)  # a request in flight when the run died may still land
            written_by_first = server.task_count()
            assert written_by_first < ROWS

            runs.append(second := Run(env))
            wait_until(lambda: server.task_count() > written_by_first or second.process.poll() is not None, 240, "write by the second run", second)
            waited = time.monotonic() - second.started
            assert second.process.poll() is None, second.output[-4000:]
            holder = newest_run(instance, {killed.run_id})
            assert f"Freed the slot of pool {POOL} held by run {killed.run_id}" in second.output, second.output[-4000:]
            status = instance.get_run_by_id(killed.run_id).status
            assert status == dg.DagsterRunStatus.FAILURE, status

            runs.append(third := Run(env))
            third.wait_for(f"waits for pool {POOL}", 240)
            assert f"held by run {holder.run_id}" in third.output, third.output[-4000:]
            assert "SIGTERM" in third.output, "it says how to stop waiting"
            before, at = third.cpu_seconds(), time.monotonic()
            time.sleep(5)
            cpu_share = (third.cpu_seconds() - before) / (time.monotonic() - at)
            assert cpu_share < 0.1, f"{cpu_share:.0%} of a core while waiting"
            assert second.process.poll() is None, "the third run waited on a live holder"
            third.process.send_signal(signal.SIGTERM)
            assert third.finish(timeout=30) != 0

            assert second.finish(timeout=300) == 0, second.output[-4000:]
        finally:
            for run in runs:
                run.kill()
        print(f"second run: wrote after {waited:.1f} s; third run: {cpu_share:.1%} of a core while waiting")
        names = Counter(task["name"] for task in Sandbox(server=server, warehouse=warehouse, state=tmp_path / "state.duckdb").tasks())
        assert len(names) == ROWS and max(names.values()) == 1
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert info.claimed_slots == [] and info.pending_steps == [], info
