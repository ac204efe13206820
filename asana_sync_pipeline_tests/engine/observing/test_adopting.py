"""Tasks that exist paired with rows about to be created (`adopt_existing`): one task per row, one row per
task, never a task the sync knows; anything else names the tasks and adopts nothing."""

from __future__ import annotations

from asana_sync_pipeline.engine.observing.adopting import match_existing


def task(gid: str, name: str, **fields) -> dict:
    return {"gid": gid, "name": name, **fields}


def account(gid: str, name: str, value, kind: str = "text") -> dict:
    custom = {"gid": "301", "name": "Account ID", "resource_subtype": kind}
    custom["text_value" if kind == "text" else "number_value"] = value
    return task(gid, name, custom_fields=[custom])


def test_a_row_adopts_the_one_task_whose_field_equals_its_value():
    found = match_existing([("r1", "Acme"), ("r2", "Beta "), ("r3", "Gamma")], [task("10", "Acme"), task("11", " Beta")], "name", "account", set())
    assert [(adoption.key, adoption.task_gid) for adoption in found] == [("r1", "10"), ("r2", "11")]


def test_two_tasks_matching_one_row_or_one_task_matching_two_rows_adopt_nothing_and_name_the_tasks():
    found = match_existing(
        [("r1", "Acme"), ("r2", "Beta"), ("r3", "Beta")], [task("10", "Acme"), task("12", "Acme"), task("11", "Beta")],
        "name", "account", set(),
    )  # fmt: skip
    by_key = {adoption.key: adoption for adoption in found}
    assert all(adoption.task_gid is None for adoption in found)
    assert "2 tasks of the project have name 'Acme': 10 ('Acme'), 12 ('Acme')" in (by_key["r1"].reason or "")
    assert "task 11 ('Beta') has name 'Beta' like rows 'r2', 'r3'" in (by_key["r2"].reason or "")


def test_a_task_the_sync_knows_is_never_adopted_again():
    assert match_existing([("r1", "Acme")], [task("10", "Acme")], "name", "account", {"10"}) == []


def test_custom_fields_match_by_name_or_gid_text_exactly_and_numbers_by_value():
    tasks = [account("10", "One", "007"), account("11", "Two", 42.0, kind="number")]
    found = match_existing([("r1", "007"), ("r2", 42), ("r3", "7")], tasks, "custom_fields.account id", "account_id", set())
    assert [(adoption.key, adoption.task_gid) for adoption in found] == [("r1", "10"), ("r2", "11")]
    found = match_existing([("r1", "007")], tasks, "custom_fields.301", "account_id", set())
    assert [adoption.task_gid for adoption in found] == ["10"]
