"""Which task a row is: a state that stays where it is, tasks that stay in their project,
keys and values that stay exact, and a warning when a fresh state meets a full project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from asana_sync_pipeline.lib.paths import PROJECT_ROOT
from asana_sync_pipeline_tests.conftest import failure_text, materialization, writes_seen

OTHER_PROJECT = "1200000000000110"


def test_a_relative_state_path_means_the_same_file_from_any_working_directory(sandbox, tmp_path):
    sandbox.write_model("SELECT 'a' AS id, 'Task A' AS name UNION ALL SELECT 'b', 'Task B'")
    relative = f"tmp-tests/{uuid.uuid4().hex}/sync_state.duckdb"
    env = {**os.environ, **sandbox.environment(SYNC_STATE_DUCKDB_PATH=relative, PYTHONPATH=str(PROJECT_ROOT))}
    try:
        outputs = []
        for folder in ("first", "second"):
            (tmp_path / folder).mkdir()
            done = subprocess.run(
                [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default"], env=env, cwd=tmp_path / folder, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stdout + done.stderr
            outputs.append(done.stdout)
        assert "created: 2" in outputs[0] and "created: 0" in outputs[1] and "unchanged: 2" in outputs[1]
        assert len(sandbox.tasks()) == 2
        assert (PROJECT_ROOT / relative).exists() and not (tmp_path / "first" / "tmp-tests").exists()
    finally:
        shutil.rmtree(PROJECT_ROOT / relative.split("/")[0] / relative.split("/")[1], ignore_errors=True)


def test_a_fresh_state_beside_a_project_that_holds_tasks_warns_in_the_log_and_metadata(sandbox, monkeypatch, tmp_path, capfd):
    sandbox.write_model("SELECT 'a' AS id, 'Task A' AS name")
    first = sandbox.sync()
    assert first.success and materialization(first, "asana_tasks")["warnings"] == "_none_"
    monkeypatch.setenv("SYNC_STATE_DUCKDB_PATH", str(tmp_path / "another_state.duckdb"))
    second = sandbox.sync()
    assert second.success, failure_text(second)
    warning = materialization(second, "asana_tasks")["warnings"]
    assert "holds no task for this sync, but project 'Customer Success Follow-ups' already has tasks" in warning
    assert "sync_key_field" in warning
    assert "WARNING: The sync state" in capfd.readouterr().err


def _task_in_another_project(sandbox) -> str:
    with sandbox.api() as api:
        created = api.post("/tasks", json={"data": {"name": "Theirs", "projects": [OTHER_PROJECT]}}).raise_for_status()
    return created.json()["data"]["gid"]


def test_a_task_gid_outside_the_project_is_rejected_unless_allowed(sandbox):
    foreign = _task_in_another_project(sandbox)
    sandbox.write_model(f"SELECT 'a' AS id, 'Overwritten?' AS name, '{foreign}' AS task_gid")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    summary = materialization(result, "asana_tasks")
    assert (summary["updated"], summary["rejected"]) == (0, 1)
    [rejection] = sandbox.state_rows("rejections")
    assert rejection["field"] == "task_gid"
    assert rejection["reason"].startswith(
        f"task {foreign} is in 'Quarterly Business Reviews' ({OTHER_PROJECT}), not in the configured project {sandbox.project_gid}"
    )
    with sandbox.api() as api:
        assert api.get(f"/tasks/{foreign}").json()["data"]["name"] == "Theirs"

    allowed = sandbox.sync({"allow_tasks_outside_project": True})
    assert materialization(allowed, "asana_tasks")["updated"] == 1
    with sandbox.api() as api:
        assert api.get(f"/tasks/{foreign}").json()["data"]["name"] == "Overwritten?"


def _subtask_of(sandbox, project: str) -> str:
    with sandbox.api() as api:
        parent = api.post("/tasks", json={"data": {"name": "Parent", "projects": [project]}}).raise_for_status().json()["data"]["gid"]
        child = api.post("/tasks", json={"data": {"name": "Child", "parent": parent}}).raise_for_status().json()["data"]["gid"]
        assert api.get(f"/tasks/{child}", params={"opt_fields": "projects"}).json()["data"]["projects"] == []
    return child


def test_a_subtask_of_a_task_in_the_project_is_in_the_project(sandbox):
    ours, theirs = _subtask_of(sandbox, sandbox.project_gid), _subtask_of(sandbox, OTHER_PROJECT)
    sandbox.write_model(f"SELECT 'a' AS id, 'Ours renamed' AS name, '{ours}' AS task_gid UNION ALL SELECT 'b', 'Theirs renamed', '{theirs}'")
    summary = materialization(sandbox.sync(), "asana_tasks")
    assert (summary["updated"], summary["rejected"]) == (1, 1)
    [rejection] = sandbox.state_rows("rejections")
    assert rejection["reason"].startswith(
        f"task {theirs} is in no project (a subtask; its nearest ancestor in a project is in 'Quarterly Business Reviews' "
        f"({OTHER_PROJECT})), not in the configured project {sandbox.project_gid}"
    )
    with sandbox.api() as api:
        assert api.get(f"/tasks/{ours}").json()["data"]["name"] == "Ours renamed"


def test_a_task_gid_is_checked_once_then_remembered(sandbox):
    with sandbox.api() as api:
        mine = api.post("/tasks", json={"data": {"name": "Mine", "projects": [sandbox.project_gid]}}).json()["data"]["gid"]
    sandbox.write_model(f"SELECT 'a' AS id, 'Renamed' AS name, '{mine}' AS task_gid")
    assert materialization(sandbox.sync(), "asana_tasks")["updated"] == 1
    sandbox.write_model(f"SELECT 'a' AS id, 'Renamed again' AS name, '{mine}' AS task_gid")
    sandbox.reset_stats()
    assert materialization(sandbox.sync(), "asana_tasks")["updated"] == 1
    # the connection test (2), the project's events (1), and the events after its write, read back at the end of
    # the run (1): the task the last run wrote is not read again (its answer is kept), nor its project checked
    assert sandbox.stats()["by_method"].get("GET", 0) == 4


def test_keys_and_numbers_wider_than_a_float_stay_exact(sandbox):
    sandbox.write_model(
        "SELECT 9007199254740992::HUGEINT AS id, 12345678901234567890.1234567890::DECIMAL(38,10) AS name "
        "UNION ALL SELECT 9007199254740993::HUGEINT, 98765432109876543210.5::DECIMAL(38,10)"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 2
    assert sorted(task["name"] for task in sandbox.tasks()) == ["12345678901234567890.1234567890", "98765432109876543210.5000000000"]
    assert sorted(row["primary_key"] for row in sandbox.state_rows("synced_tasks")) == ["9007199254740992", "9007199254740993"]


SYNC_KEY_FIELD = "1200000000000301"


def test_a_key_longer_than_a_text_field_holds_is_rejected_at_planning_with_a_sync_key(sandbox):
    long_key = "k" * 1025
    sandbox.write_model(f"SELECT 'short' AS id, 'Short' AS name UNION ALL SELECT '{long_key}', 'Long' UNION ALL SELECT '{'j' * 1024}', 'Longest kept'")
    settings = {"sync_key_field": SYNC_KEY_FIELD}
    dry = sandbox.sync(settings, dry=True)
    planned = materialization(dry, "asana_task_payloads")
    assert (planned["to_create"], planned["rejected"]) == (2, 1), planned["rejections"]
    reason = "the primary key is 1,025 characters long; sync_key_field writes it into a text custom field, which holds at most 1,024"
    assert reason in planned["rejections"], planned["rejections"]
    with writes_seen() as writes:
        result = sandbox.sync(settings)
    assert result.success, failure_text(result)
    found = materialization(result, "asana_tasks")
    assert (found["created"], found["rejected"]) == (2, 1) and reason in found["rejections"], found
    assert [method for method, path, _ in writes if path == "/tasks"] == ["POST", "POST"]
    assert sorted(task["name"] for task in sandbox.tasks()) == ["Longest kept", "Short"]


@pytest.mark.parametrize(
    "others",
    [
        "VALUES ('a', 'A'), ('d', 'D1'), ('d', 'D2')",
        "SELECT 'd' || (i % 3), 'Repeated' FROM range(30) t(i) UNION ALL SELECT 'a', 'A'",  # keys read as categoricals
    ],
    ids=["distinct_keys", "repeated_keys"],
)
def test_a_null_or_blank_key_is_shown_empty_and_said_which_never_nan(sandbox, others):
    sandbox.write_model(
        f"SELECT * FROM ({others} UNION ALL VALUES (NULL, 'Null key'), ('   ', 'Blank key'), ('', 'Empty key')) t(id, name)"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    for asset in ("asana_task_payloads", "asana_tasks"):
        table = materialization(result, asset)["rejections"]
        rows = table.splitlines()[2:]
        assert "| d0 | id | the primary key appears more than once in the model |" in rows or "| d | id | the primary key appears more than once in the model |" in rows, table
        assert "|  | id | the primary key is empty (NULL) |" in rows, table
        assert "|  | id | the primary key is empty (blank text '   ') |" in rows, table
        assert "|  | id | the primary key is empty (blank text '') |" in rows, table
        assert "nan" not in table and "None" not in table, table
    assert [task["name"] for task in sandbox.tasks()] == ["A"]
