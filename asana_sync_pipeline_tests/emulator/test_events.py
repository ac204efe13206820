"""The events API (`GET /events?resource=&sync=`): what people and syncs do to a project's tasks, as
Asana reports it, with sync tokens that start with a 412, page by 100 and expire."""

import time

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.emulator.conftest import TOKEN

PROJECT, QBR = "1200000000000100", "1200000000000110"
ENTERPRISE, GRACE = "1200000000000202", "1200000000000012"
IN_PROGRESS = "1200000000000402"


@pytest.fixture
def server():
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as running:
        yield running


def api(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


def fresh_token(http, resource=PROJECT) -> str:
    first = http.get("/events", params={"resource": resource})
    assert first.status_code == 412
    body = first.json()
    assert body["errors"][0]["message"].startswith("Sync token invalid or too old")
    return body["sync"]


def read(http, token, resource=PROJECT):
    answer = http.get("/events", params={"resource": resource, "sync": token})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_first_call_is_412_with_a_token_then_every_kind_of_change_is_reported(server):
    with api(server) as http:
        token = fresh_token(http)
        task = http.post("/tasks", json={"data": {"name": "watched", "projects": [PROJECT]}}).json()["data"]["gid"]
        http.put(f"/tasks/{task}", json={"data": {"notes": "by hand", "completed": True}})
        http.post(f"/tasks/{task}/addTag", json={"data": {"tag": ENTERPRISE}})
        http.post(f"/tasks/{task}/addFollowers", json={"data": {"followers": [GRACE]}})
        http.post(f"/sections/{IN_PROGRESS}/addTask", json={"data": {"task": task}})
        http.post(f"/tasks/{task}/addProject", json={"data": {"project": QBR}})
        http.post(f"/tasks/{task}/removeProject", json={"data": {"project": PROJECT}})
        page = read(http, token)
        seen = [(event["action"], (event.get("parent") or {}).get("resource_type"), (event.get("change") or {}).get("field"))
                for event in page["data"]]
        assert ("added", "project", None) in seen
        assert ("changed", None, "notes") in seen and ("changed", None, "completed") in seen
        assert ("changed", None, "tags") in seen and ("changed", None, "followers") in seen
        assert ("added", "section", None) in seen and ("removed", "project", None) in seen
        assert not page["has_more"] and {event["resource"]["gid"] for event in page["data"]} == {task}
        http.put(f"/tasks/{task}", json={"data": {"notes": "after it left"}})
        assert read(http, page["sync"])["data"] == [], "a task that left the project no longer reports there"
        assert [event["change"]["field"] for event in read(http, fresh_token(http, task), task)["data"]] == []


def test_deleted_and_undeleted_tasks_and_subtasks_are_reported(server):
    with api(server) as http:
        parent = http.post("/tasks", json={"data": {"name": "parent", "projects": [PROJECT]}}).json()["data"]["gid"]
        child = http.post(f"/tasks/{parent}/subtasks", json={"data": {"name": "child", "projects": [PROJECT]}}).json()["data"]["gid"]
        token = fresh_token(http)
        assert http.delete(f"/tasks/{parent}").status_code == 200
        page = read(http, token)
        assert sorted((event["action"], event["resource"]["gid"]) for event in page["data"]) == sorted(
            [("deleted", parent), ("deleted", child)]
        )
        assert httpx.post(f"{server.url}/_emulator/undelete/{parent}").json() == {"undeleted": parent}
        again = read(http, page["sync"])
        assert [(event["action"], event["resource"]["gid"]) for event in again["data"]][0] == ("undeleted", parent)
        assert http.get(f"/tasks/{parent}").status_code == 200 and http.get(f"/tasks/{child}").status_code == 404


def test_events_come_100_at_a_time_with_has_more_and_none_is_lost(server):
    with api(server) as http:
        token = fresh_token(http)
        for n in range(250):
            http.post("/tasks", json={"data": {"name": f"task {n}", "projects": [PROJECT]}})
        names, pages = [], 0
        while True:
            page = read(http, token)
            pages += 1
            names += [event["resource"]["name"] for event in page["data"]]
            token = page["sync"]
            if not page["has_more"]:
                break
        assert pages == 3 and names == [f"task {n}" for n in range(250)]


def test_a_token_expires_after_its_lifetime_or_on_demand_and_one_of_another_resource_is_refused(server):
    with EmulatorServer(EmulatorSettings(token=TOKEN, events_token_ttl_seconds=0.3)) as short:
        with api(short) as http:
            token = fresh_token(http)
            assert read(http, token)["data"] == []
            time.sleep(0.5)
            assert http.get("/events", params={"resource": PROJECT, "sync": token}).status_code == 412
    with api(server) as http:
        token = fresh_token(http)
        assert httpx.post(f"{server.url}/_emulator/expire_sync_tokens").json()["expired"] >= 1
        stale = http.get("/events", params={"resource": PROJECT, "sync": token})
        assert stale.status_code == 412 and stale.json()["sync"] != token
        other = fresh_token(http, QBR)
        assert http.get("/events", params={"resource": PROJECT, "sync": other}).status_code == 412
        assert http.get("/events", params={"resource": "999"}).status_code == 404
        assert http.get("/events").status_code == 400
