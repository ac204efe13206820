"""A task in several projects (`projects`), end to end through the job: the projects a row names, by
name or GID, beside the sync's own; taken out only of those the sync added; a project the token cannot
see rejects the row; a task made from a template joins them too; listed by the dry run."""

from __future__ import annotations

import pytest

from asana_sync_pipeline.emulator import EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, exchanges_seen, failure_text, materialization
from asana_sync_pipeline_tests.scenarios.beyond import FORBIDDEN, INCIDENTS, PROJECT, QBR, templates_fixture, writes_by_kind


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN, fixture=templates_fixture())


def projects_of(task: dict) -> set[str]:
    return {project["gid"] for project in task["projects"]}


def test_a_task_joins_the_projects_its_row_names_by_name_or_gid(sandbox):
    sandbox.write_model(f"SELECT 'a' AS id, 'Acme' AS name, 'quarterly business reviews, {INCIDENTS}' AS projects")
    with exchanges_seen() as seen:
        result = sandbox.sync()
    assert result.success, failure_text(result)
    [task] = sandbox.tasks()
    assert projects_of(task) == {PROJECT, QBR, INCIDENTS}
    assert writes_by_kind(seen)["GET /workspaces/*/projects"] == 1, "names are resolved from one listing"


def test_a_project_is_left_only_when_the_sync_added_it(sandbox):
    sandbox.write_model(f"SELECT 'a' AS id, 'Acme' AS name, '{QBR}' AS projects")
    assert sandbox.sync().success
    [task] = sandbox.tasks()
    with sandbox.api("ada") as ada:
        ada.post(f"/tasks/{task['gid']}/addProject", json={"data": {"project": INCIDENTS}}).raise_for_status()
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, NULL AS projects")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    [task] = sandbox.tasks()
    assert projects_of(task) == {PROJECT, INCIDENTS}, "the project a person added stays; the sync's own is never left"


def test_a_project_the_token_cannot_see_rejects_its_row_and_the_rest_sync(sandbox):
    sandbox.write_model(
        f"SELECT * FROM (VALUES ('a', 'Acme', '{FORBIDDEN}'), ('b', 'Beta', 'Regional board'), ('c', 'Gamma', '{QBR}')) t(id, name, projects)"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 1
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert f"project {FORBIDDEN} cannot be seen by the sync's token" in reasons["a"]
    assert "no project 'Regional board' that the sync's token can see" in reasons["b"]
    assert "Quarterly Business Reviews" in reasons["b"]


def test_a_gid_alone_is_checked_with_one_read_per_project(sandbox):
    sandbox.write_model(f"SELECT 'a' AS id, 'Acme' AS name, '{QBR}' AS projects UNION ALL SELECT 'b', 'Beta', '{FORBIDDEN}'")
    with exchanges_seen() as seen:
        assert sandbox.sync().success
    kinds = writes_by_kind(seen)
    assert kinds["GET /workspaces/*/projects"] == 0
    assert kinds["GET /projects/*"] >= 2


def test_a_task_made_from_a_template_joins_the_rows_projects(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, 'Quarterly Business Reviews' AS projects")
    result = sandbox.sync({"task_template": "Churn playbook"})
    assert result.success, failure_text(result)
    [task] = sandbox.tasks()
    assert projects_of(task) == {PROJECT, QBR}


def test_the_dry_run_lists_each_rows_projects_by_name(sandbox):
    from asana_sync_pipeline.definitions import build_definitions

    sandbox.write_model(f"SELECT 'a' AS id, 'Acme' AS name, '{QBR}' AS projects")
    result = build_definitions().resolve_job_def("asana_dry_run_job").execute_in_process(instance=sandbox.instance, raise_on_error=False)
    assert result.success, failure_text(result)
    assert "| a | create | Quarterly Business Reviews |" in materialization(result, "asana_task_payloads")["planned_projects"]
