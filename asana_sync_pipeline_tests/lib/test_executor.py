"""The sync jobs' wait for their token's pool (lib/executor.py) and the shipped instances' run
monitoring: a slot held by a run that ended, or whose process is gone, is given back; a live
holder is waited for, named, without spinning. (A SIGKILLed `dagster job execute` end to end:
scenarios/test_killed_run.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from asana_sync_pipeline.lib.executor import POLL_SECONDS, WORKER_TAG, PoolWait, Worker
from asana_sync_pipeline_tests.dagster_dev import stop_group
from asana_sync_pipeline_tests.postgres_server import SUPERUSER

ROOT = Path(__file__).resolve().parents[2]
POOL = "asana_token_asana_access_token"


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def start_run(instance: dg.DagsterInstance, worker: Worker | None = None) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="asana_sync_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
    instance.add_run(run)
    if worker is not None:
        instance.add_run_tags(run.run_id, {WORKER_TAG: worker.to_tag()})
    return instance.get_run_by_id(run.run_id)


def hold_the_slot(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(POOL)
    assert storage.claim_concurrency_slot(POOL, run.run_id, "asana_tasks").is_claimed
    assert storage.get_concurrency_info(POOL).active_run_ids == {run.run_id}


def dead_worker() -> Worker:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    here = Worker.this_process()
    started = Worker(here.host, child.pid, "", here.namespace)
    child.wait()
    return started


def wait_for(instance):
    """A second run's claim of the slot, as the executor makes it; what it logged."""
    logged: list[str] = []
    waiter = start_run(instance, Worker.this_process())
    with PoolWait(instance, waiter, logged.append) as wait:
        claimed = wait.claim(POOL, "asana_tasks")
        interval = wait.interval_to_next_pending_claim_check()
    return claimed, interval, "\n".join(logged)


def test_a_waiting_run_frees_the_slot_of_a_run_marked_failed(instance):
    holder = start_run(instance, Worker.this_process())
    hold_the_slot(instance, holder)
    instance.report_run_failed(holder, "killed")  # what a person does in the UI: the slot stays held
    assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {holder.run_id}
    claimed, _, logged = wait_for(instance)
    assert claimed, logged
    assert f"Freed the slot of pool {POOL} held by run {holder.run_id} (asana_sync_job): the run has ended (FAILURE)" in logged


def test_a_waiting_run_frees_the_slot_of_a_run_whose_process_is_gone_and_marks_it_failed(instance):
    worker = dead_worker()
    holder = start_run(instance, worker)
    hold_the_slot(instance, holder)
    claimed, _, logged = wait_for(instance)
    assert claimed, logged
    assert f"held by run {holder.run_id} (asana_sync_job): its process (pid {worker.pid} on host {worker.host}) is gone" in logged
    assert instance.get_run_by_id(holder.run_id).status == dg.DagsterRunStatus.FAILURE


@pytest.mark.parametrize("where", ["this process", "another machine", "no worker recorded"])
def test_a_live_holder_is_waited_for_named_and_without_spinning(instance, where):
    here = Worker.this_process()
    worker = {"this process": here, "another machine": Worker("elsewhere", 1, "x", here.namespace), "no worker recorded": None}[where]
    holder = start_run(instance, worker)
    hold_the_slot(instance, holder)
    claimed, interval, logged = wait_for(instance)
    assert not claimed
    assert 0 < interval <= POLL_SECONDS, "the executor sleeps between two looks"
    assert f"Step asana_tasks waits for pool {POOL} (limit 1, 0 s so far): held by run {holder.run_id} (asana_sync_job, STARTED" in logged
    assert "SIGTERM" in logged and "Terminate" in logged
    shown = {"this process": f"pid {here.pid} on host {here.host})", "another machine": "another machine", "no worker recorded": "its process unknown"}
    assert shown[where] in logged
    assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {holder.run_id}
    assert instance.get_run_by_id(holder.run_id).status == dg.DagsterRunStatus.STARTED


def test_a_pid_used_again_by_another_process_is_not_the_run_s_process():
    here = Worker.this_process()
    assert here.is_gone() is False
    assert Worker(here.host, here.pid, here.started + "0", here.namespace).is_gone() is True
    assert dead_worker().is_gone() is True
    assert Worker("elsewhere", here.pid, here.started, here.namespace).is_gone() is None
    assert Worker.from_tag(here.to_tag()) == here and Worker.from_tag("{}") is None and Worker.from_tag(None) is None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("shipped", ["dagster_home", "deploy"])
def test_the_shipped_instances_give_an_ended_runs_slots_back_from_the_daemon(tmp_path, request, monkeypatch, shipped):
    """Where a daemon runs, Dagster's run monitoring gives a run's slots back once the run has ended
    (`free_slots_after_run_end_seconds`): a run marked failed no longer holds its pool."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / shipped / "dagster.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home)}
    if shipped == "deploy":
        server = request.getfixturevalue("postgres_server")
        env |= {
            "DAGSTER_POSTGRES_HOST": "127.0.0.1", "DAGSTER_POSTGRES_PORT": str(server.port), "DAGSTER_POSTGRES_USER": SUPERUSER,
            "DAGSTER_POSTGRES_PASSWORD": server.password, "DAGSTER_POSTGRES_DB": server.new_database(),
        }  # fmt: skip
    (tmp_path / "defs.py").write_text("import dagster as dg\n\ndefs = dg.Definitions()\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.get()
    with instance:
        settings = instance.run_monitoring_settings
        assert instance.run_monitoring_enabled and settings["free_slots_after_run_end_seconds"] <= 30, settings
        holder = start_run(instance, Worker.this_process())
        hold_the_slot(instance, holder)
        instance.report_run_failed(holder, "killed")
        time.sleep(settings["free_slots_after_run_end_seconds"] + 1)
        assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {holder.run_id}
        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-f", str(tmp_path / "defs.py")],
            cwd=tmp_path, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while instance.event_log_storage.get_concurrency_info(POOL).active_run_ids:
                assert daemon.poll() is None and time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(0.5)
        finally:
            stop_group(daemon)
        assert "MonitoringDaemon" in (tmp_path / "daemon.log").read_text()
        assert instance.event_log_storage.get_concurrency_info(POOL).pending_steps == []
