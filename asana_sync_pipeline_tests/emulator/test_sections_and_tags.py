"""Second-wave writes to the schema: tags and sections created, tasks moved between
sections with addTask; every task in a project sits in exactly one of its sections."""

from asana_sync_pipeline_tests.emulator.conftest import client_for

PROJECT, OTHER_PROJECT, INCIDENTS = "1200000000000100", "1200000000000110", "1200000000000120"
WORKSPACE = "1200000000000001"
TRIAGE, IN_PROGRESS = "1200000000000401", "1200000000000402"
NEW, INVESTIGATING = "1200000000000411", "1200000000000412"


def message(response) -> str:
    return response.json()["errors"][0]["message"]


def made(http, **fields) -> dict:
    response = http.post("/tasks", json={"data": {"name": "t", **fields}})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def placements(http, gid: str) -> list[tuple[str, str]]:
    task = http.get(f"/tasks/{gid}", params={"opt_fields": "memberships.section.name"}).json()["data"]
    return [(membership["project"]["gid"], membership["section"]["gid"]) for membership in task["memberships"]]


def test_a_tag_is_created_and_a_second_one_with_the_same_name_is_another_tag(http):
    first = http.post(f"/workspaces/{WORKSPACE}/tags", json={"data": {"name": "sla-breach", "color": "dark-red"}})
    assert first.status_code == 201
    tag = first.json()["data"]
    assert (tag["name"], tag["color"], tag["resource_type"], tag["workspace"]["gid"]) == ("sla-breach", "dark-red", "tag", WORKSPACE)
    second = http.post(f"/workspaces/{WORKSPACE}/tags", json={"data": {"name": "sla-breach"}}).json()["data"]
    assert second["gid"] != tag["gid"]
    listed = http.get(f"/workspaces/{WORKSPACE}/tags", params={"limit": 100}).json()["data"]
    assert [item["gid"] for item in listed if item["name"] == "sla-breach"] == [tag["gid"], second["gid"]]
    assert http.get(f"/tags/{tag['gid']}").json()["data"]["created_at"] == tag["created_at"]
    task = made(http, projects=[PROJECT], tags=[second["gid"]])
    assert task["tags"][0]["gid"] == second["gid"]


def test_tag_creates_asana_refuses(http):
    cases = [
        ({"color": "red"}, 400, "name: Missing input"),
        ({"name": "  "}, 400, "name: A tag needs a non-empty name"),
        ({"name": "x", "color": "red"}, 400, "color: Must be one of"),
        ({"name": "x", "followers": ["nobody@elsewhere.example"]}, 400, "followers: Not a recognized ID or email"),
        ({"name": "x", "shape": "round"}, 400, "shape: Unknown property"),
    ]
    for data, status, expected in cases:
        response = http.post(f"/workspaces/{WORKSPACE}/tags", json={"data": data})
        assert (response.status_code, message(response)[: len(expected)]) == (status, expected)
    assert http.post("/workspaces/999/tags", json={"data": {"name": "x"}}).status_code == 404


def test_sections_are_created_last_or_beside_another(server):
    with client_for(server) as http:
        created = http.post(f"/projects/{INCIDENTS}/sections", json={"data": {"name": "Won't fix"}})
        assert created.status_code == 201
        section = created.json()["data"]
        assert (section["name"], section["project"]["gid"], section["resource_type"]) == ("Won't fix", INCIDENTS, "section")
        first = http.post(f"/projects/{INCIDENTS}/sections", json={"data": {"name": "Inbox", "insert_before": NEW}}).json()["data"]
        after = http.post(f"/projects/{INCIDENTS}/sections", json={"data": {"name": "Triaged", "insert_after": NEW}}).json()["data"]
        names = [s["name"] for s in http.get(f"/projects/{INCIDENTS}/sections").json()["data"]]
        assert names == ["Inbox", "New", "Triaged", "Investigating", "Resolved", "Won't fix"]
        task = made(http, projects=[INCIDENTS])
        assert placements(http, task["gid"]) == [(INCIDENTS, first["gid"])], "a new task goes to the first section"
        refused = [
            http.post(f"/projects/{INCIDENTS}/sections", json={"data": {}}),
            http.post(f"/projects/{INCIDENTS}/sections", json={"data": {"name": "x", "insert_before": TRIAGE}}),
            http.post(f"/projects/{INCIDENTS}/sections", json={"data": {"name": "x", "insert_before": NEW, "insert_after": NEW}}),
        ]
        assert [message(response) for response in refused] == [
            "name: Missing input", f"insert_before: Section {TRIAGE} is not in project {INCIDENTS}",
            "You may only provide one of insert_before or insert_after!"]
        assert http.post("/projects/123/sections", json={"data": {"name": "x"}}).status_code == 404
        assert after["gid"] != section["gid"]


def test_add_task_moves_a_task_to_another_section_of_the_project(http):
    gid = made(http, projects=[PROJECT, INCIDENTS])["gid"]
    assert placements(http, gid) == [(PROJECT, TRIAGE), (INCIDENTS, NEW)]
    moved = http.post(f"/sections/{INVESTIGATING}/addTask", json={"data": {"task": gid}})
    assert (moved.status_code, moved.json()) == (200, {"data": {}})
    assert placements(http, gid) == [(PROJECT, TRIAGE), (INCIDENTS, INVESTIGATING)]
    section_tasks = lambda section: [t["gid"] for t in http.get(f"/sections/{section}/tasks").json()["data"]]  # noqa: E731
    assert gid in section_tasks(INVESTIGATING) and gid not in section_tasks(NEW)
    placed = made(http, memberships=[{"project": PROJECT, "section": IN_PROGRESS}])
    assert placements(http, placed["gid"]) == [(PROJECT, IN_PROGRESS)]


def test_add_task_brings_a_task_into_the_sections_project_when_it_is_not_there(http):
    gid = made(http, workspace=WORKSPACE)["gid"]
    assert http.post(f"/sections/{INVESTIGATING}/addTask", json={"data": {"task": gid}}).status_code == 200
    task = http.get(f"/tasks/{gid}", params={"opt_fields": "projects,memberships"}).json()["data"]
    assert [project["gid"] for project in task["projects"]] == [INCIDENTS]
    assert placements(http, gid) == [(INCIDENTS, INVESTIGATING)]


def test_add_project_without_a_section_keeps_the_tasks_section(http):
    gid = made(http, memberships=[{"project": PROJECT, "section": IN_PROGRESS}])["gid"]
    assert http.post(f"/tasks/{gid}/addProject", json={"data": {"project": PROJECT}}).status_code == 200
    assert placements(http, gid) == [(PROJECT, IN_PROGRESS)]
    assert http.post(f"/tasks/{gid}/addProject", json={"data": {"project": OTHER_PROJECT}}).status_code == 200
    untitled = http.get(f"/projects/{OTHER_PROJECT}/sections").json()["data"][0]["gid"]
    assert placements(http, gid) == [(PROJECT, IN_PROGRESS), (OTHER_PROJECT, untitled)]


def test_add_task_requests_asana_refuses(http):
    gid = made(http, projects=[INCIDENTS])["gid"]
    elsewhere = made(http, projects=[PROJECT])["gid"]
    cases = [
        (NEW, {}, 400, "task: Missing input"),
        (NEW, {"task": "999"}, 400, "task: Not a recognized ID: 999"),
        (NEW, {"task": gid, "insert_before": elsewhere}, 400, f"insert_before: Task {elsewhere} is not in section {NEW}"),
        (NEW, {"task": gid, "insert_before": gid, "insert_after": gid}, 400, "You may only provide one of insert_before"),
        (NEW, {"task": gid, "section": NEW}, 400, "section: Unknown property"),
        ("999", {"task": gid}, 404, "section: Not a recognized ID: 999"),
    ]
    for section, data, status, expected in cases:
        response = http.post(f"/sections/{section}/addTask", json={"data": data})
        assert (response.status_code, message(response)[: len(expected)]) == (status, expected)
    assert placements(http, gid) == [(INCIDENTS, NEW)]
