"""Dependencies between tasks as Asana keeps them: both ends of a link, at most 30 links a task,
no cycles, Asana's errors for unknown tasks, and the events a link makes."""

import httpx
import pytest

from asana_sync_pipeline_tests.emulator.conftest import TOKEN

PROJECT = "1200000000000100"


def new_tasks(http: httpx.Client, count: int) -> list[str]:
    return [http.post("/tasks", json={"data": {"name": f"step {n}", "projects": [PROJECT]}}).json()["data"]["gid"]
            for n in range(count)]


def links(http: httpx.Client, gid: str) -> tuple[list[str], list[str]]:
    task = http.get(f"/tasks/{gid}", params={"opt_fields": "dependencies,dependents"}).json()["data"]
    return [link["gid"] for link in task["dependencies"]], [link["gid"] for link in task["dependents"]]


def test_a_dependency_shows_at_both_ends_and_is_removed_from_both(http):
    build, test, ship = new_tasks(http, 3)
    assert http.post(f"/tasks/{ship}/addDependencies", json={"data": {"dependencies": [build, test]}}).json() == {"data": {}}
    assert links(http, ship) == ([build, test], [])
    assert links(http, build) == ([], [ship])
    task = http.get(f"/tasks/{ship}", params={"opt_fields": "dependencies"}).json()["data"]
    assert task["dependencies"][0] == {"gid": build, "resource_type": "task"}, "only the gid (and type), as the spec says"
    listed = http.get(f"/tasks/{ship}/dependencies").json()
    assert [(task["gid"], task["name"]) for task in listed["data"]] == [(build, "step 0"), (test, "step 1")]
    paged = http.get(f"/tasks/{ship}/dependencies", params={"limit": 1}).json()
    assert len(paged["data"]) == 1 and paged["next_page"]["offset"]
    assert [task["gid"] for task in http.get(f"/tasks/{test}/dependents").json()["data"]] == [ship]
    again = http.post(f"/tasks/{ship}/addDependencies", json={"data": {"dependencies": [build]}})
    assert again.status_code == 200 and links(http, ship) == ([build, test], []), "adding a link twice keeps one"
    http.post(f"/tasks/{ship}/removeDependencies", json={"data": {"dependencies": [build]}})
    assert links(http, ship) == ([test], []) and links(http, build) == ([], [])
    http.post(f"/tasks/{build}/addDependents", json={"data": {"dependents": [test]}})
    assert links(http, test) == ([build], [ship])


def test_a_cycle_is_refused_and_leaves_nothing_behind(http):
    first, second, third = new_tasks(http, 3)
    http.post(f"/tasks/{second}/addDependencies", json={"data": {"dependencies": [first]}})
    http.post(f"/tasks/{third}/addDependencies", json={"data": {"dependencies": [second]}})
    for gid, body in [(first, {"dependencies": [third]}), (first, {"dependencies": [first]}), (third, {"dependents": [first]})]:
        path = "addDependencies" if "dependencies" in body else "addDependents"
        refused = http.post(f"/tasks/{gid}/{path}", json={"data": body})
        assert refused.status_code == 400 and "circular dependency" in refused.json()["errors"][0]["message"]
    assert links(http, first) == ([], [second]) and links(http, third) == ([second], [])


def test_at_most_30_dependencies_and_dependents_combined(http):
    hub, *others = new_tasks(http, 32)
    assert http.post(f"/tasks/{hub}/addDependencies", json={"data": {"dependencies": others[:20]}}).status_code == 200
    assert http.post(f"/tasks/{hub}/addDependents", json={"data": {"dependents": others[20:30]}}).status_code == 200
    over = http.post(f"/tasks/{hub}/addDependencies", json={"data": {"dependencies": [others[30]]}})
    assert over.status_code == 400
    assert over.json()["errors"][0]["message"].startswith("dependencies: A task can have at most 30 dependents and dependencies combined")
    assert http.post(f"/tasks/{others[30]}/addDependents", json={"data": {"dependents": [hub]}}).status_code == 400, \
        "the limit holds for the other end of a link too"
    assert len(http.get(f"/tasks/{hub}/dependencies").json()["data"]) == 20


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/tasks/{a}/addDependencies", {"dependencies": ["1299999999999999"]}, 400, "dependencies: Not a recognized ID: 1299999999999999"),
    ("/tasks/1299999999999999/addDependencies", {"dependencies": ["{a}"]}, 404, "task: Not a recognized ID: 1299999999999999"),
    ("/tasks/{a}/addDependencies", {}, 400, "dependencies: Missing input"),
    ("/tasks/{a}/addDependencies", {"dependencies": "{b}"}, 400, "dependencies: Must be an array of task GIDs"),
    ("/tasks/{a}/addDependencies", {"dependencies": ["{b}"], "dependents": []}, 400, "dependents: Unknown property"),
    ("/tasks/{a}/removeDependencies", {"dependencies": ["abc"]}, 400, "dependencies: Not a recognized ID: abc"),
])
def test_unknown_tasks_and_malformed_bodies_answer_asanas_errors(http, path, body, status, message):
    a, b = new_tasks(http, 2)
    filled = {key: [item.format(a=a, b=b) for item in value] if isinstance(value, list) else value.format(a=a, b=b)
              for key, value in body.items()}
    answer = http.post(path.format(a=a), json={"data": filled})
    assert (answer.status_code, answer.json()["errors"][0]["message"]) == (status, message)
    assert links(http, a) == ([], [])


def test_links_make_changed_events_on_both_tasks_and_move_modified_at(http, shared_server):
    first, second = new_tasks(http, 2)
    sync = http.get("/events", params={"resource": PROJECT}).json()["sync"]
    before = http.get(f"/tasks/{first}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"]
    http.post(f"/tasks/{second}/addDependencies", json={"data": {"dependencies": [first]}})
    http.post(f"/tasks/{second}/removeDependencies", json={"data": {"dependencies": [first]}})
    events = http.get("/events", params={"resource": PROJECT, "sync": sync}).json()["data"]
    changes = [(event["resource"]["gid"], event["change"]["field"], event["change"]["action"],
                (event["change"].get("added_value") or event["change"].get("removed_value"))["gid"]) for event in events]
    assert sorted(changes) == sorted([
        (second, "dependencies", "added", first), (first, "dependents", "added", second),
        (second, "dependencies", "removed", first), (first, "dependents", "removed", second),
    ])
    assert http.get(f"/tasks/{first}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"] > before


def test_a_deleted_task_leaves_the_links_it_had_until_it_is_back(http, shared_server):
    first, second = new_tasks(http, 2)
    http.post(f"/tasks/{second}/addDependencies", json={"data": {"dependencies": [first]}})
    http.delete(f"/tasks/{first}")
    assert links(http, second) == ([], [])
    assert http.get(f"/tasks/{second}/dependencies").json()["data"] == []
    httpx.post(f"{shared_server.url}/_emulator/undelete/{first}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert links(http, second) == ([first], [])
