"""Planning: mapping columns, rules across fields, and the operation chosen per row and sync mode."""

import numpy as np
import pandas as pd
import pytest

from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.engine.fields.mapping import resolve_mapping
from asana_sync_pipeline.engine.planning import api_payload, build_plan
from asana_sync_pipeline.engine.settings import SyncSettings


def model(**columns):
    return pd.DataFrame(columns)


def operations(plan):
    return dict(zip(plan.keys(), plan.operations()))


def reasons(plan):
    return {(key, field): reason for key, field, reason in plan.rejections.itertuples(index=False)}


def synced_from(plan, gids):
    rows = [row for row in plan.rows() if row.key in gids]
    return pd.DataFrame(
        {
            "primary_key": [row.key for row in rows],
            "task_gid": [gids[row.key] for row in rows],
            "payload_hash": pd.array([row.payload_hash for row in rows], dtype="UInt64"),
        }
    )


def test_columns_named_like_fields_map_to_themselves_and_the_rest_is_listed_once():
    mapping = resolve_mapping(["id", "name", "resource_subtype", "updated_at", "task_gid"], SyncSettings())
    assert mapping.fields == {"name": "name", "resource_subtype": "resource_subtype"}
    assert mapping.task_gid_column == "task_gid"
    assert mapping.ignored == ("updated_at",)


def test_explicit_mapping_wins_and_keeps_pass_through():
    settings = SyncSettings(field_mapping={"title": "name", "asana_id": "task_gid"})
    mapping = resolve_mapping(["id", "title", "name", "notes", "asana_id"], settings)
    assert mapping.fields == {"name": "title", "notes": "notes"}
    assert mapping.task_gid_column == "asana_id"
    assert mapping.ignored == ("name",)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (SyncSettings(primary_key="account"), "primary_key 'account' is not a column"),
        (SyncSettings(field_mapping={"missing": "name"}), "which the model does not have"),
        (SyncSettings(field_mapping={"title": "label"}), "not a writable Asana task field"),
        (SyncSettings(field_mapping={"title": "name", "name": "name"}), "maps both"),
    ],
)
def test_mapping_errors_name_the_problem(settings, message):
    with pytest.raises(SyncConfigError, match=message):
        resolve_mapping(["id", "title", "name"], settings)


@pytest.mark.parametrize(("typed", "mode"), [("UPSERT", "upsert"), (" Insert ", "insert"), ("update", "update")])
def test_sync_mode_is_accepted_in_any_case(typed, mode):
    assert SyncSettings(sync_mode=typed).sync_mode.value == mode


@pytest.mark.parametrize("mode", ["mirror", "audience", "add_members", "up sert", ""])
def test_unsupported_modes_are_a_configuration_error_listing_the_supported_ones(mode):
    with pytest.raises(SyncConfigError, match="supported modes: insert, update, upsert"):
        SyncSettings(sync_mode=mode)


def test_sync_key_field_must_be_a_gid():
    with pytest.raises(SyncConfigError, match="text custom field"):
        SyncSettings(sync_key_field="Sync key")


ROWS = model(id=["a", "b", "c"], name=["Alpha", "Beta", "Gamma"], task_gid=[None, "555", None])


def test_upsert_creates_new_rows_and_updates_rows_with_a_task():
    assert operations(build_plan(ROWS, SyncSettings())) == {"a": "create", "b": "update", "c": "create"}


def test_insert_never_updates():
    plan = build_plan(ROWS, SyncSettings(sync_mode="insert"))
    assert operations(plan) == {"a": "create", "b": "unchanged", "c": "create"}


def test_update_rejects_rows_without_a_task_instead_of_dropping_them():
    plan = build_plan(ROWS, SyncSettings(sync_mode="update"))
    assert operations(plan) == {"a": "reject", "b": "update", "c": "reject"}
    assert "no task to update" in reasons(plan)[("a", "task_gid")]


def test_state_map_gives_rows_their_task_and_unchanged_rows_cost_nothing():
    first = build_plan(ROWS, SyncSettings())
    synced = synced_from(first, {"a": "111", "b": "555"})
    again = build_plan(ROWS, SyncSettings(), synced)
    assert operations(again) == {"a": "unchanged", "b": "unchanged", "c": "create"}
    changed = ROWS.assign(name=["Alpha 2", "Beta", "Gamma"])
    plan = build_plan(changed, SyncSettings(), synced)
    assert operations(plan) == {"a": "update", "b": "unchanged", "c": "create"}
    assert plan.by_key("a").task_gid == "111"


def test_a_new_rows_hash_computed_when_asked_is_the_one_planning_computes_once_it_has_a_task():
    """Planning hashes only rows that have a task; a new row's hash is computed when the run asks for
    it. Were the two numbers to differ, every task would look changed on the run after its create."""
    rich = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "name": ["Alpha", "Beta", None, "Delta"],
            "notes": pd.Categorical(["same", "same", None, "other"]),
            "due_on": pd.to_datetime(["2026-01-02", None, "2026-03-04", "2026-03-04"]),
            "assignee": ["ada@acme.example", "me", None, "1200000000000013"],
            "tags": ["11, 22", None, "22", "new tag"],
            "completed": [True, False, True, False],
            "custom_fields": ['{"5": 1}', '{"5": 2.5, "6": "x"}', None, '{"6": null}'],
            "parent_key": [None, "a", "a", None],
        }
    )
    settings = SyncSettings(sync_key_field="1200000000000400")
    new = build_plan(rich, settings)
    assert set(operations(new).values()) <= {"create", "reject"}
    everything_synced = pd.DataFrame(
        {"primary_key": list("abcd"), "task_gid": ["1", "2", "3", "4"], "payload_hash": pd.array([0] * 4, dtype="UInt64")}
    )
    known = build_plan(rich, settings, everything_synced)
    assert set(operations(known).values()) <= {"update", "reject"}
    assert list(new.payload_hashes()) == list(known.payload_hashes())
    assert [row.payload_hash for row in new.rows()] == list(known.payload_hashes())
    assert len(set(new.payload_hashes().tolist())) == 4


def test_task_gid_column_wins_over_the_state_map():
    first = build_plan(ROWS, SyncSettings())
    synced = synced_from(first, {"b": "999"})
    plan = build_plan(ROWS, SyncSettings(), synced)
    assert plan.by_key("b").task_gid == "555"
    assert operations(plan)["b"] == "update"


def test_a_new_field_changes_the_hash_even_when_values_repeat():
    with_notes = build_plan(model(id=["a"], name=["x"], notes=["x"]), SyncSettings())
    with_html = build_plan(model(id=["a"], name=["x"], html_notes=["x"]), SyncSettings())
    assert with_notes.row(0).payload_hash != with_html.row(0).payload_hash


@pytest.mark.parametrize(
    ("columns", "field", "reason"),
    [
        ({"due_on": ["2025-01-02"], "due_at": ["2025-01-02T10:00:00Z"]}, "due_at", "either due_on or due_at"),
        ({"start_on": ["2025-01-02"]}, "start_on", "needs a due date"),
        ({"start_on": ["2025-01-03"], "due_on": ["2025-01-02"]}, "start_on", "after due_on"),
        ({"start_on": ["2025-01-01"], "due_on": ["2025-01-02"], "resource_subtype": ["milestone"]}, "start_on", "milestones"),
        ({"start_at": ["2025-01-02T09:00:00Z"], "due_on": ["2025-01-03"]}, "start_at", "start_at needs due_at"),
        ({"start_on": ["2025-01-01"], "start_at": ["2025-01-01T09:00:00Z"], "due_at": ["2025-01-02T09:00:00Z"]},
         "start_at", "either start_on or start_at"),
        ({"start_on": ["2025-01-03"], "due_at": ["2025-01-03T02:00:00+05:00"]}, "start_on", "after the date of due_at"),
        ({"start_at": ["2025-01-02T10:00:00Z"], "due_at": ["2025-01-02T09:00:00Z"]}, "start_at", "start_at is after due_at"),
        ({"name": [None]}, "name", "name is required to create a task"),
        ({"name": ["   "]}, "name", "name is required to create a task"),
        ({"id": [None]}, "id", "primary key is empty"),
    ],
)
def test_rules_across_fields_reject_the_row(columns, field, reason):
    frame = model(**{"id": ["a"], "name": ["Task"], **columns})
    plan = build_plan(frame, SyncSettings())
    assert list(plan.operations()) == ["reject"]
    assert reason in plan.rejections.set_index("field").loc[field, "reason"]


@pytest.mark.parametrize(
    "columns",
    [
        {"start_on": ["2025-01-03"], "due_at": ["2025-01-02T23:00:00-05:00"]},
        {"start_at": ["2025-01-02T08:00:00Z"], "due_at": ["2025-01-02T09:00:00Z"]},
        {"start_on": ["2025-01-02"], "due_at": ["2025-01-02T00:30:00Z"]},
    ],
)
def test_dates_that_fit_together_plan_a_create(columns):
    plan = build_plan(model(**{"id": ["a"], "name": ["Task"], **columns}), SyncSettings())
    assert list(plan.operations()) == ["create"], plan.rejections


def test_a_blank_task_gid_means_no_task_yet():
    plan = build_plan(model(id=["a", "b", "c"], name=["A", "B", "C"], task_gid=["", "  ", "42"]), SyncSettings())
    assert operations(plan) == {"a": "create", "b": "create", "c": "update"}


def test_a_primary_key_named_like_a_field_is_still_sent_as_that_field():
    plan = build_plan(model(name=["Alpha", "Beta"], notes=["x", "y"]), SyncSettings(primary_key="name"))
    assert plan.mapping.fields == {"name": "name", "notes": "notes"}
    assert plan.payload_fields(0) == {"name": "Alpha", "notes": "x"}


def test_a_mapping_that_shadows_a_column_says_so_once():
    frame = model(id=["a"], title=["From title"], name=["From name"])
    plan = build_plan(frame, SyncSettings(field_mapping={"title": "name"}))
    assert plan.payload_fields(0) == {"name": "From title"}
    assert plan.notes[0] == "field_mapping sends column 'title' as name; the model's own 'name' column is not sent"


def test_duplicate_primary_keys_reject_every_copy_and_others_still_sync():
    plan = build_plan(model(id=["a", "a", "b"], name=["x", "y", "z"]), SyncSettings())
    assert list(plan.operations()) == ["reject", "reject", "create"]


def test_one_bad_value_rejects_only_its_row_with_every_reason():
    frame = model(id=["a", "b"], name=["ok", ""], due_on=["2025-01-01", "someday"])
    plan = build_plan(frame, SyncSettings())
    assert operations(plan) == {"a": "create", "b": "reject"}
    assert set(reasons(plan)) == {("b", "name"), ("b", "due_on")}


def test_payloads_for_create_and_update():
    frame = model(id=["a"], name=["Task"], tags=["11, 22"], completed=["TRUE"], custom_fields=['{"5": 1}'], updated_at=["x"])
    plan = build_plan(frame, SyncSettings(sync_key_field="77"))
    canonical = plan.payload_fields(0)
    create = api_payload(canonical, project_gid="100", sync_key_field="77", for_update=False)
    assert create == {
        "name": "Task",
        "tags": ["11", "22"],
        "completed": True,
        "custom_fields": {"5": 1, "77": "a"},
        "projects": ["100"],
    }
    update = api_payload(canonical, project_gid="100", sync_key_field="77", for_update=True)
    assert update == {"name": "Task", "completed": True, "custom_fields": {"5": 1, "77": "a"}}


def test_integer_primary_keys_are_text():
    plan = build_plan(model(id=pd.array([1, 2], dtype="Int64"), name=["x", "y"]), SyncSettings())
    assert plan.keys() == ["1", "2"]


def test_empty_model_plans_nothing():
    plan = build_plan(model(id=[], name=[]), SyncSettings())
    assert plan.counts() == {"create": 0, "update": 0, "unchanged": 0, "reject": 0}


def test_keys_match_the_state_map_exactly_even_when_their_hashes_collide(monkeypatch):
    from asana_sync_pipeline.engine.planning import keys as planning

    keys = np.array(["a", "b", "c", None], dtype=object)
    synced = np.array(["c", "x", "a"], dtype=object)
    duplicated, position = planning.match_keys(keys, synced)
    assert duplicated.tolist() == [False] * 4 and position.tolist() == [2, -1, 0, -1]
    lengths = lambda values: np.array([len(str(v)) for v in values], dtype=np.int64)  # noqa: E731
    monkeypatch.setattr(planning, "key_hashes_for_matching", lengths)  # repeated hashes: the exact path
    duplicated, position = planning.match_keys(keys, synced)
    assert duplicated.tolist() == [False] * 4 and position.tolist() == [2, -1, 0, -1]
    monkeypatch.setattr(planning, "key_hashes_for_matching", lambda values: np.arange(len(values), dtype=np.int64))  # false matches: caught
    duplicated, position = planning.match_keys(keys, synced)
    assert position.tolist() == [2, -1, 0, -1]
    duplicated, _ = planning.match_keys(np.array(["a", "b", "a", None, None], dtype=object), synced)
    assert duplicated.tolist() == [True, False, True, True, True]


@pytest.mark.parametrize("dtype", ["str", "string[python]", object])
def test_planning_leaves_the_model_as_it_was(dtype):
    """A blank key is rejected without writing None into the model's own column: the same frame plans
    the same way twice (a string[python] column refused the None before)."""
    frame = pd.DataFrame({"id": pd.Series(["a", " ", None], dtype=dtype), "name": ["A", "B", "C"]})
    before = frame.copy()
    first, again = build_plan(frame, SyncSettings()), build_plan(frame, SyncSettings())
    pd.testing.assert_frame_equal(frame, before)
    assert list(first.operations()) == list(again.operations()) == ["create", "reject", "reject"]


def test_rows_naming_a_parent_when_no_row_has_a_usable_key_are_rejected_without_stopping_the_plan():
    plan = build_plan(model(id=[None, "  "], name=["x", "y"], parent_key=["zz", "x"]), SyncSettings())
    assert list(plan.operations()) == ["reject", "reject"]
    assert "parent_key 'zz' is not the primary key of a row of the model" in set(plan.rejections["reason"])


def test_rows_under_parents_are_listed_in_model_order_without_the_rejected_or_top_level_ones():
    plan = build_plan(
        model(id=["c", "p", "lone", "bad"], name=["C", "P", "L", "B"], parent_key=["p", None, "", "nobody"]), SyncSettings()
    )
    assert [(row.key, row.level) for row in plan.under_parents()] == [("c", 1)]
    assert plan.count_under_parents() == 1 and plan.under_parents(0) == []
    assert build_plan(model(id=["a"], name=["A"]), SyncSettings()).under_parents() == []
