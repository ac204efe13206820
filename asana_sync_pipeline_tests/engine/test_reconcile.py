"""Matching creates of unknown outcome to the tasks they made."""

from datetime import datetime, timedelta, timezone

from asana_sync_pipeline.engine.reconcile import match_intents
from asana_sync_pipeline.engine.state import Intent

T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def task(gid, name, minutes=1, **extra):
    created = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {"gid": gid, "name": name, "created_at": created, **extra}


def test_matches_by_name_and_dates_one_to_one():
    intents = [Intent("a", {"name": "Same"}, T0), Intent("b", {"name": "Same"}, T0), Intent("c", {"name": "Other"}, T0)]
    tasks = [task("1", "Same"), task("2", "Other")]
    assert match_intents(intents, tasks, set()) == {"a": "1", "c": "2"}


def test_known_and_older_tasks_are_never_adopted():
    intents = [Intent("a", {"name": "X"}, T0)]
    assert match_intents(intents, [task("1", "X")], {"1"}) == {}
    assert match_intents(intents, [task("2", "X", minutes=-60)], set()) == {}


def test_dates_must_agree():
    intents = [Intent("a", {"name": "X", "due_on": "2026-02-01"}, T0)]
    assert match_intents(intents, [task("1", "X", due_on="2026-02-02")], set()) == {}
    assert match_intents(intents, [task("1", "X", due_on="2026-02-01")], set()) == {"a": "1"}


def test_sync_key_matching_is_exact():
    intents = [Intent("a", {"name": "Same"}, T0), Intent("b", {"name": "Same"}, T0)]
    tasks = [
        task("1", "Same", custom_fields=[{"gid": "77", "text_value": "b"}]),
        task("2", "Same", custom_fields=[{"gid": "77", "text_value": "zzz"}]),
    ]
    assert match_intents(intents, tasks, set(), sync_key_field="77") == {"b": "1"}


def test_a_task_created_with_due_at_matches_although_asana_filled_in_its_due_on():
    from asana_sync_pipeline.engine.reconcile import _sent_signature, _task_signature

    sent = {"name": "X", "due_at": "2025-01-10T17:00:00.000Z"}
    task = {"name": "X", "due_at": "2025-01-10T17:00:00.000Z", "due_on": "2025-01-10", "start_on": None}
    assert _task_signature(task) == _sent_signature(sent)
