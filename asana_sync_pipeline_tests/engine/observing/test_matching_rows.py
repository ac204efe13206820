"""Which listed tasks a rebuilt state adopts: the oldest task carrying each row's key; recorded as
unchanged only when it already shows what the row would send."""

import pandas as pd

from asana_sync_pipeline.engine.observing.matching import match_tasks_to_rows
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.settings import SyncSettings

PROJECT = "100"
KEY_FIELD = "900"


def task(gid: str, key: str | None, name: str, created_at: str = "2026-11-01T00:00:00.000Z", **fields) -> dict:
    custom = [{"gid": KEY_FIELD, "resource_subtype": "text", "text_value": key}]
    return {"gid": gid, "created_at": created_at, "name": name, "projects": [{"gid": PROJECT}], "custom_fields": custom, **fields}


def adopt(model: pd.DataFrame, tasks: list[dict]):
    plan = build_plan(model, SyncSettings(sync_key_field=KEY_FIELD))
    adoptions = match_tasks_to_rows(plan, tasks, PROJECT, me_gid="1")
    hashes = dict(zip(plan.keys(), plan.payload_hashes()))
    return {outcome.primary_key: (outcome.task_gid, outcome.payload_hash) for outcome in adoptions.outcomes}, adoptions, hashes


def test_a_task_showing_its_row_is_adopted_as_unchanged_and_a_changed_one_for_an_update():
    model = pd.DataFrame({"id": ["a", "b"], "name": ["Call Acme", "Call Initech"]})
    adopted, adoptions, hashes = adopt(model, [task("11", "a", "Call Acme"), task("12", "b", "Call Initech (renamed by hand)")])
    assert adopted == {"a": ("11", int(hashes["a"])), "b": ("12", None)}
    assert (adoptions.up_to_date, adoptions.duplicates) == (1, 0)


def test_the_oldest_of_several_tasks_with_one_key_is_adopted_and_tasks_without_a_row_are_left_alone():
    model = pd.DataFrame({"id": ["a"], "name": ["Call Acme"]})
    tasks = [
        task("13", "a", "Call Acme", created_at="2026-11-03T00:00:00.000Z"),
        task("12", "a", "Call Acme", created_at="2026-11-02T00:00:00.000Z"),
        task("14", "gone", "Someone else's row"),
        task("15", None, "Made by hand"),
    ]
    adopted, adoptions, _ = adopt(model, tasks)
    assert list(adopted) == ["a"] and adopted["a"][0] == "12"
    assert adoptions.duplicates == 1


def test_rows_that_name_their_task_keep_it_and_rejected_rows_are_adopted_for_an_update_once_fixed():
    model = pd.DataFrame(
        {"id": ["a", "b"], "name": ["Call Acme", "Call Initech"], "due_on": ["2026-12-01", "not a date"], "task_gid": ["77", None]}
    )
    adopted, _, _ = adopt(model, [task("11", "a", "Call Acme"), task("12", "b", "Call Initech")])
    assert adopted == {"b": ("12", None)}


def test_a_row_sending_a_field_the_comparison_does_not_cover_is_updated_rather_than_assumed_unchanged():
    model = pd.DataFrame({"id": ["a"], "name": ["Call Acme"], "liked": [True]})
    adopted, _, _ = adopt(model, [task("11", "a", "Call Acme")])
    assert adopted == {"a": ("11", None)}
