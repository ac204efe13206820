"""The sync owns only what it wrote, end to end through the job: people tag, follow, move, re-date,
complete, file elsewhere and break down the tasks between runs (through the emulator's API), and
the sync sends only what the model changed, clears what the model cleared, spares people's work
when rows leave, and stops before writing when a key or a column broke upstream."""

from __future__ import annotations

import duckdb
import pytest

from asana_sync_pipeline_tests.conftest import failure_text, materialization, writes_seen

ENTERPRISE, CHURN, RENEWAL = "1200000000000202", "1200000000000201", "1200000000000204"
ADA, GRACE = "1200000000000011", "1200000000000012"
TRIAGE, IN_PROGRESS = "1200000000000401", "1200000000000402"
QBR = "1200000000000110"
ARR, HEALTH = "1200000000000302", "1200000000000303"


def synced(sandbox, settings=None, **expect):
    result = sandbox.sync(settings or {})
    assert result.success, failure_text(result)
    found = {**materialization(result, "asana_tasks"), "plan": materialization(result, "asana_task_payloads")}
    for name, value in expect.items():
        assert found[name] == value, (name, found[name], found)
    return found


def one_task(sandbox, name: str) -> dict:
    [task] = [task for task in sandbox.tasks() if task["name"] == name]
    return task


def read(sandbox, gid: str, fields: str) -> dict:
    with sandbox.api() as api:
        return api.get(f"/tasks/{gid}", params={"opt_fields": fields}).raise_for_status().json()["data"]


ROW = (
    "SELECT 'a' AS id, 'Renewal call' AS name, '{notes}' AS notes, DATE '2026-12-31' AS due_on, "
    "'churn-risk' AS tags, 'ada@acme.example' AS followers, 'To triage' AS section"
)


def test_a_change_of_one_field_sends_that_field_alone_and_leaves_what_people_did(sandbox):
    sandbox.write_model(ROW.format(notes="first notes"))
    synced(sandbox, created=1)
    gid = one_task(sandbox, "Renewal call")["gid"]
    with sandbox.api() as person:
        person.post(f"/tasks/{gid}/addTag", json={"data": {"tag": ENTERPRISE}}).raise_for_status()
        person.post(f"/tasks/{gid}/addFollowers", json={"data": {"followers": [GRACE]}}).raise_for_status()
        person.post(f"/sections/{IN_PROGRESS}/addTask", json={"data": {"task": gid}}).raise_for_status()
        person.put(f"/tasks/{gid}", json={"data": {"due_on": "2027-01-15", "completed": True}}).raise_for_status()
    sandbox.write_model(ROW.format(notes="second notes"))
    with writes_seen() as writes:
        second = synced(sandbox, updated=1, created=0)
    assert writes == [("PUT", f"/tasks/{gid}", {"notes": "second notes"})]
    assert second["plan"]["field_changes"] == 1
    assert f"| a | {gid} | notes | first notes | second notes |" in second["plan"]["planned_changes"], "the dry run shows before and after"
    task = read(sandbox, gid, "notes,due_on,completed,tags,followers,memberships.section")
    assert task["notes"] == "second notes" and task["due_on"] == "2027-01-15" and task["completed"] is True
    assert {tag["gid"] for tag in task["tags"]} == {CHURN, ENTERPRISE}
    assert {ADA, GRACE} <= {user["gid"] for user in task["followers"]}
    assert task["memberships"][0]["section"]["gid"] == IN_PROGRESS
    with writes_seen() as writes:
        synced(sandbox, updated=0, unchanged=1)
    assert writes == [], "an unchanged model costs no write"


def test_tags_the_model_adds_and_removes_leave_a_persons_tag(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Tagged' AS name, 'churn-risk' AS tags")
    synced(sandbox, created=1)
    gid = one_task(sandbox, "Tagged")["gid"]
    with sandbox.api() as person:
        person.post(f"/tasks/{gid}/addTag", json={"data": {"tag": ENTERPRISE}}).raise_for_status()
    sandbox.write_model("SELECT 'a' AS id, 'Tagged' AS name, 'renewal' AS tags")
    with writes_seen() as writes:
        synced(sandbox, updated=1)
    assert sorted(writes) == sorted(
        [("POST", f"/tasks/{gid}/addTag", {"tag": RENEWAL}), ("POST", f"/tasks/{gid}/removeTag", {"tag": CHURN})]
    )
    assert {tag["gid"] for tag in read(sandbox, gid, "tags")["tags"]} == {ENTERPRISE, RENEWAL}


CLEARABLE = (
    "SELECT 'k' || i AS id, 'Task ' || i AS name, "
    "CASE WHEN i = 0 AND {cleared} THEN NULL ELSE DATE '2026-12-31' END AS due_on, "
    "CASE WHEN i = 1 AND {cleared} THEN NULL ELSE 'ada@acme.example' END AS assignee, "
    "CASE WHEN i = 2 AND {cleared} THEN NULL ELSE 'call them' END AS notes, "
    "CASE WHEN i = 3 AND {cleared} THEN NULL ELSE 1200 END AS \"custom_fields.ARR (USD)\" "
    "FROM range(10) t(i)"
)


def test_a_null_clears_the_field_in_asana_and_updated_counts_the_tasks_that_changed(sandbox):
    sandbox.write_model(CLEARABLE.format(cleared="false"))
    synced(sandbox, created=10)
    sandbox.write_model(CLEARABLE.format(cleared="true"))
    with writes_seen() as writes:
        synced(sandbox, updated=4, unchanged=6)
    tasks = {task["name"]: task for task in sandbox.tasks()}
    gids = {name: task["gid"] for name, task in tasks.items()}
    assert sorted((body for _, _, body in writes), key=str) == sorted(
        [{"due_on": None}, {"assignee": None}, {"notes": ""}, {"custom_fields": {ARR: None}}], key=str
    )
    assert tasks["Task 0"]["due_on"] is None and tasks["Task 1"]["assignee"] is None and tasks["Task 2"]["notes"] == ""
    arr = {field["gid"]: field for field in read(sandbox, gids["Task 3"], "custom_fields.number_value")["custom_fields"]}
    assert arr[ARR]["number_value"] is None
    assert tasks["Task 4"]["due_on"] == "2026-12-31" and tasks["Task 4"]["notes"] == "call them"


def test_skip_nulls_keeps_the_value_on_create_writes_once_if_empty_only_fills_a_blank(sandbox):
    policies = {"field_policies": {"due_on": "skip_nulls", "notes": "on_create", "assignee": "if_empty"}}
    sandbox.write_model(
        "SELECT 'k' || i AS id, 'Task ' || i AS name, DATE '2026-12-31' AS due_on, 'first' AS notes, "
        "NULL::VARCHAR AS assignee FROM range(2) t(i)"
    )
    synced(sandbox, policies, created=2)
    gids = {task["name"]: task["gid"] for task in sandbox.tasks()}
    with sandbox.api() as person:
        person.put(f"/tasks/{gids['Task 0']}", json={"data": {"assignee": GRACE, "notes": "a person's notes"}}).raise_for_status()
    sandbox.write_model(
        "SELECT 'k' || i AS id, 'Task ' || i AS name, NULL::DATE AS due_on, 'second' AS notes, "
        "'ada@acme.example' AS assignee FROM range(2) t(i)"
    )
    synced(sandbox, policies, updated=1, unchanged=1)
    person_edited, untouched = read(sandbox, gids["Task 0"], "due_on,notes,assignee"), read(sandbox, gids["Task 1"], "due_on,notes,assignee")
    assert person_edited["due_on"] == "2026-12-31" and untouched["due_on"] == "2026-12-31", "skip_nulls: a NULL never clears"
    assert person_edited["notes"] == "a person's notes" and untouched["notes"] == "first", "on_create: written once"
    assert person_edited["assignee"]["gid"] == GRACE, "if_empty: a person's assignee stays"
    assert untouched["assignee"]["gid"] == ADA, "if_empty: a blank field is filled"
    with writes_seen() as writes:
        synced(sandbox, policies, updated=0, unchanged=2)
    assert writes == [], "a field if_empty kept is not read again while the model keeps its value"


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ({"field_policies": {"colour": "sync"}}, "field_policies names 'colour', which is not a field the sync writes"),
        ({"field_policies": {"notes": "sometimes"}}, "'sometimes' is not a policy; choose sync"),
        ({"field_policies": {"section": "if_empty"}}, "if_empty does not apply to 'section'"),
    ],
)
def test_a_field_policy_that_cannot_work_is_a_configuration_error_naming_the_choices(sandbox, policies, message):
    sandbox.write_model("SELECT 'a' AS id, 'A' AS name")
    result = sandbox.sync(policies)
    assert not result.success and message in failure_text(result)
    assert sandbox.tasks() == []


def test_delete_spares_a_task_moved_out_one_filed_elsewhere_and_one_with_a_persons_subtask(sandbox):
    keys = [f"r{n}" for n in range(10)]
    sandbox.write_model(" UNION ALL ".join(f"SELECT '{key}' AS id, 'Task {key}' AS name" for key in keys))
    synced(sandbox, created=10)
    gids = {task["name"]: task["gid"] for task in sandbox.tasks()}
    with sandbox.api() as person:
        moved, filed, broken_down, plain = gids["Task r0"], gids["Task r1"], gids["Task r2"], gids["Task r3"]
        person.post(f"/tasks/{moved}/addProject", json={"data": {"project": QBR}}).raise_for_status()
        person.post(f"/tasks/{moved}/removeProject", json={"data": {"project": sandbox.project_gid}}).raise_for_status()
        person.post(f"/tasks/{filed}/addProject", json={"data": {"project": QBR}}).raise_for_status()
        subtask = person.post(f"/tasks/{broken_down}/subtasks", json={"data": {"name": "a person's step"}}).raise_for_status().json()["data"]["gid"]
    sandbox.write_model(" UNION ALL ".join(f"SELECT '{key}' AS id, 'Task {key}' AS name" for key in keys[4:]))
    result = synced(sandbox, {"on_row_removed": "delete"}, deleted=1, released=1, removed_from_project=1, completed=1)
    cases = result["removal_cases"]
    assert "| r0 |" in cases and "moved it out of the project" in cases and "released" in cases
    assert "| r1 |" in cases and "removed from this project instead of deleted" in cases
    assert "| r2 |" in cases and subtask in cases and "completed instead of deleted" in cases
    with sandbox.api() as api:
        assert api.get(f"/tasks/{plain}").status_code == 404
        assert [p["gid"] for p in api.get(f"/tasks/{moved}", params={"opt_fields": "projects"}).json()["data"]["projects"]] == [QBR]
        assert [p["gid"] for p in api.get(f"/tasks/{filed}", params={"opt_fields": "projects"}).json()["data"]["projects"]] == [QBR]
        assert api.get(f"/tasks/{broken_down}", params={"opt_fields": "completed"}).json()["data"]["completed"] is True
        assert api.get(f"/tasks/{subtask}").status_code == 200
    with writes_seen() as writes:
        again = synced(sandbox, {"on_row_removed": "delete"})
    assert (again["deleted"], again["released"]) == (0, 0)
    assert [write for write in writes if write[1] != f"/tasks/{broken_down}"] == [], "a released task is never written again"


def test_complete_releases_a_task_a_person_moved_out_instead_of_completing_it(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name UNION ALL SELECT 'b', 'Moved'")
    synced(sandbox, created=2)
    moved = one_task(sandbox, "Moved")["gid"]
    sandbox.move_out_by_hand(moved, QBR)
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name")
    synced(sandbox, {"on_row_removed": "complete"}, completed=0, released=1)
    assert read(sandbox, moved, "completed")["completed"] is False
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name UNION ALL SELECT 'b', 'Moved'")
    back = synced(sandbox, {"on_row_removed": "complete"}, created=0, rejected=1)
    assert "was released to the people working in Asana" in back["rejections"] and "--clear-releases" in back["rejections"]


ROWS = "SELECT {key} AS id, 'Task ' || i AS name, 'call them' AS notes FROM range(20) t(i)"


def test_a_column_turned_null_upstream_trips_the_clear_guard_with_zero_writes_until_raised(sandbox):
    sandbox.write_model(ROWS.format(key="i"))
    synced(sandbox, created=20)
    sandbox.write_model("SELECT i AS id, 'Task ' || i AS name, NULL::VARCHAR AS notes FROM range(20) t(i)")
    with writes_seen() as writes:
        tripped = sandbox.sync({})
    assert not tripped.success and writes == []
    message = failure_text(tripped)
    assert "would clear notes on 20 of the sync's 20 live tasks" in message and "max_cleared_fraction" in message
    assert "Rows such as '0', '1'" in message
    plan = materialization(tripped, "asana_task_payloads")
    assert plan["to_update"] == 20
    checks = {check.check_name: check.passed for check in tripped.get_asset_check_evaluations()}
    assert checks["clears_within_limit"] is False
    synced(sandbox, {"max_cleared_fraction": 1.0}, updated=20)
    assert {task["notes"] for task in sandbox.tasks()} == {""}


def test_a_key_that_changed_format_trips_the_replace_guard_with_zero_writes_until_raised(sandbox):
    sandbox.write_model(ROWS.format(key="CAST(i AS VARCHAR)"))
    synced(sandbox, created=20)
    sandbox.write_model(ROWS.format(key="lpad(CAST(i AS VARCHAR), 3, '0')"))
    with writes_seen() as writes:
        tripped = sandbox.sync({})
    assert not tripped.success and writes == []
    message = failure_text(tripped)
    assert "max_replaced_fraction" in message and "Keys that left: '0', '1'" in message and "keys that appeared: '000', '001'" in message
    synced(sandbox, {"max_replaced_fraction": 1.0}, created=20)


def test_keys_as_integer_then_decimal_are_one_key_and_make_zero_writes(sandbox):
    sandbox.write_model("SELECT CAST(i AS INTEGER) AS id, 'Task ' || i AS name FROM range(1, 9) t(i)")
    synced(sandbox, created=8)
    sandbox.write_model("SELECT CAST(i AS DECIMAL(10, 2)) AS id, 'Task ' || i AS name FROM range(1, 9) t(i)")
    with writes_seen() as writes:
        synced(sandbox, created=0, updated=0, unchanged=8)
    assert writes == []
    sandbox.write_model("SELECT CAST(i AS DOUBLE) AS id, 'Task ' || i AS name FROM range(1, 9) t(i)")
    synced(sandbox, created=0, updated=0, unchanged=8)


def test_decimal_keys_of_an_older_state_are_renamed_in_place_and_their_tasks_kept(sandbox):
    sandbox.write_model("SELECT CAST(i AS DECIMAL(10, 2)) AS id, 'Task ' || i AS name FROM range(1, 9) t(i)")
    synced(sandbox, created=8)
    with duckdb.connect(str(sandbox.state)) as state:  # as an earlier version stored them
        state.execute("UPDATE synced_tasks SET primary_key = primary_key || '.00', written = NULL")
    with writes_seen() as writes:
        synced(sandbox, created=0, unchanged=8)
    assert writes == []
    assert sorted(row["primary_key"] for row in sandbox.state_rows("synced_tasks")) == [str(n) for n in range(1, 9)]


def test_a_row_synced_before_fields_were_recorded_is_updated_in_full_once_then_field_by_field(sandbox):
    sandbox.write_model(ROW.format(notes="first notes"))
    synced(sandbox, created=1)
    gid = one_task(sandbox, "Renewal call")["gid"]
    with duckdb.connect(str(sandbox.state)) as state:  # a state written before this release
        state.execute("UPDATE synced_tasks SET written = NULL")
    sandbox.write_model(ROW.format(notes="second notes"))
    with writes_seen() as writes:
        synced(sandbox, updated=1)
    [put] = [body for method, _, body in writes if method == "PUT"]
    assert set(put) >= {"name", "notes", "due_on"}, "the first run compares as before: every field"
    assert sandbox.state_rows("synced_tasks")[0]["written"] is not None
    sandbox.write_model(ROW.format(notes="third notes"))
    with writes_seen() as writes:
        synced(sandbox, updated=1)
    assert writes == [("PUT", f"/tasks/{gid}", {"notes": "third notes"})]


def test_clearing_a_release_from_the_command_line_gives_the_row_a_task_again(sandbox, capsys):
    from asana_sync_pipeline.local.cli import main

    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name UNION ALL SELECT 'b', 'Moved'")
    synced(sandbox, created=2)
    moved = one_task(sandbox, "Moved")["gid"]
    sandbox.move_out_by_hand(moved, QBR)
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name")
    synced(sandbox, {"on_row_removed": "complete"}, released=1)
    assert main(["--sync", "default", "--clear-releases"]) == 0
    assert "Sync 'default': 1 released task(s) forgotten: b" in capsys.readouterr().out
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name UNION ALL SELECT 'b', 'Moved'")
    synced(sandbox, {"on_row_removed": "complete"}, created=1, rejected=0)
    assert sorted(task["name"] for task in sandbox.tasks()) == ["Moved", "Stays"]
