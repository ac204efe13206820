"""Asana's date rules that span fields, checked on the task a write would leave behind,
on create and on update: one of each date/date-time pair, a start needs a due (a
`start_at` a `due_at`), the start never after the due."""

import pytest

PROJECT = "1200000000000100"
DUE_AT = "2026-12-10T17:00:00Z"


def create(http, **fields):
    return http.post("/tasks", json={"data": {"projects": [PROJECT], "name": "dated", **fields}})


def message(response) -> str:
    return response.json()["errors"][0]["message"]


REFUSED_CREATES = [
    ({"start_on": "2026-12-01", "start_at": "2026-12-01T09:00:00Z", "due_at": DUE_AT}, "You may only provide one of start_on or start_at!"),
    ({"due_on": "2026-12-10", "due_at": DUE_AT}, "You may only provide one of due_on or due_at!"),
    ({"start_at": "2026-12-01T09:00:00Z"}, "start_at: A start time requires a due time"),
    ({"start_at": "2026-12-01T09:00:00Z", "due_on": "2026-12-10"}, "start_at: A start time requires a due time"),
    ({"start_on": "2026-12-01"}, "start_on: A start date requires a due date"),
    ({"start_on": "2026-12-11", "due_at": DUE_AT}, "start_on: The start date must be on or before the due date"),
    ({"start_on": "2026-12-11", "due_on": "2026-12-10"}, "start_on: The start date must be on or before the due date"),
    ({"start_at": "2026-12-10T18:00:00Z", "due_at": DUE_AT}, "start_at: The start time must be on or before the due time"),
]


@pytest.mark.parametrize(("fields", "expected"), REFUSED_CREATES, ids=[expected[:40] for _, expected in REFUSED_CREATES])
def test_creates_breaking_a_date_rule_are_400_and_make_nothing(shared_server, http, fields, expected):
    before = shared_server.task_count()
    response = create(http, **fields)
    assert response.status_code == 400 and message(response).startswith(expected), response.text
    assert shared_server.task_count() == before


@pytest.mark.parametrize("fields", [
    {"start_on": "2026-12-10", "due_at": DUE_AT},
    {"start_on": "2026-12-01", "due_on": "2026-12-10"},
    {"start_at": "2026-12-01T09:00:00Z", "due_at": DUE_AT},
    {"start_on": "2026-12-01", "start_at": None, "due_at": DUE_AT},
])
def test_creates_within_the_rules_are_made(http, fields):
    assert create(http, **fields).status_code == 201


REFUSED_UPDATES = [
    ({"start_at": "2026-12-01T09:00:00Z", "due_at": DUE_AT}, {"due_at": None}, "start_at: A start time requires a due time"),
    ({"start_at": "2026-12-01T09:00:00Z", "due_at": DUE_AT}, {"due_on": "2026-12-10"}, "start_at: A start time requires a due time"),
    ({"start_on": "2026-12-01", "due_on": "2026-12-10"}, {"due_on": None}, "start_on: A start date requires a due date"),
    ({"start_on": "2026-12-05", "due_at": DUE_AT}, {"due_at": "2026-12-04T12:00:00Z"}, "start_on: The start date must be on or before"),
    ({"due_at": DUE_AT}, {"start_on": "2026-12-11"}, "start_on: The start date must be on or before the due date"),
    ({"due_on": "2026-12-10"}, {"start_at": "2026-12-01T09:00:00Z"}, "start_at: A start time requires a due time"),
    ({"due_at": DUE_AT}, {"start_at": "2026-12-11T09:00:00Z"}, "start_at: The start time must be on or before the due time"),
    ({"due_at": DUE_AT}, {"start_on": "2026-12-01", "start_at": "2026-12-01T09:00:00Z"}, "You may only provide one of start_on or start_at!"),
    ({"start_on": "2026-12-01", "due_on": "2026-12-10"}, {"resource_subtype": "milestone"}, "start_on: Milestones cannot have a start date"),
]


@pytest.mark.parametrize(("first", "change", "expected"), REFUSED_UPDATES, ids=[case[2][:40] for case in REFUSED_UPDATES])
def test_updates_are_checked_against_the_task_they_would_leave(http, first, change, expected):
    created = create(http, **first)
    assert created.status_code == 201, created.text
    task = created.json()["data"]
    response = http.put(f"/tasks/{task['gid']}", json={"data": change})
    assert response.status_code == 400 and message(response).startswith(expected), response.text
    assert http.get(f"/tasks/{task['gid']}").json()["data"] == {**task, "num_subtasks": 0}, "a refused write leaves no trace"


def test_updates_that_keep_the_rules_move_dates_together(http):
    task = create(http, start_at="2026-12-01T09:00:00Z", due_at=DUE_AT).json()["data"]
    assert (task["start_on"], task["due_on"]) == ("2026-12-01", "2026-12-10")
    moved = http.put(f"/tasks/{task['gid']}", json={"data": {"start_on": "2026-12-02"}}).json()["data"]
    assert (moved["start_on"], moved["start_at"], moved["due_at"]) == ("2026-12-02", None, "2026-12-10T17:00:00.000Z")
    dated = http.put(f"/tasks/{task['gid']}", json={"data": {"due_on": "2026-12-03"}}).json()["data"]
    assert (dated["due_on"], dated["due_at"], dated["start_on"]) == ("2026-12-03", None, "2026-12-02")
    cleared = http.put(f"/tasks/{task['gid']}", json={"data": {"start_on": None, "due_on": None}}).json()["data"]
    assert (cleared["start_on"], cleared["due_on"]) == (None, None)
