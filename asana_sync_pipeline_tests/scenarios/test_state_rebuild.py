"""A lost state, rebuilt from Asana: with sync_key_field set, a run that finds no state for its sync
lists the project's tasks once and adopts those carrying its rows' keys before creating anything,
whether the state was a DuckDB file or a PostgreSQL database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from asana_sync_pipeline.emulator.observe import Exchange, observing
from asana_sync_pipeline_tests.conftest import failure_text, materialization

SYNC_KEY_FIELD = "1200000000000301"
ROWS = 230
"""More than two pages of 100: the listing is paginated."""


def model_sql(rows: int, renamed: int = 0) -> str:
    return (
        f"SELECT 'row-' || lpad(i::VARCHAR, 4, '0') AS id, CASE WHEN i < {renamed} THEN 'Renamed ' ELSE 'Task ' END || i AS name, "
        f"DATE '2026-12-01' + (i % 30)::INTEGER AS due_on FROM range({rows}) t(i)"
    )


@pytest.fixture(params=["duckdb", "postgres"])
def lose_state(request, sandbox, monkeypatch, tmp_path) -> Callable[[], None]:
    """Puts the sync's state in the store of the test's kind; calling it loses that state for a new, empty one."""
    generation = Counter()

    def fresh_state() -> None:
        generation["state"] += 1
        if request.param == "duckdb":
            monkeypatch.setenv("SYNC_STATE_DUCKDB_PATH", str(tmp_path / f"state-{generation['state']}.duckdb"))
        else:
            server = request.getfixturevalue("postgres_server")
            monkeypatch.setenv("SYNC_STATE_URL", server.url(server.new_database()))

    fresh_state()
    return fresh_state


def test_a_lost_state_is_rebuilt_from_asana_with_no_create_for_rows_that_have_a_task(sandbox, lose_state, capfd):
    settings = {"sync_key_field": SYNC_KEY_FIELD}
    sandbox.write_model(model_sql(ROWS))
    first = sandbox.sync(settings)
    assert first.success, failure_text(first)
    assert materialization(first, "asana_tasks")["created"] == ROWS

    lose_state()
    sandbox.write_model(model_sql(ROWS + 3, renamed=5))
    listings: list[Exchange] = []
    with observing(lambda exchange: listings.append(exchange) if exchange.method == "GET" and exchange.path.endswith("/tasks") else None):
        second = sandbox.sync(settings)
    assert second.success, failure_text(second)
    summary = materialization(second, "asana_tasks")
    assert (summary["rebuilt_from_asana"], summary["created"], summary["updated"], summary["unchanged"]) == (ROWS, 3, 5, ROWS - 5)
    assert len(listings) == 3 and summary["warnings"] == "_none_"
    assert f"Rebuilt the sync state from Asana: {ROWS} tasks adopted by their key ({ROWS - 5} already show their row, 5 to update)" in capfd.readouterr().err

    tasks = sandbox.tasks()
    keys = Counter(next(field["text_value"] for field in task["custom_fields"] if field["gid"] == SYNC_KEY_FIELD) for task in tasks)
    assert len(tasks) == ROWS + 3 and max(keys.values()) == 1
    assert sum(task["name"].startswith("Renamed ") for task in tasks) == 5

    third = materialization(sandbox.sync(settings), "asana_tasks")
    assert (third["rebuilt_from_asana"], third["created"], third["updated"], third["unchanged"], third["write_requests"]) == (0, 0, 0, ROWS + 3, 0)


def test_a_rebuild_never_posts_a_comment_twice(sandbox, lose_state):
    settings = {"sync_key_field": SYNC_KEY_FIELD}
    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name, 'Figures for ' || i AS comment FROM range(6) t(i)")
    assert materialization(sandbox.sync(settings), "asana_tasks")["comments"] == 6
    lose_state()
    sandbox.write_model(
        "SELECT 'k' || i AS id, 'Task ' || i AS name, "
        "CASE WHEN i = 0 THEN 'New figures for 0' ELSE 'Figures for ' || i END AS comment FROM range(6) t(i)"
    )
    again = materialization(sandbox.sync(settings), "asana_tasks")
    assert (again["rebuilt_from_asana"], again["created"], again["comments"]) == (6, 0, 1)
    with sandbox.api() as api:
        for task in api.get(f"/projects/{sandbox.project_gid}/tasks", params={"opt_fields": "name"}).json()["data"]:
            stories = api.get(f"/tasks/{task['gid']}/stories", params={"opt_fields": "text,resource_subtype"}).json()["data"]
            comments = [story["text"] for story in stories if story["resource_subtype"] == "comment_added"]
            number = task["name"].split()[1]
            expected = [f"Figures for {number}"] + (["New figures for 0"] if number == "0" else [])
            assert comments == expected


def test_tasks_sharing_a_key_are_named_in_the_runs_warnings(sandbox, lose_state):
    settings = {"sync_key_field": SYNC_KEY_FIELD}
    sandbox.write_model(model_sql(3))
    assert sandbox.sync(settings).success
    [first] = [task for task in sandbox.tasks() if any(field.get("text_value") for field in task["custom_fields"])][:1]
    key = next(field["text_value"] for field in first["custom_fields"] if field["gid"] == SYNC_KEY_FIELD)
    with sandbox.api() as api:
        api.post("/tasks", json={"data": {"name": "Copy", "projects": [sandbox.project_gid], "custom_fields": {SYNC_KEY_FIELD: key}}}).raise_for_status()
    lose_state()
    summary = materialization(sandbox.sync(settings), "asana_tasks")
    assert (summary["rebuilt_from_asana"], summary["created"]) == (3, 0)
    assert f"Tasks of project {sandbox.project_gid} carrying a key another task already carries: 1;" in summary["warnings"]
