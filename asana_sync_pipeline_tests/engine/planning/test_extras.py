"""What rows ask for beyond their fields, planned: dependencies between rows (known keys, no cycles, the
rows depended on created first), links kept out of the payload hash, and each task's link work against
what the sync set."""

from __future__ import annotations

import pandas as pd

from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.planning.extras import Extras, link_work
from asana_sync_pipeline.engine.settings import SyncSettings
from asana_sync_pipeline.engine.state import ATTACHMENT, DEPENDENCY, TaskLink


def plan_of(**columns):
    size = len(next(iter(columns.values())))
    model = pd.DataFrame({"id": [chr(ord("a") + n) for n in range(size)], "name": [f"Task {n}" for n in range(size)], **columns})
    return build_plan(model, SyncSettings())


def reasons(plan) -> dict[str, str]:
    return dict(zip(plan.rejections["primary_key"], plan.rejections["reason"]))


def test_rows_depended_on_are_created_first_whatever_the_model_order():
    plan = plan_of(depends_on=["b, c", "c", None, "a"])
    levels = dict(zip(plan.table["primary_key"], plan.table["level"]))
    assert levels == {"c": 0, "b": 1, "a": 2, "d": 3}
    assert reasons(plan) == {}


def test_an_unknown_key_a_row_of_its_own_and_a_cycle_reject_those_rows_with_their_reasons():
    plan = plan_of(depends_on=["zz", "b", "d", "c", None])
    assert reasons(plan) == {
        "a": "depends_on 'zz' is not the primary key of a row of the model",
        "b": "a row cannot depend on itself",
        "c": "depends_on makes a cycle: c -> d -> c",
        "d": "depends_on makes a cycle: c -> d -> c",
    }
    assert plan.counts()["create"] == 1


def test_a_cycle_through_a_parent_is_a_cycle_and_rows_beneath_a_rejected_row_are_rejected():
    plan = plan_of(depends_on=["b", None, None], parent_key=[None, "a", "b"])
    rejected = {(key, field): reason for key, field, reason in plan.rejections.itertuples(index=False)}
    assert rejected[("a", "depends_on")] == "depends_on and parent_key make a cycle: a -> b -> a"
    assert rejected[("b", "depends_on")] == "depends_on and parent_key make a cycle: a -> b -> a"
    assert rejected[("c", "parent_key")] == "its parent row 'b' is rejected, so its task cannot be placed under it"
    assert plan.counts()["create"] == 0


def test_a_row_depending_on_a_rejected_row_still_syncs_and_waits_for_its_task():
    plan = plan_of(depends_on=["b", None], due_on=["2026-12-01", "not a date"])
    assert set(reasons(plan)) == {"b"}
    assert plan.row(0).operation.value == "create"


def test_links_are_not_part_of_the_payload_so_changing_them_is_no_update():
    synced = build_plan(pd.DataFrame({"id": ["a"], "name": ["A"]}), SyncSettings())
    state = pd.DataFrame(
        {"primary_key": ["a"], "task_gid": ["5"], "payload_hash": pd.array([synced.payload_hashes()[0]], dtype="UInt64"),
         "removed": [None], "comment_hash": pd.array([None], dtype="UInt64")}
    )  # fmt: skip
    model = pd.DataFrame({"id": ["a"], "name": ["A"], "attachments": ["https://dash.example/a"]})
    plan = build_plan(model, SyncSettings(), state)
    assert plan.counts()["unchanged"] == 1
    assert plan.extras.attachments_of(0) == [("https://dash.example/a", "https://dash.example/a")]


def extras(**links) -> Extras:
    import json

    return Extras(links={name: pd.array([json.dumps(value)], dtype=object).to_numpy() for name, value in links.items()})


def test_link_work_adds_what_the_row_asks_for_and_removes_only_what_the_sync_set():
    recorded = [
        TaskLink("a", DEPENDENCY, "7", "5"),
        TaskLink("a", DEPENDENCY, "8", "5"),
        TaskLink("a", ATTACHMENT, "https://old.example", "5", "91", "Old"),
        TaskLink("a", ATTACHMENT, "https://keep.example", "5", "92", "Keep"),
    ]
    work = link_work(
        extras(depends_on=["b", "c", "x"], attachments=[["https://keep.example", "Keep"], ["https://new.example", "New"]]),
        0, "a", "5", {"b": "7", "c": "9"}, recorded,
    )  # fmt: skip
    assert work.add_dependencies == ["9"]
    assert work.remove_dependencies == ["8"]
    assert work.waiting == ["x"]
    assert work.add_attachments == [("https://new.example", "New")]
    assert [link.link_gid for link in work.delete_attachments] == ["91"]


def test_a_column_the_model_lacks_leaves_what_the_sync_set_and_links_of_an_earlier_task_are_forgotten():
    recorded = [TaskLink("a", ATTACHMENT, "https://x.example", "5", "91", "X"), TaskLink("a", DEPENDENCY, "7", "4")]
    work = link_work(extras(depends_on=[]), 0, "a", "5", {}, recorded)
    assert not work.delete_attachments and not work.remove_dependencies
    assert [link.task_gid for link in work.stale] == ["4"]


def test_a_renamed_link_is_attached_again_under_its_new_name_and_an_unsettled_one_checked_first():
    recorded = [TaskLink("a", ATTACHMENT, "https://x.example", "5", "91", "X"), TaskLink("a", ATTACHMENT, "https://y.example", "5", None, "Y")]
    work = link_work(extras(attachments=[["https://x.example", "Renamed"], ["https://y.example", "Y"]]), 0, "a", "5", {}, recorded)
    assert work.add_attachments == [("https://x.example", "Renamed")]
    assert [link.link_gid for link in work.delete_attachments] == ["91"]
    assert [link.target for link in work.unsettled] == ["https://y.example"]
