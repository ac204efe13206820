"""Reading what people did: the events since the token, the changed tasks one by one or in one
listing of those modified since the first event, and tasks gone or hidden (Asana faked by
`httpx.MockTransport`; the emulator cases live in test_people.py)."""

import asyncio
from datetime import UTC, datetime

import httpx

from asana_sync_pipeline.engine.asana.client import AsanaClient
from asana_sync_pipeline.engine.observing.observe import observe
from asana_sync_pipeline.engine.settings import AsanaSettings
from asana_sync_pipeline.engine.state import EventCursor

PROJECT = "100"
SETTINGS = AsanaSettings(access_token="0/0123456789abcdef", base_url="https://asana.test/api/1.0", max_attempts=1)


def changed(gid: str, at: str) -> dict:
    return {"action": "changed", "resource": {"gid": gid, "resource_type": "task"}, "created_at": at, "user": None}


def run(events: list[dict], tasks: dict[str, int | dict], ours: dict[str, str]):
    """Observe against a fake Asana: `tasks` maps a GID to its task, or to the status its read answers."""
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        path = request.url.path
        if path.endswith("/events"):
            return httpx.Response(200, json={"data": events, "sync": "next", "has_more": False})
        if path.endswith("/tasks"):
            since = request.url.params["modified_since"]
            listed = [task for task in tasks.values() if isinstance(task, dict) and task["modified_at"] >= since]
            return httpx.Response(200, json={"data": listed, "next_page": None})
        answer = tasks[path.rsplit("/", 1)[1]]
        if isinstance(answer, int):
            return httpx.Response(answer, json={"errors": [{"message": "nope"}]})
        return httpx.Response(200, json={"data": answer})

    async def go():
        async with AsanaClient(SETTINGS, transport=httpx.MockTransport(handler)) as client:
            cursor = EventCursor("earlier", datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
            return await observe(client, PROJECT, ours, cursor, want_unknown=False, log=lambda _: None)

    return asyncio.run(go()), asked


def test_few_changed_tasks_are_read_one_by_one_and_gone_or_hidden_ones_noted():
    task = {"gid": "1", "name": "A", "modified_at": "2026-12-04T10:00:00Z", "projects": [{"gid": PROJECT}]}
    seen, asked = run(
        [changed("1", "2026-12-04T10:00:00.000Z"), changed("2", "2026-12-04T10:01:00.000Z"), changed("3", "2026-12-04T10:02:00Z")],
        {"1": task, "2": 404, "3": 403},
        {"1": "a", "2": "b", "3": "c"},
    )
    assert (set(seen.tasks), seen.gone, seen.hidden) == ({"1"}, {"2"}, {"3"})
    assert [request.url.path.rsplit("/", 1)[1] for request in asked] == ["events", "1", "2", "3"]
    assert seen.reads == 4 and seen.cursor.token == "next"


def test_many_changed_tasks_are_listed_from_the_first_event_by_asanas_clock():
    tasks = {str(n): {"gid": str(n), "modified_at": f"2026-12-04T11:{n:02d}:00Z", "projects": [{"gid": PROJECT}]} for n in range(30)}
    tasks["old"] = {"gid": "old", "modified_at": "2026-12-04T10:59:00Z", "projects": [{"gid": PROJECT}]}
    seen, asked = run(
        [changed(str(n), f"2026-12-04T11:{n:02d}:00.000Z") for n in range(30)], tasks, {gid: f"k{gid}" for gid in tasks}
    )
    [listing] = [request for request in asked if request.url.path.endswith("/tasks")]
    assert listing.url.params["modified_since"] == "2026-12-04T10:59:59Z", "the first event, less one second"
    assert set(seen.tasks) == {str(n) for n in range(30)} and seen.reads == 2
