"""Adopting tasks that exist (`adopt_existing`), end to end through the job: a team's hand-made tasks
become the rows' tasks instead of being made again (recorded, then updated like any synced task, what
people put on them kept); ambiguous matches adopt nothing and name the tasks; nothing is adopted twice;
the dry run lists what would be adopted; a run killed after adopting is completed by the next."""

from __future__ import annotations

import pytest

from asana_sync_pipeline.emulator import EmulatorSettings
from asana_sync_pipeline.engine.state import DuckDBStateStore, Outcome, SyncScope
from asana_sync_pipeline_tests.conftest import TOKEN, exchanges_seen, failure_text, materialization, writes_seen
from asana_sync_pipeline_tests.scenarios.beyond import ACCOUNT_ID, sync_log, templates_fixture, writes_by_kind

BY_NAME = {"adopt_existing": {"match": "name", "column": "name"}}
BY_ACCOUNT = {"adopt_existing": {"match": "custom_fields.Account ID", "column": "account_id"}}
ACCOUNTS = (
    "SELECT * FROM (VALUES ('a', 'Acme', 'A-1', DATE '2026-12-20', 'renewal'), ('b', 'Beta', 'B-2', DATE '2026-12-21', NULL), "
    "('c', 'Gamma', 'C-3', DATE '2026-12-22', NULL)) t(id, name, account_id, due_on, tags)"
)


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN, fixture=templates_fixture())


def made_by_hand(sandbox, name: str, **fields) -> str:
    with sandbox.api("ada") as ada:
        data = {"name": name, "projects": [sandbox.project_gid], **fields}
        return ada.post("/tasks", json={"data": data}).raise_for_status().json()["data"]["gid"]


def gids(sandbox) -> dict[str, str]:
    return {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}


def test_tasks_made_by_hand_are_adopted_and_updated_instead_of_made_again(sandbox):
    acme = made_by_hand(sandbox, "Acme", tags=["1200000000000202"], notes="Kept by the team")
    beta = made_by_hand(sandbox, " Beta ")
    sandbox.write_model(ACCOUNTS)
    with exchanges_seen() as seen:
        result = sandbox.sync(BY_NAME)
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert (summary["adopted_existing"], summary["created"], summary["rejected"]) == (2, 1, 0)
    assert writes_by_kind(seen)["POST /tasks"] == 1
    assert gids(sandbox)["a"] == acme and gids(sandbox)["b"] == beta
    tasks = {task["gid"]: task for task in sandbox.tasks()}
    assert len(tasks) == 3
    assert tasks[acme]["due_on"] == "2026-12-20" and tasks[acme]["notes"] == "Kept by the team"
    assert sorted(tag["name"] for tag in tasks[acme]["tags"]) == ["enterprise", "renewal"], "what people gave it stays"
    log = [(entry["primary_key"], entry["action"]) for entry in sync_log(sandbox) if entry["status"] == "ok"]
    assert ("a", "adopt") in log and ("b", "adopt") in log and ("c", "create") in log
    assert log.index(("a", "adopt")) < log.index(("a", "update"))
    with writes_seen() as writes:
        assert sandbox.sync(BY_NAME).success
    assert writes == []


def test_a_task_is_adopted_by_a_custom_field_and_never_twice(sandbox):
    acme = made_by_hand(sandbox, "ACME Corp (old name)", custom_fields={ACCOUNT_ID: "A-1"})
    sandbox.write_model(ACCOUNTS)
    result = sandbox.sync(BY_ACCOUNT)
    assert result.success, failure_text(result)
    assert gids(sandbox)["a"] == acme
    assert sandbox.tasks_by_name()["Acme"]["gid"] == acme, "then updated like any synced task: its name is the row's"
    sandbox.write_model(ACCOUNTS + " UNION ALL SELECT 'a2', 'Acme again', 'A-1', NULL, NULL")
    result = sandbox.sync(BY_ACCOUNT)
    assert result.success, failure_text(result)
    assert gids(sandbox)["a2"] != acme, "a task already adopted is never adopted by another row"
    assert len(sandbox.tasks()) == 4


def test_two_tasks_for_one_row_or_one_task_for_two_rows_adopt_nothing_and_name_the_tasks(sandbox):
    first, second = made_by_hand(sandbox, "Acme"), made_by_hand(sandbox, "Acme")
    beta = made_by_hand(sandbox, "Beta")
    sandbox.write_model(
        "SELECT * FROM (VALUES ('a', 'Acme'), ('b1', 'Beta'), ('b2', 'Beta'), ('c', 'Gamma')) t(id, name)"
    )
    result = sandbox.sync(BY_NAME)
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert (summary["adopted_existing"], summary["created"]) == (0, 1)
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert f"2 tasks of the project have name 'Acme': {first} ('Acme'), {second} ('Acme')" in reasons["a"]
    assert f"task {beta} ('Beta') has name 'Beta' like rows 'b1', 'b2'" in reasons["b1"] and reasons["b2"] == reasons["b1"]
    assert len(sandbox.tasks()) == 4


def test_the_dry_run_lists_what_would_be_adopted_and_writes_nothing(sandbox):
    from asana_sync_pipeline.definitions import build_definitions

    acme = made_by_hand(sandbox, "Acme")
    sandbox.write_model(ACCOUNTS)
    job = build_definitions().resolve_job_def("asana_dry_run_job")
    result = job.execute_in_process(run_config={"ops": {"asana_task_payloads": {"config": BY_NAME}}}, instance=sandbox.instance, raise_on_error=False)
    assert result.success, failure_text(result)
    preview = materialization(result, "asana_task_payloads")
    assert preview["to_adopt"] == 1
    assert f"| a | Acme | {acme} | Acme | adopt |" in preview["planned_adoptions"]
    assert not sandbox.state.exists() and len(sandbox.tasks()) == 1


def test_a_run_killed_after_adopting_is_completed_by_the_next_without_removing_what_people_added(sandbox):
    acme = made_by_hand(sandbox, "Acme", tags=["1200000000000202"])
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, DATE '2026-12-20' AS due_on, 'renewal' AS tags")
    store = DuckDBStateStore(str(sandbox.state))
    store.apply(SyncScope("default", sandbox.project_gid), "killed", [Outcome("a", task_gid=acme, written={}, action="adopt")])
    result = sandbox.sync(BY_NAME)
    assert result.success, failure_text(result)
    [task] = sandbox.tasks()
    assert task["gid"] == acme and task["due_on"] == "2026-12-20"
    assert sorted(tag["name"] for tag in task["tags"]) == ["enterprise", "renewal"]
