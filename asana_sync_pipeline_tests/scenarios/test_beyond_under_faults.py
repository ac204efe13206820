"""Asana beyond one task, all at once and under faults, through the job: tasks adopted from the project,
the rest made from the team's playbook, linked by dependencies, filed in a second project and given
their links, while a quarter of the writes fail (dropped answers, server errors, answers too slow to
wait for). However many runs it takes, each row ends as one task with each of its parts once."""

from __future__ import annotations

from collections import Counter

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, failure_text, with_people
from asana_sync_pipeline_tests.scenarios.beyond import (
    PLAYBOOK_STEPS,
    PROJECT,
    QBR,
    attachments,
    dependencies,
    subtasks,
    templates_fixture,
)
from asana_sync_pipeline_tests.scenarios.test_exactly_once import fast_recovery

ROWS = 20
MODEL = (
    "SELECT 'acct-' || i AS id, 'Account ' || i AS name, "
    "CASE WHEN i % 5 <> 0 THEN 'acct-' || (i - 1) END AS depends_on, "
    "CASE WHEN i % 2 = 0 THEN 'Quarterly Business Reviews' END AS projects, "
    "'https://bi.example/accounts/' || i AS attachments "
    f"FROM range({ROWS}) t(i)"
)
SETTINGS = {"task_template": "Churn playbook", "adopt_existing": {"match": "name", "column": "name"}}


def test_every_part_of_every_row_happens_once_under_faults(tmp_path, monkeypatch):
    emulator = EmulatorSettings(
        token=TOKEN, fixture=with_people(templates_fixture()), job_seconds=0.3, fault_rate=0.2,
        fault_kinds=("reset_after", "error_500", "reset_before"), slow_rate=0.05, slow_seconds=1.5, seed=2030,
    )  # fmt: skip
    with EmulatorServer(emulator) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)
        server.settings.fault_rate = 0.0
        by_hand = {}
        with sandbox.api("ada") as ada:
            for i in range(0, ROWS, 4):
                made = ada.post("/tasks", json={"data": {"name": f"Account {i}", "projects": [PROJECT]}}).raise_for_status()
                by_hand[f"acct-{i}"] = made.json()["data"]["gid"]
        server.settings.fault_rate = 0.2
        sandbox.write_model(MODEL)
        resources = fast_recovery(sandbox)
        resources["asana"]["config"]["timeout_seconds"] = 1.0
        for _ in range(4):
            result = sandbox.sync(SETTINGS, resources=resources)
            assert result.success, failure_text(result)
            if not sandbox.state_rows("rejections") and not sandbox.state_rows("create_intents"):
                break
        assert sum(server.stats.snapshot()["faults"].values()) >= 10
        assert sandbox.state_rows("rejections") == []
        tasks = sandbox.tasks()
        assert Counter(task["name"] for task in tasks) == Counter(f"Account {i}" for i in range(ROWS))
        synced = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
        assert {key: synced[key] for key in by_hand} == by_hand, "the hand-made tasks were adopted, not made again"
        by_gid = {task["gid"]: task for task in tasks}
        for i in range(ROWS):
            gid = synced[f"acct-{i}"]
            task = by_gid[gid]
            assert task["name"] == f"Account {i}"
            steps = [step["name"] for step in subtasks(sandbox, gid)]
            assert steps == ([] if f"acct-{i}" in by_hand else PLAYBOOK_STEPS)
            assert dependencies(sandbox, gid) == ([] if i % 5 == 0 else [synced[f"acct-{i - 1}"]])
            assert {project["gid"] for project in task["projects"]} == ({PROJECT, QBR} if i % 2 == 0 else {PROJECT})
            assert [url for url, _ in attachments(sandbox, gid)] == [f"https://bi.example/accounts/{i}"]
