"""What people do in Asana is seen every run, end to end through the job: a person deletes, edits,
completes and moves tasks between runs (through the emulator's API), and the run reports it and
acts as `on_task_deleted` and `on_asana_edit` say; with the events API read since the state's
sync token, and one listing of the project when the token is missing or expired."""

from __future__ import annotations

import shutil

import httpx
import pytest

from asana_sync_pipeline.local.cli import main as cli
from asana_sync_pipeline_tests.conftest import exchanges_seen, failure_text, materialization, synced, writes_seen

SYNC_KEY_FIELD = "1200000000000301"
OTHER_PROJECT = "1200000000000110"


def gids(sandbox) -> dict[str, str]:
    return {task["name"]: task["gid"] for task in sandbox.tasks()}


def read(sandbox, gid: str, fields: str) -> dict:
    with sandbox.api() as api:
        return api.get(f"/tasks/{gid}", params={"opt_fields": fields}).raise_for_status().json()["data"]


def person(sandbox) -> httpx.Client:
    """A colleague working in the project through Asana's API."""
    return sandbox.api()


def reads(exchanges, path: str) -> int:
    """GET requests of `path` (e.g. `/events`, or `/tasks`: a listing of the project) among `exchanges`."""
    return sum(1 for exchange in exchanges if exchange.method == "GET" and exchange.path == path and not exchange.batched)


ROWS = "SELECT 'k' || i AS id, 'Task ' || i AS name, 'notes ' || i AS notes FROM range({count}) t(i)"


# Deletions


def test_a_task_deleted_by_hand_is_recreated_in_the_same_run(sandbox):
    sandbox.write_model(ROWS.format(count=3))
    synced(sandbox, created=3)
    first = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.delete(f"/tasks/{first['Task 1']}").raise_for_status()
    second = synced(sandbox, deleted_in_asana=1, created=1, unchanged=2, recreated_after_deletion=1)
    now = gids(sandbox)
    assert sorted(now) == ["Task 0", "Task 1", "Task 2"] and now["Task 1"] != first["Task 1"]
    assert now["Task 0"] == first["Task 0"]
    rows = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
    assert rows["k1"] == now["Task 1"]
    assert second["checks"]["asana_matches_model"].passed
    synced(sandbox, deleted_in_asana=0, created=0, unchanged=3)


def test_release_forgets_a_deleted_task_until_the_release_is_cleared(sandbox, capsys):
    sandbox.write_model(ROWS.format(count=3))
    release = {"on_task_deleted": "release"}
    synced(sandbox, release, created=3)
    with person(sandbox) as colleague:
        colleague.delete(f"/tasks/{gids(sandbox)['Task 1']}").raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, release, deleted_in_asana=1, released=1, created=0, rejected=1)
    assert writes == []
    assert "was deleted in Asana and on_task_deleted is release" in found["rejections"]
    assert sorted(gids(sandbox)) == ["Task 0", "Task 2"]
    synced(sandbox, release, deleted_in_asana=0, created=0, rejected=1)
    assert sorted(gids(sandbox)) == ["Task 0", "Task 2"], "a released row is not recreated on later runs"
    assert cli(["--clear-releases", "k1"]) == 0
    assert "1 released task(s) forgotten: k1" in capsys.readouterr().out
    synced(sandbox, release, created=1, unchanged=2)
    assert sorted(gids(sandbox)) == ["Task 0", "Task 1", "Task 2"]


TREE = (
    "SELECT * FROM (VALUES ('p', 'Parent', NULL), ('c1', 'Child 1', 'p'), ('c2', 'Child 2', 'p'), "
    "('c3', 'Child 3', 'p'), ('other', 'Other', NULL)) AS t(id, name, parent_key)"
)


def test_a_deleted_parent_comes_back_with_its_three_subtasks_parents_first(sandbox):
    sandbox.write_model(TREE)
    synced(sandbox, created=5)
    first = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.delete(f"/tasks/{first['Parent']}").raise_for_status()
    with writes_seen() as writes:
        synced(sandbox, deleted_in_asana=4, created=4, unchanged=1)
    now = gids(sandbox)
    parent = now["Parent"]
    assert parent != first["Parent"] and now["Other"] == first["Other"]
    created = [(body["name"], body.get("parent")) for method, path, body in writes if (method, path) == ("POST", "/tasks")]
    assert created[0] == ("Parent", None), "parents first"
    assert sorted(created[1:]) == [("Child 1", parent), ("Child 2", parent), ("Child 3", parent)]
    for name in ("Child 1", "Child 2", "Child 3"):
        assert read(sandbox, now[name], "parent")["parent"]["gid"] == parent
    synced(sandbox, created=0, unchanged=5, deleted_in_asana=0)


# Edits


EDITABLE = (
    "SELECT 'k' || i AS id, 'Task ' || i AS name, '{notes}' AS notes, DATE '2026-12-31' AS due_on "
    "FROM range(3) t(i)"
)


def test_keep_leaves_a_persons_edit_reports_it_and_sends_the_models_next_change(sandbox):
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, created=3)
    gid = gids(sandbox)["Task 1"]
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{gid}", json={"data": {"notes": "a person's notes", "due_on": "2027-02-01"}}).raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, edited_in_asana=1, updated=0, unchanged=3)
    assert writes == [], "keep writes nothing over a person's edit"
    assert f"| k1 | [{gid}]" in found["asana_edits"] and "| notes | model notes | a person's notes |" in found["asana_edits"]
    assert "| due_on | 2026-12-31 | 2027-02-01 |" in found["asana_edits"]
    check = found["checks"]["asana_matches_model"]
    assert not check.passed and check.severity.value == "WARN" and check.metadata["tasks_differing"].value == 1
    assert read(sandbox, gid, "notes")["notes"] == "a person's notes"
    later = synced(sandbox, edited_in_asana=0, updated=0, unchanged=3)
    assert later["checks"]["asana_matches_model"].metadata["tasks_differing"].value == 1, "still differing, not reported again"
    assert "| k1 | due_on | 2027-02-01 |" in later["checks"]["asana_matches_model"].metadata["differing"].value
    httpx.post(f"{sandbox.server.url}/_emulator/expire_sync_tokens").raise_for_status()
    listed = synced(sandbox, edited_in_asana=0, updated=0, unchanged=3)
    assert listed["checks"]["asana_matches_model"].metadata["tasks_differing"].value == 1, "a listing finds the same"
    sandbox.write_model(EDITABLE.format(notes="new model notes"))
    with writes_seen() as writes:
        after = synced(sandbox, updated=3)
    assert (("PUT", f"/tasks/{gid}", {"notes": "new model notes"})) in writes, "the model's change of that field is sent"
    task = read(sandbox, gid, "notes,due_on")
    assert task == {"gid": gid, "notes": "new model notes", "due_on": "2027-02-01"}, "the unchanged field stays the person's"
    assert sandbox.state_rows("people_edits")[0] | {"seen_at": None} == {
        "sync_name": "default", "project_gid": sandbox.project_gid, "primary_key": "k1", "field": "due_on",
        "asana_value": '"2027-02-01"', "seen_at": None,
    }  # fmt: skip
    assert after["checks"]["asana_matches_model"].metadata["tasks_differing"].value == 1
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{gid}", json={"data": {"due_on": "2026-12-31"}}).raise_for_status()
    back = synced(sandbox, edited_in_asana=0, updated=0, unchanged=3)
    assert back["checks"]["asana_matches_model"].passed and sandbox.state_rows("people_edits") == [], "a person undid their edit"


def test_overwrite_sends_each_drifted_field_alone_and_undoes_a_completion(sandbox):
    overwrite = {"on_asana_edit": "overwrite"}
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, overwrite, created=3)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{names['Task 0']}", json={"data": {"notes": "a person's notes"}}).raise_for_status()
        colleague.put(f"/tasks/{names['Task 2']}", json={"data": {"completed": True}}).raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, overwrite, edited_in_asana=2, updated=2, unchanged=1)
    assert sorted(writes, key=str) == sorted(
        [("PUT", f"/tasks/{names['Task 0']}", {"notes": "model notes"}), ("PUT", f"/tasks/{names['Task 2']}", {"completed": False})],
        key=str,
    )
    assert found["checks"]["asana_matches_model"].passed
    assert read(sandbox, names["Task 0"], "notes")["notes"] == "model notes"
    assert read(sandbox, names["Task 2"], "completed")["completed"] is False
    with writes_seen() as writes:
        synced(sandbox, overwrite, edited_in_asana=0, updated=0, unchanged=3)
    assert writes == [], "the sync's own writes are not people's edits"


def test_keep_leaves_a_completion_the_row_does_not_say(sandbox):
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, created=3)
    gid = gids(sandbox)["Task 2"]
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{gid}", json={"data": {"completed": True}}).raise_for_status()
    with writes_seen() as writes:
        synced(sandbox, updated=0, unchanged=3)
    assert writes == [] and read(sandbox, gid, "completed")["completed"] is True


# Moves


def test_keep_releases_a_task_moved_to_another_project(sandbox):
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, created=3)
    gid = gids(sandbox)["Task 1"]
    sandbox.move_out_by_hand(gid, OTHER_PROJECT)
    sandbox.write_model(EDITABLE.format(notes="new model notes"))
    with writes_seen() as writes:
        found = synced(sandbox, moved_out_of_project=1, released=1, updated=2, rejected=1, created=0)
    assert all(path != f"/tasks/{gid}" for _, path, _ in writes), "a released task is never written"
    assert "moved out of the project by a person" in found["rejections"]
    task = read(sandbox, gid, "notes,projects")
    assert task["notes"] == "model notes" and [project["gid"] for project in task["projects"]] == [OTHER_PROJECT]
    synced(sandbox, moved_out_of_project=0, updated=0, rejected=1, created=0)


def test_overwrite_puts_a_moved_task_back_before_its_fields(sandbox):
    overwrite = {"on_asana_edit": "overwrite"}
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, overwrite, created=3)
    gid = gids(sandbox)["Task 1"]
    sandbox.move_out_by_hand(gid, OTHER_PROJECT)
    with writes_seen() as writes:
        synced(sandbox, overwrite, moved_out_of_project=1, released=0, updated=1, unchanged=2)
    assert writes[0] == ("POST", f"/tasks/{gid}/addProject", {"project": sandbox.project_gid}), writes
    assert sandbox.project_gid in {project["gid"] for project in read(sandbox, gid, "projects")["projects"]}
    synced(sandbox, overwrite, moved_out_of_project=0, updated=0, unchanged=3)


def test_a_dry_run_shows_people_edits_and_deletions_before_any_write(sandbox):
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, created=3)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{names['Task 0']}", json={"data": {"notes": "a person's notes"}}).raise_for_status()
        colleague.delete(f"/tasks/{names['Task 2']}").raise_for_status()
    with writes_seen() as writes:
        plan = synced(sandbox, dry=True)["plan"]
    assert writes == []
    assert plan["edited_in_asana"] == 1 and plan["deleted_in_asana"] == 1 and plan["to_create"] == 1
    assert "| notes | model notes | a person's notes |" in plan["asana_edits"]
    synced(sandbox, edited_in_asana=1, deleted_in_asana=1, created=1)


def test_asana_tasks_alone_after_a_dry_run_reads_people_again_and_acts(sandbox):
    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, created=3)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.delete(f"/tasks/{names['Task 2']}").raise_for_status()
    plan = synced(sandbox, dry=True)["plan"]
    assert plan["deleted_in_asana"] == 1 and plan["to_create"] == 1
    result = sandbox.sync(only=("asana_tasks",))
    assert result.success, failure_text(result)
    found = materialization(result, "asana_tasks")
    assert (found["deleted_in_asana"], found["created"], found["recreated_after_deletion"]) == (1, 1, 1)
    assert sorted(gids(sandbox)) == ["Task 0", "Task 1", "Task 2"]
    synced(sandbox, created=0, unchanged=3, deleted_in_asana=0)


BAD_WHEN = (
    "SELECT 'k' || i AS id, 'Task ' || i AS name, '{notes}' AS notes, "
    "CASE WHEN i = 1 AND {bad} THEN 'next week' ELSE '2026-12-31' END AS due_on FROM range(3) t(i)"
)


def test_a_rejected_row_whose_task_moved_out_is_released_all_the_same(sandbox):
    sandbox.write_model(BAD_WHEN.format(notes="first", bad="false"))
    synced(sandbox, created=3)
    gid = gids(sandbox)["Task 1"]
    sandbox.move_out_by_hand(gid, OTHER_PROJECT)
    sandbox.write_model(BAD_WHEN.format(notes="first", bad="true"))
    synced(sandbox, rejected=1, released=1, moved_out_of_project=1, unchanged=2)
    sandbox.write_model(BAD_WHEN.format(notes="second", bad="false"))
    with writes_seen() as writes:
        found = synced(sandbox, updated=2, rejected=1)
    assert all(path != f"/tasks/{gid}" for _, path, _ in writes), "the fixed row never writes to the task people took"
    assert "was released to the people working in Asana" in found["rejections"]
    assert read(sandbox, gid, "notes")["notes"] == "first"


def test_a_rejected_row_whose_task_was_deleted_gets_a_task_once_its_value_is_fixed(sandbox):
    sandbox.write_model(BAD_WHEN.format(notes="first", bad="false"))
    synced(sandbox, created=3)
    with person(sandbox) as colleague:
        colleague.delete(f"/tasks/{gids(sandbox)['Task 1']}").raise_for_status()
    sandbox.write_model(BAD_WHEN.format(notes="first", bad="true"))
    synced(sandbox, rejected=1, created=0, deleted_in_asana=1)
    assert "k1" not in {row["primary_key"] for row in sandbox.state_rows("synced_tasks")}, "the deleted task is forgotten"
    sandbox.write_model(BAD_WHEN.format(notes="first", bad="false"))
    synced(sandbox, created=1, rejected=0, unchanged=2)
    assert sorted(gids(sandbox)) == ["Task 0", "Task 1", "Task 2"]


def test_overwrite_never_takes_back_a_field_the_model_hands_over_on_create(sandbox):
    settings = {"on_asana_edit": "overwrite", "field_policies": {"notes": "on_create"}}
    sandbox.write_model(EDITABLE.format(notes="first brief"))
    synced(sandbox, settings, created=3)
    gid = gids(sandbox)["Task 0"]
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{gid}", json={"data": {"notes": "the team's notes"}}).raise_for_status()
    with writes_seen() as writes:
        found = synced(sandbox, settings, edited_in_asana=1, updated=0)
    assert writes == [] and read(sandbox, gid, "notes")["notes"] == "the team's notes"
    assert found["checks"]["asana_matches_model"].passed, "a field people own once written is no mismatch"


# Reading events


def test_an_unchanged_run_of_600_rows_reads_events_and_lists_nothing(sandbox):
    sandbox.write_model(ROWS.format(count=600))
    synced(sandbox, created=600)
    synced(sandbox, unchanged=600)
    with exchanges_seen() as seen:
        found = synced(sandbox, unchanged=600)
    listing = "/tasks"
    assert reads(seen, listing) == 0 and reads(seen, "/events") == 1 and found["asana_reads"] == 1


def test_1000_events_between_runs_are_all_read(sandbox):
    sandbox.write_model(ROWS.format(count=5))
    synced(sandbox, created=5)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        for n in range(999):
            colleague.put(f"/tasks/{names['Task 0']}", json={"data": {"notes": f"draft {n}"}}).raise_for_status()
        colleague.put(f"/tasks/{names['Task 4']}", json={"data": {"notes": "the last edit"}}).raise_for_status()
    with exchanges_seen() as seen:
        found = synced(sandbox, edited_in_asana=2, updated=0)
    assert reads(seen, "/events") == 10, "1,000 events: ten pages of 100 (the first run read its own writes back at its end)"
    assert "| notes | notes 4 | the last edit |" in found["asana_edits"]


def test_many_tasks_edited_by_hand_are_read_in_one_listing_of_the_tasks_modified_since(sandbox):
    sandbox.write_model(ROWS.format(count=250))
    synced(sandbox, created=250)
    synced(sandbox, unchanged=250)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        for n in range(30):
            colleague.put(f"/tasks/{names[f'Task {n * 8}']}", json={"data": {"notes": "by hand"}}).raise_for_status()
    with exchanges_seen() as seen:
        found = synced(sandbox, edited_in_asana=30, updated=0, unchanged=250)
    listings = [exchange.query for exchange in seen if exchange.method == "GET" and exchange.path == "/tasks"]
    assert len(listings) == 1 and "modified_since" in listings[0], "30 changed tasks: one page of those modified since"
    assert reads(seen, "/events") == 1 and found["asana_reads"] == 2


def test_an_expired_token_falls_back_to_one_listing_and_stays_exact(sandbox):
    sandbox.write_model(ROWS.format(count=150))
    synced(sandbox, created=150)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{names['Task 7']}", json={"data": {"notes": "by hand"}}).raise_for_status()
        colleague.delete(f"/tasks/{names['Task 8']}").raise_for_status()
    httpx.post(f"{sandbox.server.url}/_emulator/expire_sync_tokens").raise_for_status()
    listing = "/tasks"
    with exchanges_seen() as seen:
        synced(sandbox, edited_in_asana=1, deleted_in_asana=1, created=1, unchanged=149)
    assert reads(seen, listing) == 2, "one listing: 150 tasks in two pages"
    assert reads(seen, "/events") == 2, "the expired token's 412, and the run's own writes read back at its end"
    assert len(sandbox.tasks()) == 150
    with exchanges_seen() as seen:
        synced(sandbox, edited_in_asana=0, created=0, unchanged=150)
    assert reads(seen, listing) == 0, "the fresh token of the 412 is kept"


def test_a_crash_after_writes_before_the_token_is_saved_loses_no_event(sandbox, monkeypatch):
    from asana_sync_pipeline.engine.state import duckdb_store

    sandbox.write_model(EDITABLE.format(notes="model notes"))
    synced(sandbox, created=3)
    names = gids(sandbox)
    with person(sandbox) as colleague:
        colleague.put(f"/tasks/{names['Task 0']}", json={"data": {"notes": "a person's notes"}}).raise_for_status()
    sandbox.write_model(EDITABLE.format(notes="model notes").replace("'Task ' || i", "'Task ' || i || CASE WHEN i = 2 THEN '!' ELSE '' END"))

    def crash(*args, **kwargs):
        raise RuntimeError("the machine went away")

    with monkeypatch.context() as patched:
        patched.setattr(duckdb_store.DuckDBStateStore, "save_observation", crash)
        result = sandbox.sync({})
    assert not result.success and "the machine went away" in failure_text(result)
    assert "Task 2!" in gids(sandbox), "the writes before the crash landed"
    synced(sandbox, edited_in_asana=1, updated=0, unchanged=3)


# Restored state


@pytest.mark.parametrize("token", ["valid", "expired"])
def test_a_restored_older_state_creates_nothing_twice_with_a_sync_key(sandbox, tmp_path, token):
    keyed = {"sync_key_field": SYNC_KEY_FIELD}
    sandbox.write_model(ROWS.format(count=10))
    synced(sandbox, keyed, created=10)
    shutil.copy(sandbox.state, tmp_path / "older.duckdb")
    sandbox.write_model(ROWS.format(count=60))
    synced(sandbox, keyed, created=50)
    shutil.copy(tmp_path / "older.duckdb", sandbox.state)
    if token == "expired":
        httpx.post(f"{sandbox.server.url}/_emulator/expire_sync_tokens").raise_for_status()
    synced(sandbox, keyed, created=0, unchanged=60, rebuilt_from_asana=50)
    assert len(sandbox.tasks()) == 60
    rows = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}
    assert len(rows) == 60 and set(rows.values()) == {task["gid"] for task in sandbox.tasks()}


def test_without_a_sync_key_a_restored_state_warns_with_the_number_of_unknown_tasks(sandbox, tmp_path):
    sandbox.write_model(ROWS.format(count=10))
    synced(sandbox, created=10)
    shutil.copy(sandbox.state, tmp_path / "older.duckdb")
    sandbox.write_model(ROWS.format(count=15))
    synced(sandbox, created=5)
    shutil.copy(tmp_path / "older.duckdb", sandbox.state)
    httpx.post(f"{sandbox.server.url}/_emulator/expire_sync_tokens").raise_for_status()
    found = synced(sandbox, created=5)
    assert "Tasks of project 'Customer Success Follow-ups' this sync's state does not know: 5." in found["warnings"] and "sync_key_field" in found["warnings"], found["warnings"]


@pytest.mark.parametrize("policy", ["keep", "overwrite"])
def test_a_task_a_person_deletes_and_restores_is_not_created_twice(sandbox, policy):
    settings = {"on_asana_edit": policy}
    sandbox.write_model(ROWS.format(count=2))
    synced(sandbox, settings, created=2)
    gid = gids(sandbox)["Task 0"]
    with person(sandbox) as colleague:
        colleague.delete(f"/tasks/{gid}").raise_for_status()
    httpx.post(f"{sandbox.server.url}/_emulator/undelete/{gid}").raise_for_status()
    synced(sandbox, settings, created=0, deleted_in_asana=0, unchanged=2)
    assert len(sandbox.tasks()) == 2
