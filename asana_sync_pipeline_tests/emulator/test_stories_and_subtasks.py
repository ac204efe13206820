"""A task's life beyond its fields: comments and system stories, subtasks and their
parent, deletion (then 404 everywhere), and faults on every kind of write, including
the ambiguous reset after a comment was already posted."""

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

PROJECT, INCIDENTS = "1200000000000100", "1200000000000120"
WORKSPACE, ME = "1200000000000001", "1200000000000010"
CHURN, NEW = "1200000000000201", "1200000000000411"
STORY_COMPACT = {"gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"}


def made(http, **fields) -> dict:
    response = http.post("/tasks", json={"data": {"projects": [PROJECT], "name": "storied", **fields}})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def message(response) -> str:
    return response.json()["errors"][0]["message"]


def stories(http, gid: str, **params) -> list[dict]:
    return http.get(f"/tasks/{gid}/stories", params=params).json()["data"]


def test_a_new_task_has_asanas_system_story_and_comments_are_authored_by_the_token_user(http):
    gid = made(http)["gid"]
    [system] = stories(http, gid)
    assert set(system) == STORY_COMPACT
    assert (system["resource_subtype"], system["text"], system["created_by"]["gid"]) == (
        "added_to_project", "added to Customer Success Follow-ups", ME)
    posted = http.post(f"/tasks/{gid}/stories", json={"data": {"text": "Renewal call <moved> & rescheduled"}})
    assert posted.status_code == 201
    comment = posted.json()["data"]
    assert (comment["type"], comment["resource_subtype"], comment["created_by"]["gid"]) == ("comment", "comment_added", ME)
    assert comment["html_text"] == "<body>Renewal call &lt;moved&gt; &amp; rescheduled</body>"
    assert comment["target"]["gid"] == gid and comment["created_at"].endswith("Z")
    listed = stories(http, gid, opt_fields="type,text,html_text")
    assert [(story["type"], story["text"]) for story in listed] == [
        ("system", "added to Customer Success Follow-ups"), ("comment", "Renewal call <moved> & rescheduled")]


def test_html_comments_and_repeated_posts(http):
    gid = made(http)["gid"]
    rich = http.post(f"/tasks/{gid}/stories", json={"data": {"html_text": '<body>See <a href="https://acme.example">the <strong>runbook</strong></a></body>'}})
    assert rich.status_code == 201 and rich.json()["data"]["text"] == "See the runbook"
    for _ in range(2):
        assert http.post(f"/tasks/{gid}/stories", json={"data": {"text": "same"}}).status_code == 201
    comments = [story for story in stories(http, gid) if story["resource_subtype"] == "comment_added"]
    assert [story["text"] for story in comments] == ["See the runbook", "same", "same"], "a comment post is not idempotent"
    first = http.get(f"/tasks/{gid}/stories", params={"limit": 2}).json()
    rest = http.get(f"/tasks/{gid}/stories", params={"limit": 2, "offset": first["next_page"]["offset"]}).json()
    assert [s["gid"] for s in first["data"] + rest["data"]] == [s["gid"] for s in stories(http, gid)]


@pytest.mark.parametrize(("data", "expected"), [
    ({}, "text: Missing input"),
    ({"text": "   "}, "text: A comment cannot be empty"),
    ({"text": "a", "html_text": "<body>a</body>"}, "You may only provide one of text or html_text!"),
    ({"html_text": "<body><h1>Title</h1></body>"}, "html_text: Tag <h1> is not supported"),
    ({"html_text": "plain"}, "html_text: XML is invalid"),
    ({"text": 5}, "text: Must be a string"),
    ({"text": "x", "is_pinned": "yes"}, "is_pinned: Must be a boolean"),
    ({"text": "x", "mood": "happy"}, "mood: Unknown property"),
])
def test_comments_asana_refuses(http, data, expected):
    gid = made(http)["gid"]
    response = http.post(f"/tasks/{gid}/stories", json={"data": data})
    assert response.status_code == 400 and message(response).startswith(expected), response.text
    assert len(stories(http, gid)) == 1


def test_subtasks_their_parent_and_the_project_list(http):
    parent = made(http, name="parent")["gid"]
    child = http.post("/tasks", json={"data": {"parent": parent, "name": "child"}}).json()["data"]
    assert child["parent"]["gid"] == parent and child["projects"] == [] and child["memberships"] == []
    assert [task["gid"] for task in http.get(f"/tasks/{parent}/subtasks").json()["data"]] == [child["gid"]]
    assert http.get(f"/tasks/{parent}", params={"opt_fields": "num_subtasks"}).json()["data"]["num_subtasks"] == 1
    project_tasks = [task["gid"] for task in http.get(f"/projects/{PROJECT}/tasks").json()["data"]]
    assert child["gid"] not in project_tasks, "a subtask is not in the project's list unless added to it"
    orphan = http.post(f"/tasks/{child['gid']}/setParent", json={"data": {"parent": None}}, params={"opt_fields": "parent"})
    assert orphan.json()["data"] == {"gid": child["gid"], "parent": None}
    assert http.get(f"/tasks/{parent}/subtasks").json()["data"] == []
    assert message(http.post(f"/tasks/{child['gid']}/setParent", json={"data": {}})) == "parent: Missing input"


def test_a_deleted_task_is_404_everywhere_with_its_subtasks_and_stories(http):
    gid = made(http)["gid"]
    child = http.post("/tasks", json={"data": {"parent": gid, "name": "child"}}).json()["data"]["gid"]
    http.post(f"/tasks/{gid}/stories", json={"data": {"text": "before"}})
    assert http.delete(f"/tasks/{gid}").json() == {"data": {}}
    answers = [
        http.get(f"/tasks/{gid}"), http.put(f"/tasks/{gid}", json={"data": {"name": "x"}}), http.delete(f"/tasks/{gid}"),
        http.post(f"/tasks/{gid}/addTag", json={"data": {"tag": CHURN}}), http.post(f"/tasks/{gid}/setParent", json={"data": {"parent": None}}),
        http.get(f"/tasks/{gid}/stories"), http.post(f"/tasks/{gid}/stories", json={"data": {"text": "after"}}),
        http.get(f"/tasks/{gid}/subtasks"), http.get(f"/tasks/{child}"),
    ]
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert message(answers[5]) == f"task: Not a recognized ID: {gid}"
    moved = http.post(f"/sections/{NEW}/addTask", json={"data": {"task": gid}})
    assert (moved.status_code, message(moved)) == (400, f"task: Not a recognized ID: {gid}")


def test_reset_after_applies_to_every_write_the_work_is_done_but_the_client_sees_a_reset():
    settings = EmulatorSettings(token=TOKEN, fault_rate=1.0, fault_kinds=("reset_after",), seed=5)
    with EmulatorServer(settings) as server, client_for(server) as http:
        gid = server.state.create_task({"projects": [PROJECT], "name": "faulted"}).gid
        writes = [
            ("POST", f"/tasks/{gid}/stories", {"text": "posted once"}),
            ("POST", f"/workspaces/{WORKSPACE}/tags", {"name": "made anyway"}),
            ("POST", f"/projects/{INCIDENTS}/sections", {"name": "Made anyway"}),
            ("POST", f"/sections/{NEW}/addTask", {"task": gid}),
            ("POST", f"/tasks/{gid}/addTag", {"tag": CHURN}),
        ]
        for method, path, data in writes:
            with pytest.raises(httpx.TransportError):
                http.request(method, path, json={"data": data})
        assert [story["text"] for story in stories(http, gid) if story["resource_subtype"] == "comment_added"] == ["posted once"]
        tags = http.get(f"/workspaces/{WORKSPACE}/tags").json()["data"]
        assert "made anyway" in [tag["name"] for tag in tags]
        assert "Made anyway" in [section["name"] for section in http.get(f"/projects/{INCIDENTS}/sections").json()["data"]]
        task = http.get(f"/tasks/{gid}", params={"opt_fields": "memberships.section,tags"}).json()["data"]
        assert [m["section"]["gid"] for m in task["memberships"]] == ["1200000000000401", NEW]
        assert [tag["gid"] for tag in task["tags"]] == [CHURN]
        assert server.stats.faults["reset_after"] == len(writes)


@pytest.mark.parametrize("kind", ["error_500", "error_503", "spurious_429", "reset_before"])
def test_faults_before_processing_leave_no_comment(kind):
    settings = EmulatorSettings(token=TOKEN, fault_rate=1.0, fault_kinds=(kind,), seed=5)
    with EmulatorServer(settings) as server, client_for(server) as http:
        gid = server.state.create_task({"projects": [PROJECT], "name": "faulted"}).gid
        try:
            assert http.post(f"/tasks/{gid}/stories", json={"data": {"text": "never"}}).status_code >= 429
        except httpx.TransportError:
            assert kind == "reset_before"
        assert [story["resource_subtype"] for story in stories(http, gid)] == ["added_to_project"]
