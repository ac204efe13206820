"""asana_sync_job end to end: Dagster runs the three assets against the emulator over HTTP,
and the tests read back what Asana (the emulator) and the state DuckDB then hold."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from asana_sync_pipeline_tests.conftest import TOKEN, failure_text, materialization

ADA, GRACE = "1200000000000011", "1200000000000012"
CHURN, ENTERPRISE, RENEWAL = "1200000000000201", "1200000000000202", "1200000000000204"
ARR, HEALTH, RED = "1200000000000302", "1200000000000303", "1200000000000313"

MODEL = f"""
SELECT * FROM (VALUES
    ('acct-1', 'Call Acme about renewal', 'Usage dropped 40%', NULL, DATE '2026-12-01', NULL::TIMESTAMPTZ,
     DATE '2026-11-20', 'ada@acme.example', '{CHURN}, {ENTERPRISE}', false, '{{"{ARR}": 120000, "{HEALTH}": "{RED}"}}',
     NULL, 'default_task', TIMESTAMP '2026-11-01 10:00:00'),
    ('acct-2', 'Exec sponsor check-in: Globex', NULL, '<body>Prepare <strong>QBR</strong> deck</body>', NULL,
     TIMESTAMPTZ '2026-12-05 17:00:00+01', NULL, '{GRACE}', '{RENEWAL}', true, NULL, NULL, 'default_task',
     TIMESTAMP '2026-11-02 10:00:00'),
    ('acct-3', 'Renewal milestone: Initech', NULL, NULL, DATE '2026-12-31', NULL, NULL, 'me', NULL, NULL, NULL, NULL,
     'milestone', TIMESTAMP '2026-11-03 10:00:00'),
    ('acct-4', 'Bad dates: Umbrella', NULL, NULL, DATE '2026-12-31', TIMESTAMPTZ '2026-12-31 10:00:00+00', NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, TIMESTAMP '2026-11-04 10:00:00'),
    ('acct-5', 'Unknown tag: Hooli', NULL, NULL, NULL, NULL, NULL, NULL, 'churn-riks', NULL, NULL, NULL, NULL,
     TIMESTAMP '2026-11-05 10:00:00')
) AS t(id, name, notes, html_notes, due_on, due_at, start_on, assignee, tags, completed, custom_fields, task_gid,
       resource_subtype, updated_at)
"""
VALID = {"Call Acme about renewal", "Exec sponsor check-in: Globex", "Renewal milestone: Initech"}


def test_first_run_creates_a_task_per_valid_row_with_normalized_values(sandbox):
    sandbox.write_model(MODEL)
    result = sandbox.sync()
    assert result.success, failure_text(result)

    tasks = sandbox.tasks_by_name()
    assert set(tasks) == VALID
    acme = tasks["Call Acme about renewal"]
    assert acme["notes"] == "Usage dropped 40%"
    assert acme["due_on"] == "2026-12-01" and acme["start_on"] == "2026-11-20"
    assert acme["assignee"]["email"] == "ada@acme.example"
    assert sorted(tag["name"] for tag in acme["tags"]) == ["churn-risk", "enterprise"]
    assert acme["completed"] is False
    values = {field["gid"]: field for field in acme["custom_fields"]}
    assert values[ARR]["number_value"] == 120000
    assert values[HEALTH]["enum_value"]["gid"] == RED
    globex = tasks["Exec sponsor check-in: Globex"]
    assert globex["due_at"].startswith("2026-12-05T16:00:00")
    assert globex["html_notes"] == "<body>Prepare <strong>QBR</strong> deck</body>"
    assert globex["completed"] is True
    assert tasks["Renewal milestone: Initech"]["resource_subtype"] == "milestone"

    summary = materialization(result, "asana_tasks")
    assert (summary["created"], summary["updated"], summary["rejected"]) == (3, 0, 2)
    rejected = {(row["primary_key"], row["field"]) for row in sandbox.state_rows("rejections")}
    assert rejected == {("acct-4", "due_at"), ("acct-5", "tags")}
    gids = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
    assert gids == {"acct-1": acme["gid"], "acct-2": globex["gid"], "acct-3": tasks["Renewal milestone: Initech"]["gid"]}


def test_created_tasks_link_to_asanas_permalink_and_count_the_rest(sandbox):
    import httpx

    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name FROM range(12) t(i)")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    links = materialization(result, "asana_tasks")["created_tasks"].splitlines()
    assert len(links) == 11 and links[-1] == "- and 2 more"
    first = links[0].removeprefix("- ")
    assert first.startswith(f"{sandbox.server.url}/_emulator/app/0/{sandbox.project_gid}/"), "the emulator's own page, not Asana's"
    assert httpx.get(first, headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status().json()["data"]["name"] == "Task 0"


def test_second_run_over_the_same_model_writes_nothing_and_creates_nothing(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync().success
    before = {task["gid"] for task in sandbox.tasks()}
    sandbox.reset_stats()

    again = sandbox.sync()
    assert again.success, failure_text(again)
    assert {task["gid"] for task in sandbox.tasks()} == before
    summary = materialization(again, "asana_tasks")
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert sandbox.stats()["write_requests"] == 0


def test_a_changed_row_updates_its_task_in_place(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync().success
    acme_gid = sandbox.tasks_by_name()["Call Acme about renewal"]["gid"]
    sandbox.write_model(
        MODEL.replace("'Call Acme about renewal'", "'Call Acme about renewal (escalated)'").replace(
            f"'{CHURN}, {ENTERPRISE}'", f"'{ENTERPRISE}, {RENEWAL}'"
        )
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    tasks = sandbox.tasks_by_name()
    assert set(tasks) == (VALID - {"Call Acme about renewal"}) | {"Call Acme about renewal (escalated)"}
    acme = tasks["Call Acme about renewal (escalated)"]
    assert acme["gid"] == acme_gid
    assert sorted(tag["name"] for tag in acme["tags"]) == ["enterprise", "renewal"]
    summary = materialization(result, "asana_tasks")
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 2)


def test_insert_mode_creates_new_rows_and_never_updates(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync({"sync_mode": "insert"}).success
    sandbox.write_model(MODEL.replace("'Call Acme about renewal'", "'Renamed'"))
    result = sandbox.sync({"sync_mode": "insert"})
    assert result.success
    assert set(sandbox.tasks_by_name()) == VALID
    assert materialization(result, "asana_tasks")["created"] == 0


def test_update_mode_updates_tasks_named_by_task_gid_and_rejects_rows_without_one(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync({"sync_mode": "insert"}).success
    globex_gid = sandbox.tasks_by_name()["Exec sponsor check-in: Globex"]["gid"]
    sandbox.write_model(
        f"""SELECT 'other-key' AS id, 'Globex, renamed' AS name, '{globex_gid}' AS task_gid
            UNION ALL SELECT 'new-row', 'Nobody made me', NULL"""
    )
    result = sandbox.sync({"sync_mode": "update"})
    assert result.success, failure_text(result)
    tasks = sandbox.tasks_by_name()
    assert tasks["Globex, renamed"]["gid"] == globex_gid
    assert "Nobody made me" not in tasks
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert "no task to update" in reasons["new-row"]


def test_field_mapping_and_pass_through_columns(sandbox):
    sandbox.write_model(
        "SELECT 'k1' AS account, 'Mapped title' AS title, 'milestone' AS resource_subtype, 'ignored' AS helper"
    )
    result = sandbox.sync({"primary_key": "account", "field_mapping": {"title": "name"}})
    assert result.success, failure_text(result)
    task = sandbox.tasks_by_name()["Mapped title"]
    assert task["resource_subtype"] == "milestone"
    payloads = materialization(result, "asana_task_payloads")
    assert payloads["ignored_columns"] == "helper"


def test_a_row_asana_refuses_is_rejected_and_the_rest_still_sync(sandbox):
    sandbox.write_model(
        "SELECT 'a' AS id, 'Good row' AS name, NULL AS assignee UNION ALL "
        "SELECT 'b', 'Unknown assignee', '1299999999999999'"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert set(sandbox.tasks_by_name()) == {"Good row"}
    [rejection] = sandbox.state_rows("rejections")
    assert rejection["primary_key"] == "b" and rejection["field"] == "assignee"
    assert "400" in rejection["reason"]


def test_an_email_outside_the_workspace_is_rejected_before_anything_is_sent(sandbox):
    sandbox.write_model(
        "SELECT 'a' AS id, 'Good row' AS name, 'ADA@acme.example' AS assignee UNION ALL "
        "SELECT 'b', 'Unknown assignee', 'nobody@elsewhere.example'"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert [task["assignee"]["email"] for task in sandbox.tasks()] == ["ada@acme.example"]
    [rejection] = sandbox.state_rows("rejections")
    assert (rejection["primary_key"], rejection["field"]) == ("b", "assignee")
    assert rejection["reason"] == "'nobody@elsewhere.example' is not the email of a user of the workspace"
    assert sandbox.stats()["by_status"].get("400", 0) == 0


def dry_run(sandbox, sync: dict | None = None):
    from asana_sync_pipeline.definitions import build_definitions

    job = build_definitions().resolve_job_def("asana_dry_run_job")
    run_config = {"ops": {"asana_task_payloads": {"config": sync or {}}}}
    return job.execute_in_process(instance=sandbox.instance, raise_on_error=False, run_config=run_config)


def test_the_dry_run_job_plans_without_writing_and_leads_with_the_counts(sandbox):
    sandbox.write_model(MODEL)
    result = dry_run(sandbox)
    assert result.success, failure_text(result)
    planned = materialization(result, "asana_task_payloads")
    assert list(planned)[:6] == ["to_create", "to_update", "unchanged", "rejected", "to_complete", "to_delete"]
    assert (planned["to_create"], planned["rejected"]) == (3, 2)
    assert "POST /tasks" in planned["planned_payloads"] and "| acct-1 | Call Acme about renewal |" in planned["planned_creates"]
    assert "no sync_key_field is set, so tasks already in the project are not recognised" in planned["rebuild_from_asana"]
    assert sandbox.tasks() == [] and sandbox.stats()["write_requests"] == 0 and not sandbox.state.exists()
    stored = list(Path(sandbox.instance.storage_directory()).rglob("asana_task_payloads*"))
    assert stored == [], "a dry run keeps its plan in memory: nothing pickled, nothing stored"
    alone = sandbox.sync(only=("asana_tasks",))
    assert not alone.success and "a dry run (asana_dry_run_job) keeps its plan in memory" in failure_text(alone)


def test_a_plan_stored_by_another_version_is_refused_by_name_and_nothing_is_written(sandbox):
    """Re-executing a failed run after an upgrade reads the plan its first attempt stored."""
    sandbox.write_model(MODEL)
    assert sandbox.sync(dry=True).success  # the job's first two steps alone: their plan is stored
    [stored] = [path for path in Path(sandbox.instance.storage_directory()).rglob("asana_task_payloads*") if path.is_file()]
    plan = pickle.loads(stored.read_bytes())
    del plan.__dict__["plan_format"]  # as a plan pickled before the format was recorded
    stored.write_bytes(pickle.dumps(plan))
    result = sandbox.sync(only=("asana_tasks",))
    assert not result.success
    assert "stored by another version of asana-sync-pipeline" in failure_text(result)
    assert "materialize asana_task_payloads together with this asset" in failure_text(result)
    assert sandbox.tasks() == [] and sandbox.stats()["write_requests"] == 0 and not sandbox.state.exists()


def test_the_dry_run_job_shows_each_fields_before_and_after(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Call Acme' AS name, 'first' AS notes, DATE '2026-12-31' AS due_on")
    assert sandbox.sync().success
    sandbox.write_model("SELECT 'a' AS id, 'Call Acme' AS name, 'second' AS notes, DATE '2027-01-15' AS due_on")
    planned = materialization(dry_run(sandbox), "asana_task_payloads")
    gid = sandbox.tasks()[0]["gid"]
    assert planned["to_update"] == 1 and planned["field_changes"] == 2
    assert planned["planned_payloads"] == f'- `a` → PUT /tasks/{gid}: `{{"due_on":"2027-01-15","notes":"second"}}`'
    assert f"| a | {gid} | notes | first | second |" in planned["planned_changes"]
    assert f"| a | {gid} | due_on | 2026-12-31 | 2027-01-15 |" in planned["planned_changes"]
    assert [task["notes"] for task in sandbox.tasks()] == ["first"]
    assert planned["rebuild_from_asana"] == "_no rebuild: the sync state knows this sync's tasks_"


def test_the_dry_run_shows_people_tags_and_options_by_name(sandbox):
    model = "SELECT 'a' AS id, 'Call Acme' AS name, '{person}' AS assignee, '{tags}' AS tags, '{health}' AS \"custom_fields.Health\""
    sandbox.write_model(model.format(person="ada@acme.example", tags="churn-risk", health="Green"))
    assert sandbox.sync().success
    sandbox.write_model(model.format(person="grace@acme.example", tags="churn-risk, renewal", health="Red"))
    planned = materialization(dry_run(sandbox), "asana_task_payloads")
    gid = sandbox.tasks()[0]["gid"]
    table = planned["planned_changes"]
    assert f"| a | {gid} | assignee | ada@acme.example | grace@acme.example |" in table
    assert f"| a | {gid} | tags | churn-risk | churn-risk, renewal |" in table
    assert f"| a | {gid} | custom_fields.Health | Green | Red |" in table
    assert "POST /tasks/" + gid + '/addTag: `{"tag":"1200000000000204"}`' in planned["planned_payloads"]


def test_the_dry_run_announces_a_rebuild_and_counts_after_it(sandbox, tmp_path):
    keyed = {"sync_key_field": "1200000000000301"}
    sandbox.write_model(MODEL)
    assert sandbox.sync(keyed).success
    sandbox.state.rename(tmp_path / "lost.duckdb")
    planned = materialization(dry_run(sandbox, keyed), "asana_task_payloads")
    assert (planned["to_create"], planned["to_adopt_from_asana"], planned["unchanged"]) == (0, 3, 3)
    assert "asana_tasks will first adopt 3 of the 3 tasks of the project" in planned["rebuild_from_asana"]
    assert not sandbox.state.exists() or sandbox.state_rows("synced_tasks") == [], "the dry run recorded nothing"
    result = sandbox.sync(keyed)
    found = materialization(result, "asana_tasks")
    assert (found["created"], found["rebuilt_from_asana"]) == (0, 3)


def test_the_dry_run_checks_the_sync_key_field_as_the_run_would(sandbox):
    sandbox.write_model(MODEL)
    result = dry_run(sandbox, {"sync_key_field": "1299999999999999"})
    assert not result.success
    assert "sync_key_field 1299999999999999 is not a custom field of project" in failure_text(result)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("ASANA_ACCESS_TOKEN", "0/ffffffffffffffffffffffffffffffff", "invalid personal access token"),
        ("ASANA_PROJECT_GID", "987654321", "Project not found — verify the project GID"),
        ("ASANA_PROJECT_GID", "12ab", "Project GID must contain only digits"),
    ],
)
def test_connection_problems_fail_the_run_before_any_write(sandbox, monkeypatch, setting, value, message):
    sandbox.write_model(MODEL)
    monkeypatch.setenv(setting, value)
    result = sandbox.sync()
    assert not result.success
    assert message in failure_text(result)
    assert TOKEN not in failure_text(result)
    assert sandbox.tasks() == []


def test_a_project_the_user_cannot_access_fails_with_access_denied(sandbox, monkeypatch):
    sandbox.write_model(MODEL)
    monkeypatch.setenv("ASANA_PROJECT_GID", "1200000000000199")
    result = sandbox.sync()
    assert not result.success
    assert "Access denied to project 1200000000000199" in failure_text(result)


@pytest.mark.parametrize("mode", ["mirror", "audience", "add_to_list"])
def test_unsupported_modes_fail_with_the_supported_ones_listed(sandbox, mode):
    sandbox.write_model(MODEL)
    result = sandbox.sync({"sync_mode": mode})
    assert not result.success
    assert "supported modes: insert, update, upsert" in failure_text(result)
    assert sandbox.tasks() == []


def test_a_rejected_row_syncs_once_fixed_and_leaves_the_rejection_table(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync().success
    fixed = MODEL.replace("'churn-riks', NULL, NULL, NULL, NULL", "'Churn-Risk', NULL, NULL, NULL, NULL")
    sandbox.write_model(fixed)
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 1
    assert [tag["name"] for tag in sandbox.tasks_by_name()["Unknown tag: Hooli"]["tags"]] == ["churn-risk"]
    assert {row["primary_key"] for row in sandbox.state_rows("rejections")} == {"acct-4"}


def test_a_task_deleted_in_asana_is_created_again_in_upsert_mode(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync().success
    old_gid = sandbox.tasks_by_name()["Call Acme about renewal"]["gid"]
    with sandbox.api() as api:
        api.delete(f"/tasks/{old_gid}").raise_for_status()
    sandbox.write_model(MODEL.replace("'Usage dropped 40%'", "'Usage dropped 55%'"))
    result = sandbox.sync()
    assert result.success, failure_text(result)
    task = sandbox.tasks_by_name()["Call Acme about renewal"]
    assert task["gid"] != old_gid and task["notes"] == "Usage dropped 55%"
    gids = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
    assert gids["acct-1"] == task["gid"]
    assert len(sandbox.tasks()) == 3


def test_a_task_gid_column_naming_a_missing_task_is_a_rejection(sandbox):
    sandbox.write_model("SELECT 'x' AS id, 'Ghost' AS name, '1299999999999999' AS task_gid")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    [rejection] = sandbox.state_rows("rejections")
    assert rejection["field"] == "task_gid" and "1299999999999999" in rejection["reason"] and "not found" in rejection["reason"]
    assert sandbox.tasks() == []


def test_followers_and_tags_on_existing_tasks_change_through_their_own_endpoints(sandbox):
    sandbox.write_model(f"SELECT 'a' AS id, 'Task' AS name, '{CHURN},{ENTERPRISE}' AS tags, 'ada@acme.example, me' AS followers")
    assert sandbox.sync().success
    sandbox.write_model(f"SELECT 'a' AS id, 'Task' AS name, '{ENTERPRISE},{RENEWAL}' AS tags, 'grace@acme.example' AS followers")
    sandbox.reset_stats()
    result = sandbox.sync()
    assert result.success, failure_text(result)
    task = sandbox.tasks_by_name()["Task"]
    assert sorted(tag["name"] for tag in task["tags"]) == ["enterprise", "renewal"]
    assert [user["email"] for user in task["followers"]] == ["grace@acme.example"]
    assert sandbox.stats()["by_status"].get("400", 0) == 0


def test_the_connection_test_job_reports_success_and_each_failure(sandbox, monkeypatch):
    import dagster as dg

    from asana_sync_pipeline.definitions import build_definitions

    def run():
        job = build_definitions().resolve_job_def("asana_connection_test")
        return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    assert run().success
    monkeypatch.setenv("ASANA_PROJECT_GID", "555")
    failed = run()
    assert not failed.success
    assert "Project not found — verify the project GID (555)" in failure_text(failed)
