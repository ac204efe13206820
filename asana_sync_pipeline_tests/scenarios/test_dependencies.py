"""Dependencies between rows' tasks (`depends_on`), end to end through the job: the tasks depended on
are created first, the links set once and changed with the model, only the links the sync set ever
removed, a key that is no row or a cycle rejected with its reason, a row depended on that has no task
waited for; under dropped answers; listed by the dry run."""

from __future__ import annotations

import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, failure_text, materialization, writes_seen
from asana_sync_pipeline_tests.scenarios.beyond import HUB_OF_31, changes_of, dependencies, sync_log, templates_fixture
from asana_sync_pipeline_tests.scenarios.test_exactly_once import fast_recovery

RENEWAL = (
    "SELECT * FROM (VALUES ('call', 'Renewal call', ['report', 'deck']), ('report', 'Send usage report', NULL), "
    "('deck', 'Prepare the deck', ['report']), ('kickoff', 'Kickoff', NULL)) t(id, name, depends_on)"
)


def gids(sandbox: Sandbox) -> dict[str, str]:
    return {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}


def test_tasks_depended_on_are_created_first_and_each_link_is_set_once(sandbox):
    sandbox.write_model(RENEWAL)
    result = sandbox.sync()
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert (summary["created"], summary["dependencies_set"], summary["rejected"]) == (4, 3, 0)
    task = gids(sandbox)
    assert int(task["report"]) < int(task["deck"]) < int(task["call"]), "created after the tasks they depend on"
    assert sorted(dependencies(sandbox, task["call"])) == sorted([task["report"], task["deck"]])
    assert dependencies(sandbox, task["deck"]) == [task["report"]]
    with writes_seen() as writes:
        again = sandbox.sync()
    assert again.success and writes == []


def test_a_dependency_dropped_from_the_row_is_removed_and_one_a_person_set_stays(sandbox):
    sandbox.write_model(RENEWAL)
    assert sandbox.sync().success
    task = gids(sandbox)
    with sandbox.api("ada") as ada:
        ada.post(f"/tasks/{task['call']}/addDependencies", json={"data": {"dependencies": [task["kickoff"]]}}).raise_for_status()
    sandbox.write_model(RENEWAL.replace("['report', 'deck']", "['deck']"))
    with writes_seen() as writes:
        result = sandbox.sync()
    assert result.success, failure_text(result)
    assert writes == [("POST", f"/tasks/{task['call']}/removeDependencies", {"dependencies": [task["report"]]})]
    assert sorted(dependencies(sandbox, task["call"])) == sorted([task["deck"], task["kickoff"]])
    logged = [entry for entry in sync_log(sandbox) if entry["primary_key"] == "call" and entry["action"] == "update"]
    assert changes_of(logged[-1]) == {"depends_on": {"removed": [task["report"]]}}
    sandbox.write_model(RENEWAL.replace("['report', 'deck']", "NULL"))
    assert sandbox.sync().success
    assert dependencies(sandbox, task["call"]) == [task["kickoff"]]


def test_an_unknown_key_or_a_cycle_rejects_the_row_with_its_reason_and_the_rest_sync(sandbox):
    sandbox.write_model(
        "SELECT * FROM (VALUES ('a', 'A', 'b'), ('b', 'B', 'a'), ('c', 'C', 'nope'), ('d', 'D', 'd'), ('e', 'E', NULL)) t(id, name, depends_on)"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 1
    rejections = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert rejections == {
        "a": "depends_on makes a cycle: a -> b -> a",
        "b": "depends_on makes a cycle: a -> b -> a",
        "c": "depends_on 'nope' is not the primary key of a row of the model",
        "d": "a row cannot depend on itself",
    }


def test_a_row_depending_on_a_row_without_a_task_waits_for_it(sandbox):
    sandbox.write_model("SELECT * FROM (VALUES ('a', 'A', 'someday', NULL), ('b', 'B', NULL, 'a')) t(id, name, due_on, depends_on)")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert list(gids(sandbox)) == ["b"]
    waiting = {(row["primary_key"], row["field"]): row["reason"] for row in sandbox.state_rows("rejections")}
    assert "depends on row 'a', which has no task yet" in waiting[("b", "depends_on")]
    sandbox.write_model("SELECT * FROM (VALUES ('a', 'A', '2026-12-20', NULL), ('b', 'B', NULL, 'a')) t(id, name, due_on, depends_on)")
    assert sandbox.sync().success
    task = gids(sandbox)
    assert dependencies(sandbox, task["b"]) == [task["a"]]
    assert sandbox.state_rows("rejections") == []


def test_what_asana_refuses_rejects_the_row_with_asanas_reason(sandbox):
    sandbox.write_model(HUB_OF_31)
    result = sandbox.sync()
    assert result.success, failure_text(result)
    rejections = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert list(rejections) == ["hub"] and "at most 30 dependents and dependencies" in rejections["hub"]
    assert len(gids(sandbox)) == 32


def test_the_dry_run_lists_the_dependencies_it_would_set_and_remove(sandbox):
    from asana_sync_pipeline.definitions import build_definitions

    sandbox.write_model(RENEWAL)
    assert sandbox.sync().success
    sandbox.write_model(RENEWAL.replace("['report', 'deck']", "['deck', 'kickoff']"))
    result = build_definitions().resolve_job_def("asana_dry_run_job").execute_in_process(instance=sandbox.instance, raise_on_error=False)
    assert result.success, failure_text(result)
    planned = materialization(result, "asana_task_payloads")["planned_dependencies"]
    task = gids(sandbox)
    assert f"| call | {task['call']} | {task['kickoff']} | {task['report']} |" in planned


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN, fixture=templates_fixture())


def test_dropped_answers_while_linking_leave_each_link_once(tmp_path, monkeypatch):
    settings = EmulatorSettings(token=TOKEN, fault_rate=0.3, fault_kinds=("reset_after", "error_503"), seed=7)
    with EmulatorServer(settings) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)
        sandbox.write_model(
            "SELECT 'step-' || i AS id, 'Step ' || i AS name, CASE WHEN i > 0 THEN 'step-' || (i - 1) END AS depends_on "
            "FROM range(25) t(i)"
        )
        for _ in range(3):
            result = sandbox.sync(resources=fast_recovery(sandbox))
            assert result.success, failure_text(result)
            if not sandbox.state_rows("rejections"):
                break
        task = gids(sandbox)
        assert len(sandbox.tasks()) == 25
        for i in range(1, 25):
            assert dependencies(sandbox, task[f"step-{i}"]) == [task[f"step-{i - 1}"]]
