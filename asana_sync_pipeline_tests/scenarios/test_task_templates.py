"""New tasks from a task template (`task_template`), end to end through the job: each new task is the
team's playbook (its subtasks, description and fields) with the row's own fields given to it; exactly
one task per row under timeouts, dropped answers, server errors and a run killed mid-instantiation; no
more jobs at once than Asana allows; people's edits to the playbook's subtasks never reverted; the
template read once per run, and named templates checked against the project's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from asana_sync_pipeline.emulator import EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, exchanges_seen, failure_text, materialization, writes_seen
from asana_sync_pipeline_tests.scenarios.beyond import (
    ESCALATION,
    GREEN,
    HEALTH,
    PLAYBOOK,
    PLAYBOOK_STEPS,
    QBR_PREP,
    RED,
    SYNC_KEY_FIELD,
    subtasks,
    sync_log,
    templates_fixture,
    writes_by_kind,
)
from asana_sync_pipeline_tests.scenarios.test_exactly_once import fast_recovery

PLAYBOOK_SYNC = {"task_template": "Churn playbook"}
ACCOUNTS_SQL = (
    "SELECT 'acct-' || i AS id, 'Churn risk: account ' || i AS name, "
    "CASE WHEN i % 2 = 0 THEN 'ada@acme.example' END AS assignee, 'churn-risk' AS tags, 'In progress' AS section "
    "FROM range({count}) t(i)"
)


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN, fixture=templates_fixture(), job_seconds=0.3)


def health_of(task: dict) -> str | None:
    return next(((field.get("enum_value") or {}).get("gid") for field in task["custom_fields"] if field["gid"] == HEALTH), None)


def test_each_new_task_is_the_playbook_with_the_rows_own_fields(sandbox):
    sandbox.write_model(ACCOUNTS_SQL.format(count=4))
    with exchanges_seen() as seen:
        result = sandbox.sync(PLAYBOOK_SYNC)
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert (summary["created"], summary["rejected"], summary["template_jobs"]) == (4, 0, 4)
    kinds = writes_by_kind(seen)
    assert kinds["GET /task_templates"] == 1, "the template is read once per run, not once per row"
    assert kinds["POST /task_templates/*/instantiateTask"] == 4
    assert kinds["POST /tasks"] == 0
    tasks = sandbox.tasks_by_name()
    assert len(tasks) == 4
    for n in range(4):
        task = tasks[f"Churn risk: account {n}"]
        assert [step["name"] for step in subtasks(sandbox, task["gid"])] == PLAYBOOK_STEPS
        assert task["notes"] == "Work through the churn playbook."  # the template's description, kept
        assert health_of(task) == RED  # the template's field values, kept where the row gives none
        assert task["due_on"] is not None
        assert (task["assignee"] or {}).get("email") == ("ada@acme.example" if n % 2 == 0 else None)
        assert [tag["name"] for tag in task["tags"]] == ["churn-risk"]
        assert task["memberships"][0]["section"]["name"] == "In progress"
    assert {entry["action"] for entry in sync_log(sandbox)} >= {"create"}

    with exchanges_seen() as again:
        second = sandbox.sync(PLAYBOOK_SYNC)
    assert second.success, failure_text(second)
    assert materialization(second, "asana_tasks")["created"] == 0
    assert writes_by_kind(again)["POST /task_templates/*/instantiateTask"] == 0
    assert len(sandbox.tasks()) == 4


def test_the_rows_fields_win_over_the_templates_where_the_row_gives_them(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, 'Call Acme first.' AS notes, 'Green' AS \"custom_fields.Health\"")
    result = sandbox.sync({**PLAYBOOK_SYNC, "sync_key_field": SYNC_KEY_FIELD})
    assert result.success, failure_text(result)
    [task] = sandbox.tasks()
    assert task["notes"] == "Call Acme first."
    assert health_of(task) == GREEN
    assert next(field["text_value"] for field in task["custom_fields"] if field["gid"] == SYNC_KEY_FIELD) == "a"
    assert len(subtasks(sandbox, task["gid"])) == len(PLAYBOOK_STEPS)


def test_people_working_through_the_playbooks_subtasks_are_never_reverted(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, DATE '2026-12-20' AS due_on")
    assert sandbox.sync(PLAYBOOK_SYNC).success
    [task] = sandbox.tasks()
    steps = subtasks(sandbox, task["gid"])
    with sandbox.api("ada") as ada:
        ada.put(f"/tasks/{steps[0]['gid']}", json={"data": {"completed": True, "name": "Called Dana (champion)"}}).raise_for_status()
        ada.delete(f"/tasks/{steps[1]['gid']}").raise_for_status()
        ada.post(f"/tasks/{task['gid']}/subtasks", json={"data": {"name": "Send the renewal offer"}}).raise_for_status()
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, DATE '2026-12-27' AS due_on")
    with writes_seen() as writes:
        result = sandbox.sync(PLAYBOOK_SYNC)
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["updated"] == 1
    assert writes == [("PUT", f"/tasks/{task['gid']}", {"due_on": "2026-12-27"})]
    assert [(step["name"], step["completed"]) for step in subtasks(sandbox, task["gid"])] == [
        ("Called Dana (champion)", True), ("Agree on a success plan", False), ("Send the renewal offer", False),
    ]  # fmt: skip
    assert sandbox.sync(PLAYBOOK_SYNC).success  # and again, with nothing changed: nothing sent, nothing reverted
    assert len(subtasks(sandbox, task["gid"])) == 3


def test_a_playbook_a_person_deleted_comes_back_from_the_template_and_one_whose_row_left_is_completed_not_deleted(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name UNION ALL SELECT 'b', 'Globex'")
    assert sandbox.sync(PLAYBOOK_SYNC).success
    before = sandbox.tasks_by_name()
    with sandbox.api("ada") as ada:
        ada.delete(f"/tasks/{before['Acme']['gid']}").raise_for_status()
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name")
    with exchanges_seen() as seen:
        result = sandbox.sync({**PLAYBOOK_SYNC, "on_row_removed": "delete"})
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert (summary["created"], summary["template_jobs"], summary["completed"], summary["deleted"]) == (1, 1, 1, 0), summary
    assert writes_by_kind(seen)["POST /task_templates/*/instantiateTask"] == 1 and writes_by_kind(seen)["POST /tasks"] == 0
    after = sandbox.tasks_by_name()
    acme = after["Acme"]
    assert acme["gid"] != before["Acme"]["gid"] and [step["name"] for step in subtasks(sandbox, acme["gid"])] == PLAYBOOK_STEPS
    globex = after["Globex"]
    assert globex["completed"] and len(subtasks(sandbox, globex["gid"])) == len(PLAYBOOK_STEPS), "its playbook kept, not trashed"


def test_a_template_the_project_does_not_have_is_a_configuration_error_naming_its_templates(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name")
    result = sandbox.sync({"task_template": "Renewal playbook"})
    assert not result.success
    text = failure_text(result)
    assert "'Renewal playbook' is not a task template of project 'Customer Success Follow-ups'" in text
    assert "Churn playbook, Escalation" in text
    result = sandbox.sync({"task_template": QBR_PREP})
    assert not result.success
    assert "'QBR prep' belongs to project 'Quarterly Business Reviews'" in failure_text(result)
    assert sandbox.tasks() == [] and sandbox.server.store.templates.jobs == {}


def test_a_template_is_named_by_gid_or_by_its_name_in_any_case(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name")
    assert sandbox.sync({"task_template": ESCALATION}).success
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name UNION ALL SELECT 'b', 'Beta'")
    assert sandbox.sync({"task_template": "churn PLAYBOOK"}).success
    by_name = sandbox.tasks_by_name()
    assert [step["name"] for step in subtasks(sandbox, by_name["Acme"]["gid"])] == ["Page on-call"]
    assert [step["name"] for step in subtasks(sandbox, by_name["Beta"]["gid"])] == PLAYBOOK_STEPS


def test_the_dry_run_names_the_template_and_instantiates_nothing(sandbox):
    from asana_sync_pipeline.definitions import build_definitions

    sandbox.write_model(ACCOUNTS_SQL.format(count=3))
    job = build_definitions().resolve_job_def("asana_dry_run_job")
    result = job.execute_in_process(
        run_config={"ops": {"asana_task_payloads": {"config": PLAYBOOK_SYNC}}}, instance=sandbox.instance, raise_on_error=False
    )
    assert result.success, failure_text(result)
    preview = materialization(result, "asana_task_payloads")
    assert f"'Churn playbook' ({PLAYBOOK}), 3 subtasks" in preview["task_template"]
    assert "each of the 3 tasks to create" in preview["task_template"]
    assert sandbox.server.store.templates.jobs == {} and sandbox.tasks() == []


def test_no_more_jobs_run_at_once_than_asana_allows_and_none_is_refused(sandbox):
    sandbox.write_model(ACCOUNTS_SQL.format(count=24))
    result = sandbox.sync(PLAYBOOK_SYNC)
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 24
    jobs = list(sandbox.server.store.templates.jobs.values())
    assert len(jobs) == 24 and all(job.status == "succeeded" for job in jobs)
    starts = sorted(job.started for job in jobs)
    job_seconds = sandbox.server.store.templates.job_seconds
    at_once = max(sum(1 for other in starts if start <= other < start + job_seconds) for start in starts)
    assert 3 <= at_once <= 5, f"{at_once} jobs started within one job's time"
    assert sandbox.stats()["by_status"].get("429", 0) == 0


def test_jobs_another_client_of_the_user_runs_delay_only_the_instantiations(sandbox):
    """The user's job slots taken by another client: the sync's instantiations wait for theirs (a 429 each,
    answered with Retry-After), the rest of its requests go on, and every row still gets one task."""
    sandbox.server.store.templates.job_seconds = 4.0
    with sandbox.api("sync") as other_client:
        for _ in range(5):
            other_client.post(f"/task_templates/{ESCALATION}/instantiateTask", json={"data": {"name": "Other client's"}}).raise_for_status()
    sandbox.write_model(ACCOUNTS_SQL.format(count=3))
    with exchanges_seen() as seen:
        result = sandbox.sync(PLAYBOOK_SYNC)
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 3
    refused = [exchange for exchange in seen if exchange.status == 429]
    assert refused and all(exchange.path.endswith("/instantiateTask") for exchange in refused)
    names = Counter(task["name"] for task in sandbox.tasks())
    assert names == Counter({**{f"Churn risk: account {n}": 1 for n in range(3)}, "Other client's": 5})


@pytest.mark.parametrize("sync_key", [False, True], ids=["by_the_job_or_the_name", "by_the_sync_key"])
def test_timeouts_dropped_answers_and_server_errors_during_instantiation_leave_one_task_per_row(tmp_path, monkeypatch, sync_key):
    from asana_sync_pipeline.emulator import EmulatorServer
    from asana_sync_pipeline_tests.conftest import Sandbox

    settings = EmulatorSettings(
        token=TOKEN, fixture=templates_fixture(), job_seconds=0.3, fault_rate=0.25,
        fault_kinds=("reset_after", "error_500", "reset_before"), slow_rate=0.1, slow_seconds=1.5, seed=30,
    )  # fmt: skip
    with EmulatorServer(settings) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)
        sandbox.write_model(
            "SELECT 'acct-' || i AS id, CASE WHEN i % 4 = 0 THEN 'Same name' ELSE 'Account ' || i END AS name, "
            "'Owner ' || i AS notes FROM range(30) t(i)"
        )
        resources = fast_recovery(sandbox)
        resources["asana"]["config"]["timeout_seconds"] = 1.0
        config = {**PLAYBOOK_SYNC, **({"sync_key_field": SYNC_KEY_FIELD} if sync_key else {})}
        for _ in range(3):
            result = sandbox.sync(config, resources=resources)
            assert result.success, failure_text(result)
            if not sandbox.state_rows("create_intents") and len(sandbox.state_rows("synced_tasks")) == 30:
                break
        assert sum(server.stats.snapshot()["faults"].values()) > 10
        tasks = sandbox.tasks()
        assert len(tasks) == 30, f"{len(tasks)} tasks for 30 rows"
        assert Counter(task["notes"] for task in tasks) == Counter(f"Owner {i}" for i in range(30))
        synced = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
        notes = {task["gid"]: task["notes"] for task in tasks}
        assert {key: notes[gid] for key, gid in synced.items()} == {f"acct-{i}": f"Owner {i}" for i in range(30)}
        for task in tasks:
            assert len(subtasks(sandbox, task["gid"])) == len(PLAYBOOK_STEPS)


KILLED_RUN = textwrap.dedent(
    """
    from asana_sync_pipeline.definitions import build_definitions
    import dagster as dg
    job = build_definitions().resolve_job_def("asana_sync_job")
    job.execute_in_process(run_config={"ops": {"asana_task_payloads": {"config": {"task_template": "Churn playbook"}}}},
                           instance=dg.DagsterInstance.ephemeral())
    """
)


@pytest.mark.parametrize("after_jobs", [3, 12])
def test_a_run_killed_while_its_jobs_run_leaves_one_task_per_row_after_the_next(sandbox, after_jobs):
    sandbox.server.store.templates.job_seconds = 0.6
    sandbox.write_model(ACCOUNTS_SQL.format(count=20))
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN], env={**os.environ, **sandbox.environment()}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while len(sandbox.server.store.templates.jobs) < after_jobs and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert len(sandbox.state_rows("create_intents")) > 0, "killed before any instantiation"
    time.sleep(1.0)  # the jobs the killed run started finish without it
    result = sandbox.sync(PLAYBOOK_SYNC, resources=fast_recovery(sandbox))
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert summary["adopted_after_interruption"] > 0
    names = Counter(task["name"] for task in sandbox.tasks())
    assert names == Counter(f"Churn risk: account {n}" for n in range(20)), names
    assert sandbox.state_rows("create_intents") == []
    for task in sandbox.tasks():
        assert len(subtasks(sandbox, task["gid"])) == len(PLAYBOOK_STEPS)
        assert [tag["name"] for tag in task["tags"]] == ["churn-risk"]
