"""What people did, turned into the plan (pure): deletions, moves and edits under each policy, and
the edits still in place that the state keeps."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from asana_sync_pipeline.engine.observing.apply import people_edits_after, subtasks_to_confirm, with_observation
from asana_sync_pipeline.engine.observing.observe import Observation
from asana_sync_pipeline.engine.observing.task_values import Context, People
from asana_sync_pipeline.engine.planning import Operation, build_plan, with_written
from asana_sync_pipeline.engine.settings import FieldPolicy, SyncSettings
from asana_sync_pipeline.engine.state import DuckDBStateStore, EventCursor, Outcome, SyncScope

PROJECT = "100"
SCOPE = SyncScope("default", PROJECT)
MODEL = pd.DataFrame(
    {
        "id": ["p", "c1", "c2", "other"],
        "name": ["Parent", "Child 1", "Child 2", "Other"],
        "notes": ["n-p", "n-c1", "n-c2", "n-other"],
        "parent_key": [None, "p", "p", None],
    }
)
GIDS = {"p": "11", "c1": "12", "c2": "13", "other": "14"}


def task(key: str, **changes) -> dict:
    row = MODEL.set_index("id").loc[key]
    parent = row["parent_key"]
    return {
        "gid": GIDS[key], "name": row["name"], "notes": row["notes"], "completed": False,
        "parent": {"gid": GIDS[parent]} if isinstance(parent, str) else None, "projects": [{"gid": PROJECT, "name": "P"}],
        **changes,
    }  # fmt: skip


@pytest.fixture
def planned(tmp_path):
    """Plan the model against a state that synced every row, as `settings` say."""
    store = DuckDBStateStore(str(tmp_path / "state.duckdb"))
    written = {
        key: {"name": name, "notes": notes, **({"parent_key": parent} if isinstance(parent, str) else {})}
        for key, name, notes, parent in MODEL.itertuples(index=False)
    }
    first = build_plan(MODEL, SyncSettings())
    hashes = dict(zip(first.keys(), first.payload_hashes()))
    store.apply(SCOPE, "r1", [Outcome(key, task_gid=gid, payload_hash=int(hashes[key]), written=written[key]) for key, gid in GIDS.items()])

    def plan(settings: SyncSettings, model: pd.DataFrame = MODEL):
        synced = store.synced(SCOPE)
        built = build_plan(model, settings, synced)
        return with_written(built, store.written(SCOPE, built.update_keys())), written

    return plan


CTX = Context(project_gid=PROJECT, people=People("1"), kinds={}, sync_key_field=None, task_of_key=GIDS)


def seen(tasks=(), gone=()) -> Observation:
    return Observation(EventCursor("t", datetime.now(UTC)), tasks={item["gid"]: item for item in tasks}, gone=set(gone))


def operations(plan) -> dict[str, str]:
    return dict(zip(plan.table["primary_key"], plan.table["operation"]))


def test_a_deleted_parent_is_recreated_with_the_rows_beneath_it(planned):
    plan, written = planned(SyncSettings())
    assert set(operations(plan).values()) == {Operation.UNCHANGED.value}
    assert subtasks_to_confirm(plan, seen(gone=[GIDS["p"]])) == {GIDS["c1"], GIDS["c2"]}, "its subtasks are read first"
    moved_away = task("c2", parent=None)
    assert subtasks_to_confirm(plan, seen([moved_away], gone=[GIDS["p"]])) == {GIDS["c1"]}
    after = with_observation(plan, seen([moved_away], gone=[GIDS["p"], GIDS["c1"]]), written, CTX)
    assert operations(after) == {"p": "create", "c1": "create", "c2": "unchanged", "other": "unchanged"}, (
        "a subtask a person moved away before deleting its parent is alive: not created twice"
    )
    assert after.people.deleted == 2 and after.people.deleted_keys == ["c1", "p"] and after.people.forget == ["c1", "p"]
    assert [(edit.key, edit.field) for edit in after.people.edits] == [("c2", "parent_key")]


def test_a_rejected_row_still_has_its_tasks_deletion_and_move_recorded(planned):
    bad = MODEL.assign(due_on=["2026-12-31", "2026-12-31", "2026-12-31", "not a date"])
    plan, written = planned(SyncSettings(), bad)
    assert operations(plan)["other"] == "reject"
    moved = with_observation(plan, seen([task("other", projects=[])]), written, CTX)
    assert [release.key for release in moved.people.releases] == ["other"], "released although rejected for its value"
    deleted = with_observation(plan, seen(gone=[GIDS["other"]]), written, CTX)
    assert deleted.people.forget == ["other"] and operations(deleted)["other"] == "reject", "created once its value is fixed"
    plan, written = planned(SyncSettings(on_asana_edit="overwrite"), bad)
    pending = with_observation(plan, seen([task("other", projects=[])]), written, CTX)
    assert pending.people.releases == [] and pending.people.differing == {"other": {"moved_out": "no project"}}


def test_overwrite_sends_later_what_an_earlier_run_could_not(planned):
    plan, written = planned(SyncSettings(on_asana_edit="overwrite"))
    later = with_observation(plan, seen(), written, CTX, kept={"other": {"notes": "by hand", "moved_out": "'Elsewhere'"}})
    position = list(later.table["primary_key"]).index("other")
    assert operations(later)["other"] == "update" and position in later.put_back
    assert [(c.field, c.before, c.after) for c in later.changes[position]] == [("notes", "by hand", "n-other")]
    assert people_edits_after(later, failed=set()) == {}
    assert people_edits_after(later, failed={"other"}) == {"other": {"notes": "by hand", "moved_out": "'Elsewhere'"}}


def test_a_task_the_token_can_no_longer_read_is_released(planned):
    plan, written = planned(SyncSettings(on_asana_edit="overwrite"))
    hidden = Observation(EventCursor("t", datetime.now(UTC)), hidden={GIDS["other"]})
    after = with_observation(plan, hidden, written, CTX)
    assert operations(after)["other"] == "reject" and [release.key for release in after.people.releases] == ["other"]
    assert "can no longer be read (403)" in after.rejections["reason"].iloc[-1]


def test_release_rejects_a_deleted_rows_and_says_how_to_clear_it(planned):
    plan, written = planned(SyncSettings(on_task_deleted="release"))
    after = with_observation(plan, seen(gone=[GIDS["other"]]), written, CTX)
    assert operations(after)["other"] == "reject"
    [reason] = after.rejections.loc[after.rejections["primary_key"] == "other", "reason"]
    assert reason.startswith("its task 14 was deleted in Asana and on_task_deleted is release")
    assert [(release.key, release.task_gid) for release in after.people.releases] == [("other", "14")]


def test_keep_reports_an_edit_once_and_overwrite_sends_that_field_alone(planned):
    plan, written = planned(SyncSettings())
    edited = task("other", notes="by hand")
    kept = with_observation(plan, seen([edited]), written, CTX)
    assert [(edit.key, edit.field, edit.model_value, edit.asana_value) for edit in kept.people.edits] == [
        ("other", "notes", "n-other", "by hand")
    ]
    assert operations(kept)["other"] == "unchanged" and kept.people.differing == {"other": {"notes": "by hand"}}
    again = with_observation(plan, seen([edited]), written, CTX, kept={"other": {"notes": "by hand"}})
    assert again.people.edits == [], "an edit already reported is not reported again"
    changed_again = with_observation(plan, seen([task("other", notes="again")]), written, CTX, kept={"other": {"notes": "by hand"}})
    assert [edit.asana_value for edit in changed_again.people.edits] == ["again"]

    plan, written = planned(SyncSettings(on_asana_edit="overwrite"))
    overwritten = with_observation(plan, seen([edited, task("c1", completed=True)]), written, CTX)
    position = {key: index for index, key in enumerate(overwritten.table["primary_key"])}
    assert operations(overwritten)["other"] == "update"
    assert [(c.field, c.before, c.after) for c in overwritten.changes[position["other"]]] == [("notes", "by hand", "n-other")]
    assert [(c.field, c.after) for c in overwritten.changes[position["c1"]]] == [("completed", False)], "a completion undone"
    assert overwritten.people.differing == {"other": {}, "c1": {}}


def test_a_task_moved_out_is_released_with_keep_and_put_back_with_overwrite(planned):
    moved = task("other", projects=[{"gid": "7", "name": "Elsewhere"}])
    plan, written = planned(SyncSettings())
    released = with_observation(plan, seen([moved]), written, CTX)
    assert operations(released)["other"] == "reject" and released.people.moved_out == 1
    assert "moved out of the project by a person ('Elsewhere')" in released.rejections["reason"].iloc[-1]
    plan, written = planned(SyncSettings(on_asana_edit="overwrite"))
    put_back = with_observation(plan, seen([moved]), written, CTX)
    assert operations(put_back)["other"] == "update" and list(put_back.put_back.values()) == [None]


def test_the_edits_kept_after_a_run_drop_what_it_sent_and_what_left(planned):
    plan, written = planned(SyncSettings())
    before = {"other": {"notes": "by hand"}, "c1": {"notes": "earlier"}, "gone-row": {"notes": "x"}}
    after = with_observation(plan, seen([task("other", notes="by hand")]), written, CTX, kept=before)
    assert people_edits_after(after, failed=set()) == {"other": {"notes": "by hand"}, "c1": {"notes": "earlier"}}
    model = MODEL.assign(notes=["n-p", "new model notes", "n-c2", "n-other"])
    plan, written = planned(SyncSettings(), model)
    sent = with_observation(plan, seen(), written, CTX, kept=before)
    assert people_edits_after(sent, failed=set()) == {"other": {"notes": "by hand"}}, "the model's new notes replaced c1's edit"
    assert people_edits_after(sent, failed={"c1"}) == {"other": {"notes": "by hand"}, "c1": {"notes": "earlier"}}


def test_what_a_policy_kept_from_asana_stays_recorded_as_what_the_sync_wrote(planned):
    policies = {"notes": FieldPolicy.ON_CREATE}
    plan, _ = planned(SyncSettings(field_policies=policies), MODEL.assign(notes=["n-p", "n-c1", "n-c2", "a new brief"]))
    position = list(plan.table["primary_key"]).index("other")
    assert operations(plan)["other"] == "update" and plan.changes[position] == []
    assert plan.recorded_values(position)["notes"] == "n-other", "the model's new brief was never sent: not recorded as written"


def test_a_task_read_decides_if_empty_and_what_it_already_shows_is_not_sent(planned):
    model = MODEL.assign(notes=["n-p", "new c1", "new c2", "new other"])
    plan, written = planned(SyncSettings(field_policies={"notes": FieldPolicy.IF_EMPTY}), model)
    tasks = [task("c1", notes="a person's"), task("c2", notes=""), task("other", notes="new other")]
    after = with_observation(plan, seen(tasks), written, CTX)
    position = {key: index for index, key in enumerate(after.table["primary_key"])}
    assert after.changes[position["c1"]] == [] and after.held[position["c1"]] == {"notes": "n-c1"}, "a person's value holds"
    assert [(c.field, c.after, c.shown_before) for c in after.changes[position["c2"]]] == [("notes", "new c2", "")], "emptied: filled"
    assert after.changes[position["other"]] == [], "Asana already shows it: nothing to send"
    assert after.counts()["update"] == 1, "c2 alone: p is unchanged in the model, other already shows the new notes"
    assert [(edit.key, edit.outcome) for edit in after.people.edits] == [("c1", "kept"), ("c2", "overwritten")]
