"""Living beside people, made exact (issue 28), end to end through the job against the emulator:
people act under their own tokens (`sandbox.api("ada")`, `sandbox.api("grace")`), the sync under its
own, and what the sync reports and sends is what people did, no more: values `on_create` or
`if_empty` kept from being sent are never taken for written, `if_empty` follows the model until a
person sets a value, a restored older state sends nothing Asana already holds, and a lost state
without a sync key stops before creating its tasks again."""

from __future__ import annotations

import shutil

import httpx
import pytest

from asana_sync_pipeline_tests.conftest import failure_text, materialization, synced, writes_seen

SYNC_KEY_FIELD = "1200000000000301"
HEALTH, GREEN, YELLOW, RED = "1200000000000303", "1200000000000311", "1200000000000312", "1200000000000313"
CHURN = "1200000000000201"
ENTERPRISE = "1200000000000202"
OTHER_PROJECT = "1200000000000110"


def gids(sandbox) -> dict[str, str]:
    return {task["name"]: task["gid"] for task in sandbox.tasks()}


def read(sandbox, gid: str, fields: str) -> dict:
    with sandbox.api("sync") as api:
        return api.get(f"/tasks/{gid}", params={"opt_fields": fields}).raise_for_status().json()["data"]


def health_of(sandbox, gid: str) -> str | None:
    for field in read(sandbox, gid, "custom_fields.enum_value")["custom_fields"]:
        if field["gid"] == HEALTH:
            return (field.get("enum_value") or {}).get("gid")
    return None


def set_health(api: httpx.Client, gid: str, option: str | None) -> None:
    api.put(f"/tasks/{gid}", json={"data": {"custom_fields": {HEALTH: option}}}).raise_for_status()


# 1. Edits by people that nobody made


KEPT = {"field_policies": {"notes": "on_create", "due_on": "if_empty", "custom_fields.Health": "if_empty"}}
BRIEF = ("first brief", "2026-12-31", "Green")


def eight(**rows: tuple[str, str, str]) -> str:
    """Eight rows: each `kN=(notes, due_on, Health)` given, the others `BRIEF`."""
    values = ", ".join(
        "('k{n}', 'Task {n}', '{}', DATE '{}', '{}')".format(*rows.get(f"k{n}", BRIEF), n=n) for n in range(8)
    )
    return f'SELECT * FROM (VALUES {values}) AS t(id, name, notes, due_on, "custom_fields.Health")'


def test_values_on_create_and_if_empty_kept_from_asana_are_never_reported_as_edits(sandbox):
    sandbox.write_model(eight())
    synced(sandbox, KEPT, created=8)
    task = gids(sandbox)
    third = ("second brief", "2027-01-15", "Yellow")
    sandbox.write_model(eight(k3=third))
    with writes_seen() as writes:
        synced(sandbox, KEPT, updated=1)
    assert writes == [("PUT", f"/tasks/{task['Task 3']}", {"due_on": "2027-01-15", "custom_fields": {HEALTH: YELLOW}})], (
        "if_empty fields holding the sync's own values follow the model; on_create notes stay as created"
    )
    with sandbox.api("ada") as ada:
        ada.post(f"/tasks/{task['Task 3']}/addTag", json={"data": {"tag": ENTERPRISE}}).raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, KEPT, edited_in_asana=0, updated=0)
    assert writes == [] and found["asana_edits"] == "_none_", found["asana_edits"]
    assert found["checks"]["asana_matches_model"].passed

    # A field the sync fills because a person emptied it leaves the row's other kept values unwritten.
    with sandbox.api("grace") as grace:
        grace.put(f"/tasks/{task['Task 5']}", json={"data": {"due_on": None}}).raise_for_status()
        set_health(grace, task["Task 5"], RED)
    sandbox.write_model(eight(k3=third, k5=("a new brief", "2027-03-01", "Yellow")))
    with writes_seen() as writes:
        found = synced(sandbox, KEPT, edited_in_asana=1, updated=1)
    assert writes == [("PUT", f"/tasks/{task['Task 5']}", {"due_on": "2027-03-01"})], "only the field a person emptied is filled"
    assert health_of(sandbox, task["Task 5"]) == RED and read(sandbox, task["Task 5"], "notes")["notes"] == "first brief"
    assert "| custom_fields.Health | Yellow | Red | kept |" in found["asana_edits"], found["asana_edits"]
    with sandbox.api("ada") as ada:
        ada.post(f"/tasks/{task['Task 5']}/addTag", json={"data": {"tag": ENTERPRISE}}).raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, KEPT, edited_in_asana=0, updated=0)
    assert writes == [] and found["asana_edits"] == "_none_", found["asana_edits"]

    # The dry run's "before" is what Asana holds.
    sandbox.write_model(eight(k3=third, k5=("a new brief", "2027-04-01", "Yellow")))
    plan = synced(sandbox, KEPT, dry=True, to_update=1)["plan"]
    assert f"| k5 | {task['Task 5']} | due_on | 2027-03-01 | 2027-04-01 |" in plan["planned_changes"], plan["planned_changes"]
    assert "Health" not in plan["planned_changes"], "a person's value is never planned over"


# 2. if_empty follows the model until a person sets a value


FIVE = "SELECT 'k' || i AS id, 'Task ' || i AS name, '{health}' AS \"custom_fields.Health\" FROM range(5) t(i)"
SUGGESTED = {"field_policies": {"custom_fields.Health": "if_empty"}}


def test_if_empty_follows_the_model_until_a_person_sets_a_value_and_the_dry_run_agrees(sandbox):
    sandbox.write_model(FIVE.format(health="Green"))
    synced(sandbox, SUGGESTED, created=5)
    task = gids(sandbox)
    sandbox.write_model(FIVE.format(health="Yellow"))
    synced(sandbox, SUGGESTED, dry=True, to_update=5)
    with writes_seen() as writes:
        synced(sandbox, SUGGESTED, updated=5)
    assert len(writes) == 5 and all(body == {"custom_fields": {HEALTH: YELLOW}} for _, _, body in writes)

    with sandbox.api("grace") as grace:
        set_health(grace, task["Task 1"], RED)
        set_health(grace, task["Task 2"], RED)
    sandbox.write_model(FIVE.format(health="Green"))
    plan = synced(sandbox, SUGGESTED, dry=True, to_update=3)["plan"]
    assert "| k1 |" not in plan["planned_changes"] and "| k2 |" not in plan["planned_changes"]
    with writes_seen() as writes:
        synced(sandbox, SUGGESTED, updated=3, edited_in_asana=2)
    assert sorted(path for _, path, _ in writes) == sorted(f"/tasks/{task[f'Task {n}']}" for n in (0, 3, 4))

    sandbox.write_model(FIVE.format(health="Yellow"))
    synced(sandbox, SUGGESTED, dry=True, to_update=3)
    synced(sandbox, SUGGESTED, updated=3, edited_in_asana=0)
    assert [health_of(sandbox, task[f"Task {n}"]) for n in range(5)] == [YELLOW, RED, RED, YELLOW, YELLOW]

    with sandbox.api("grace") as grace:
        set_health(grace, task["Task 1"], None)
    sandbox.write_model(FIVE.format(health="Green"))
    synced(sandbox, SUGGESTED, dry=True, to_update=4)
    synced(sandbox, SUGGESTED, updated=4)
    assert [health_of(sandbox, task[f"Task {n}"]) for n in range(5)] == [GREEN, GREEN, RED, GREEN, GREEN]


# 3. A restored older state


ROWS = "SELECT 'k' || i AS id, 'Task ' || i AS name, CASE WHEN i < {changed} THEN 'new notes' ELSE 'notes' END AS notes FROM range({count}) t(i)"


@pytest.mark.parametrize("token", ["valid", "expired"])
def test_a_restored_older_state_with_a_sync_key_sends_nothing_asana_holds_and_sees_no_edit(sandbox, tmp_path, token):
    keyed = {"sync_key_field": SYNC_KEY_FIELD}
    sandbox.write_model(ROWS.format(changed=0, count=50))
    synced(sandbox, keyed, created=50)
    shutil.copy(sandbox.state, tmp_path / "older.duckdb")
    sandbox.write_model(ROWS.format(changed=40, count=55))
    synced(sandbox, keyed, created=5, updated=40)
    shutil.copy(tmp_path / "older.duckdb", sandbox.state)
    if token == "expired":
        httpx.post(f"{sandbox.server.url}/_emulator/expire_sync_tokens").raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, keyed, created=0, updated=0, unchanged=55, rebuilt_from_asana=5, edited_in_asana=0)
    assert writes == [], f"{len(writes)} writes of values Asana already holds"
    assert found["checks"]["asana_matches_model"].passed
    with writes_seen() as writes:
        synced(sandbox, keyed, created=0, updated=0, unchanged=55, edited_in_asana=0)
    assert writes == []
    assert len(sandbox.tasks()) == 55


def test_without_a_sync_key_a_restored_state_warns_also_when_its_token_is_still_valid(sandbox, tmp_path):
    sandbox.write_model(ROWS.format(changed=0, count=10))
    synced(sandbox, created=10)
    shutil.copy(sandbox.state, tmp_path / "older.duckdb")
    sandbox.write_model(ROWS.format(changed=0, count=15))
    synced(sandbox, created=5)
    shutil.copy(tmp_path / "older.duckdb", sandbox.state)
    found = synced(sandbox, created=5)
    assert "Tasks of project 'Customer Success Follow-ups' this sync's state does not know: 5." in found["warnings"], found["warnings"]


# 7. A lost state without a sync key


@pytest.mark.parametrize("way_out", ["sync_key_field", "guard_raised"])
def test_a_lost_state_without_a_sync_key_fails_before_any_write_naming_the_ways_out(sandbox, tmp_path, monkeypatch, way_out):
    sandbox.write_model(ROWS.format(changed=0, count=20))
    synced(sandbox, created=20)
    with sandbox.api("ada") as ada:  # a person's own tasks in the project are not the sync's
        for n in range(8):
            ada.post("/tasks", json={"data": {"name": f"Ada's task {n}", "projects": [sandbox.project_gid]}}).raise_for_status()
    monkeypatch.setenv("SYNC_STATE_DUCKDB_PATH", str(tmp_path / "lost.duckdb"))
    dry = sandbox.sync({}, dry=True)
    assert dry.success, failure_text(dry)
    check = {check.check_name: check for check in dry.get_asset_check_evaluations()}["replacements_within_limit"]
    assert not check.passed and "20 tasks" in check.description, check.description
    with writes_seen() as writes:
        tripped = sandbox.sync({})
    assert not tripped.success and writes == []
    message = failure_text(tripped)
    assert "20 tasks created by this sync's user" in message, message
    assert "set sync_key_field" in message and "max_replaced_fraction raised" in message
    assert len(sandbox.tasks()) == 28
    if way_out == "guard_raised":
        synced(sandbox, {"max_replaced_fraction": 1.0}, created=20)
        assert len(sandbox.tasks()) == 48, "raised for one run, the rows get tasks again, as asked"
        return
    keyed = {"sync_key_field": SYNC_KEY_FIELD}
    synced(sandbox, keyed, created=0, rebuilt_from_asana=20, updated=20)
    assert len(sandbox.tasks()) == 28
    carried = {
        task["name"]: next(field["text_value"] for field in task["custom_fields"] if field["gid"] == SYNC_KEY_FIELD)
        for task in sandbox.tasks() if task["name"].startswith("Task ")
    }  # fmt: skip
    assert carried == {f"Task {n}": f"k{n}" for n in range(20)}, "each task now carries its row's key"
    synced(sandbox, keyed, created=0, updated=0, unchanged=20)


@pytest.mark.parametrize("match", ["name", "a field the tasks do not carry"])
def test_a_lost_state_with_adopt_existing_trips_the_guard_only_for_tasks_it_would_not_adopt(sandbox, tmp_path, monkeypatch, match):
    sandbox.write_model(ROWS.format(changed=0, count=20))
    synced(sandbox, created=20)
    monkeypatch.setenv("SYNC_STATE_DUCKDB_PATH", str(tmp_path / "lost.duckdb"))
    if match == "name":
        found = synced(sandbox, {"adopt_existing": {"match": "name", "column": "name"}}, created=0, adopted_existing=20)
        assert found["warnings"] == "_none_", found["warnings"]
        assert len(sandbox.tasks()) == 20, "each task adopted by its name, none made again"
        return
    by_key = {"adopt_existing": {"match": f"custom_fields.{SYNC_KEY_FIELD}", "column": "id"}}
    with writes_seen() as writes:
        tripped = sandbox.sync(by_key)
    assert not tripped.success and writes == [], "the sync's tasks do not carry the key: nothing would adopt them"
    assert "20 tasks created by this sync's user" in failure_text(tripped)
    assert len(sandbox.tasks()) == 20


def test_a_second_syncs_first_run_into_a_project_of_another_syncs_tasks_neither_warns_nor_stops(sandbox, tmp_path, monkeypatch):
    from asana_sync_pipeline_tests.components.asana_sync.test_component import load, project_with, run

    sandbox.write_model(ROWS.format(changed=0, count=20))
    synced(sandbox, created=20)
    yaml = (
        "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: renewals\n  model:\n"
        "    query: \"SELECT id, 'Renewal ' || name AS name FROM asana_task_model\"\n"
        f"  project_gid: '{sandbox.project_gid}'\n  primary_key: id\n"
    )
    defs = load(project_with(tmp_path, {"renewals": yaml}, monkeypatch))
    result = run(defs, "renewals_asana_sync_job")
    assert result.success, failure_text(result)
    found = materialization(result, "renewals__asana_tasks")
    assert found["created"] == 20 and found["warnings"] == "_none_", found["warnings"]


# Rough edges


def test_the_edits_table_names_fields_options_and_people_and_links_to_this_asana(sandbox):
    sandbox.write_model(
        "SELECT 'k' || i AS id, 'Task ' || i AS name, 'Green' AS \"custom_fields.Health\", 'ada@acme.example' AS assignee "
        "FROM range(3) t(i)"
    )
    synced(sandbox, created=3)
    gid = gids(sandbox)["Task 1"]
    with sandbox.api("grace") as grace:
        set_health(grace, gid, RED)
        grace.put(f"/tasks/{gid}", json={"data": {"assignee": "1200000000000012"}}).raise_for_status()
    plan = synced(sandbox, dry=True, edited_in_asana=1)["plan"]
    found = synced(sandbox, edited_in_asana=1)
    for table in (plan["asana_edits"], found["asana_edits"]):
        assert "| custom_fields.Health | Green | Red |" in table, table
        assert "| assignee | ada@acme.example | grace@acme.example |" in table, table
        assert "app.asana.com" not in table and f"({sandbox.server.url}/_emulator/app/0/" in table, table


def test_keep_reports_a_persons_edit_the_models_change_overwrote_with_both_values(sandbox):
    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name, 'model notes' AS notes FROM range(3) t(i)")
    synced(sandbox, created=3)
    gid = gids(sandbox)["Task 1"]
    with sandbox.api("ada") as ada:
        ada.put(f"/tasks/{gid}", json={"data": {"notes": "ada's notes"}}).raise_for_status()
    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name, 'new model notes' AS notes FROM range(3) t(i)")
    plan = synced(sandbox, dry=True)["plan"]
    assert f"| k1 | {gid} | notes | ada's notes | new model notes |" in plan["planned_changes"], plan["planned_changes"]
    assert "| notes | new model notes | ada's notes | overwritten |" in plan["asana_edits"], plan["asana_edits"]
    found = synced(sandbox, edited_in_asana=1, updated=3)
    assert "| notes | new model notes | ada's notes | overwritten |" in found["asana_edits"], found["asana_edits"]
    assert read(sandbox, gid, "notes")["notes"] == "new model notes"


def test_overwrite_lists_an_undone_completion_in_the_edits_table(sandbox):
    overwrite = {"on_asana_edit": "overwrite"}
    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name FROM range(3) t(i)")
    synced(sandbox, overwrite, created=3)
    gid = gids(sandbox)["Task 2"]
    with sandbox.api("ada") as ada:
        ada.put(f"/tasks/{gid}", json={"data": {"completed": True}}).raise_for_status()
    found = synced(sandbox, overwrite, edited_in_asana=1, updated=1)
    assert "| k2 |" in found["asana_edits"] and "| completed | false | true | overwritten |" in found["asana_edits"], found["asana_edits"]
    assert read(sandbox, gid, "completed")["completed"] is False


def test_the_sync_jobs_payloads_say_their_counts_are_before_reading_asana(sandbox):
    overwrite = {"on_asana_edit": "overwrite"}
    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name, 'model notes' AS notes FROM range(3) t(i)")
    synced(sandbox, overwrite, created=3)
    with sandbox.api("ada") as ada:
        for name in ("Task 0", "Task 1"):
            ada.put(f"/tasks/{gids(sandbox)[name]}", json={"data": {"notes": "ada's"}}).raise_for_status()
    found = synced(sandbox, overwrite, updated=2)
    assert found["plan"]["to_update"] == 0
    assert "before reading what people did in Asana" in found["plan"]["counts_note"], found["plan"]


def test_a_task_moved_out_whose_row_also_left_counts_as_moved_out(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name UNION ALL SELECT 'b', 'Moved'")
    synced(sandbox, created=2)
    sandbox.move_out_by_hand(gids(sandbox)["Moved"], OTHER_PROJECT)
    sandbox.write_model("SELECT 'a' AS id, 'Stays' AS name")
    synced(sandbox, {"on_row_removed": "complete"}, moved_out_of_project=1, released=1, completed=0)


def test_the_project_link_in_a_runs_metadata_opens_the_project(sandbox):
    sandbox.write_model(ROWS.format(changed=0, count=2))
    link = synced(sandbox, created=2)["project"]
    assert link.startswith(sandbox.server.url) and sandbox.project_gid in link, link
    with sandbox.api("ada") as ada:
        page = ada.get(link)
    assert page.status_code == 200, f"{link}: {page.status_code}"
    assert "Customer Success Follow-ups" in page.text
