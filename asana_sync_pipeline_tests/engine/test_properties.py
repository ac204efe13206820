"""Bad input never crashes a run: arbitrary values in every field either sync or are rejected with a reason."""

import json
import math
from datetime import UTC

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asana_sync_pipeline.engine.fields.value_rules import TASK_FIELDS, normalize_column, to_api_value
from asana_sync_pipeline.engine.planning import api_payload, build_plan
from asana_sync_pipeline.engine.settings import SyncSettings

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(max_size=5).map(lambda text: text * 5000),
    st.binary(max_size=20),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    json_values,
    json_values.map(json.dumps),
    st.lists(st.text(max_size=20), max_size=5).map(np.array),
    st.sampled_from(["true", "FALSE", "2025-12-31", "2025-12-31T17:00:00Z", "me", "a@b.co", "1,2, 3", "{\"1\": 2}", "<body>x</body>", "<body><b>"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(TASK_FIELDS)), values=st.lists(anything, min_size=1, max_size=6))
def test_every_rule_accepts_or_rejects_any_value_and_never_raises(field, values):
    column = normalize_column(TASK_FIELDS[field].rule, pd.Series(values, dtype=object))
    for value, error in zip(column.values, column.reasons()):
        assert value is None or error is None
        if error is not None:
            assert isinstance(error, str) and error
        if value is not None:
            json.dumps(to_api_value(field, value), allow_nan=False)


row_fields = st.fixed_dictionaries({}, optional={field: anything for field in ("name", "notes", "html_notes", "due_on", "due_at", "start_on", "assignee", "tags", "completed", "custom_fields", "task_gid", "resource_subtype", "followers")})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_fields, min_size=1, max_size=8))
def test_each_row_is_planned_or_rejected_with_a_reason(rows):
    frame = pd.DataFrame([{"id": f"k{n}", **row} for n, row in enumerate(rows)], dtype=object)
    plan = build_plan(frame, SyncSettings())
    rejected = set(plan.rejections["primary_key"])
    for position, (key, operation) in enumerate(zip(plan.keys(), plan.operations())):
        assert operation in ("create", "update", "reject")
        if operation == "reject":
            assert key in rejected
            continue
        assert key not in rejected
        body = api_payload(plan.payload_fields(position), project_gid="1", sync_key_field=None, for_update=operation == "update")
        json.dumps(body, allow_nan=False)
        if operation == "create":
            assert body["name"].strip()
        assert not any(isinstance(value, float) and math.isnan(value) for value in body.values())


text_or_null = st.none() | st.text(max_size=12) | st.sampled_from(["me", "a@b.co", "12, 34", "2025-12-31", "true", " ", "{\"1\": 2}"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({field: text_or_null for field in ("id", "name", "notes", "due_on", "assignee", "tags", "completed", "custom_fields")}), min_size=1, max_size=8))
def test_text_read_as_categoricals_plans_exactly_as_plain_text(rows):
    plain = pd.DataFrame(rows, dtype="str")
    encoded = plain.astype("category")
    expected, actual = build_plan(plain, SyncSettings()), build_plan(encoded, SyncSettings())
    pd.testing.assert_frame_equal(actual.table, expected.table)
    pd.testing.assert_frame_equal(actual.rejections, expected.rejections)


PROJECT = "100"
payloads = st.fixed_dictionaries(
    {"name": st.sampled_from(["Follow up", "Follow up ", "Call"])},
    optional={
        "notes": st.sampled_from(["", "a", "b", "a b", "a  b", "a\nb"]),
        "due_on": st.sampled_from(["2026-01-01", "2026-01-02"]),
        "tags": st.lists(st.sampled_from(["1", "2"]), max_size=2, unique=True),
        "completed": st.booleans(),
        "custom_fields": st.dictionaries(st.sampled_from(["300", "301"]), st.sampled_from(["x", "y"]), max_size=2),
    },
)


def shown_by_asana(gid: str, payload: dict) -> dict:
    """A task as Asana lists it after a create with `payload` (defaults filled in, values in its shapes)."""
    return {
        "gid": gid, "name": payload["name"], "notes": payload.get("notes", ""),
        "html_notes": f"<body>{payload.get('notes', '')}</body>", "due_on": payload.get("due_on"), "due_at": None,
        "completed": payload.get("completed", False), "assignee": None,
        "tags": [{"gid": tag} for tag in reversed(payload.get("tags", []))], "followers": [{"gid": "10"}],
        "projects": [{"gid": PROJECT}], "memberships": [{"project": {"gid": PROJECT}, "section": {"gid": "400"}}],
        "custom_fields": [
            {"gid": gid, "resource_subtype": "text", "text_value": payload.get("custom_fields", {}).get(gid)} for gid in ("300", "301")
        ],
        "created_at": "2026-01-01T12:01:00Z",
    }  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(sent=st.lists(payloads, min_size=1, max_size=12), made=st.data())
def test_reconciliation_never_gives_a_row_a_task_that_does_not_hold_its_content(sent, made):
    from datetime import datetime

    from asana_sync_pipeline.engine.observing.matching import match_intents
    from asana_sync_pipeline.engine.observing.task_values import People, appearance_of_payload, appearance_of_task
    from asana_sync_pipeline.engine.state import Intent

    moment = datetime(2026, 1, 1, 12, tzinfo=UTC)
    intents = [Intent(f"k{n}", {**payload, "projects": [PROJECT]}, moment) for n, payload in enumerate(sent)]
    succeeded = made.draw(st.lists(st.booleans(), min_size=len(intents), max_size=len(intents)))
    tasks = [shown_by_asana(str(1000 + n), intent.payload) for n, (intent, ok) in enumerate(zip(intents, succeeded)) if ok]
    matched = match_intents(intents, tasks, set(), me_gid="10")
    people = People("10", tasks)
    by_gid = {task["gid"]: task for task in tasks}
    by_key = {intent.primary_key: intent for intent in intents}
    assert len(set(matched.values())) == len(matched) == len(tasks)
    for key, gid in matched.items():
        assert appearance_of_task(by_gid[gid], people).shows(appearance_of_payload(by_key[key].payload, people))
        assert by_gid[gid]["notes"] == by_key[key].payload.get("notes", ""), "each row keeps its own text"


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.integers(min_value=-(2**127) + 1, max_value=2**127 - 1), min_size=1, max_size=20, unique=True))
def test_keys_wider_than_a_float_stay_distinct_and_exact(keys):
    import duckdb

    from asana_sync_pipeline.engine.model.warehouse import read_model

    values = ", ".join(f"({key}::HUGEINT, 'Task {n}')" for n, key in enumerate(keys))
    with duckdb.connect() as connection:
        model = read_model(connection, f"SELECT * FROM (VALUES {values}) t(id, name)")
    plan = build_plan(model, SyncSettings())
    assert plan.keys() == [str(key) for key in keys]
    assert (plan.operations() == "create").all()
