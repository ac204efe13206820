"""External attachments (links) on tasks: `POST /attachments` as multipart/form-data, then
listed, read, deleted, and gone with their task; with Asana's rules and errors."""

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

PROJECT = "1200000000000100"
LINK = {"resource_subtype": "external", "url": "https://wiki.acme.example/runbooks/renewals", "name": "Renewal runbook"}


def new_task(http: httpx.Client, name: str = "linked") -> str:
    return http.post("/tasks", json={"data": {"name": name, "projects": [PROJECT]}}).json()["data"]["gid"]


def attach(http: httpx.Client, task: str, **fields: str) -> httpx.Response:
    """multipart/form-data, as Asana requires (httpx sends multipart when a file part is given, so
    the fields go as parts of their own here)."""
    parts = {key: (None, value) for key, value in {"parent": task, **LINK, **fields}.items()}
    return http.post("/attachments", files=parts)


def test_a_link_is_attached_listed_read_and_deleted(http):
    task = new_task(http)
    created = attach(http, task)
    assert created.status_code == 200, created.text
    attachment = created.json()["data"]
    assert attachment == {
        "gid": attachment["gid"], "resource_type": "attachment", "name": "Renewal runbook", "resource_subtype": "external",
        "created_at": attachment["created_at"], "download_url": None, "permanent_url": None, "host": "external",
        "parent": {"gid": task, "resource_type": "task", "name": "linked", "resource_subtype": "default_task"},
        "view_url": LINK["url"], "connected_to_app": False,
    }
    second = attach(http, task, url="http://status.acme.example/", name="Status").json()["data"]
    listed = http.get("/attachments", params={"parent": task}).json()
    assert listed == {"data": [
        {"gid": attachment["gid"], "resource_type": "attachment", "name": "Renewal runbook", "resource_subtype": "external"},
        {"gid": second["gid"], "resource_type": "attachment", "name": "Status", "resource_subtype": "external"},
    ], "next_page": None}
    paged = http.get("/attachments", params={"parent": task, "limit": 1, "opt_fields": "view_url"}).json()
    assert paged["data"] == [{"gid": attachment["gid"], "view_url": LINK["url"]}] and paged["next_page"]["offset"]
    assert http.get(f"/attachments/{second['gid']}").json()["data"]["view_url"] == "http://status.acme.example/"
    assert http.delete(f"/attachments/{second['gid']}").json() == {"data": {}}
    assert http.get(f"/attachments/{second['gid']}").status_code == 404
    assert [item["gid"] for item in http.get("/attachments", params={"parent": task}).json()["data"]] == [attachment["gid"]]


def test_an_attachment_is_a_change_of_its_task_with_a_story_and_events(http):
    task = new_task(http)
    sync = http.get("/events", params={"resource": task}).json()["sync"]
    before = http.get(f"/tasks/{task}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"]
    gid = attach(http, task).json()["data"]["gid"]
    http.delete(f"/attachments/{gid}")
    assert http.get(f"/tasks/{task}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"] > before
    stories = http.get(f"/tasks/{task}/stories", params={"opt_fields": "resource_subtype,text"}).json()["data"]
    assert {"gid": stories[-1]["gid"], "resource_subtype": "attachment_added", "text": "attached Renewal runbook"} == stories[-1]
    events = http.get("/events", params={"resource": task, "sync": sync}).json()["data"]
    assert [(event["resource"]["resource_type"], event["action"], event["parent"]["gid"]) for event in events] == [
        ("attachment", "added", task), ("story", "added", task), ("attachment", "removed", task)]


def test_deleting_the_task_deletes_its_attachments_and_undeleting_brings_them_back(http, shared_server):
    task = new_task(http)
    gid = attach(http, task).json()["data"]["gid"]
    http.delete(f"/tasks/{task}")
    assert http.get(f"/attachments/{gid}").status_code == 404
    assert http.get("/attachments", params={"parent": task}).status_code == 404
    httpx.post(f"{shared_server.url}/_emulator/undelete/{task}")
    assert http.get(f"/attachments/{gid}").status_code == 200


def test_a_url_encoded_form_works_too_and_a_project_has_no_attachments_here(http):
    task = new_task(http)
    answer = http.post("/attachments", data={"parent": task, **LINK})
    assert answer.status_code == 200 and answer.json()["data"]["parent"]["gid"] == task
    assert http.get("/attachments", params={"parent": PROJECT}).json() == {"data": [], "next_page": None}


@pytest.mark.parametrize(("fields", "message"), [
    ({"parent": None}, "parent: Missing input"),
    ({"parent": "1299999999999999"}, "parent: Not a recognized ID: 1299999999999999"),
    ({"parent": PROJECT}, "parent: The emulator attaches links to tasks only, not to projects"),
    ({"url": None}, "url: Missing input"),
    ({"name": None}, "name: Missing input"),
    ({"url": "ftp://files.acme.example/x"}, "url: Not a valid URL: ftp://files.acme.example/x"),
    ({"url": "not a url"}, "url: Not a valid URL: not a url"),
    ({"resource_subtype": "dropbox"}, "resource_subtype: Must be one of asana, external"),
    ({"resource_subtype": None}, "file: Missing input"),
    ({"connect_to_app": "true"}, "connect_to_app: Only OAuth apps can connect an attachment; a personal access token cannot"),
    ({"colour": "red"}, "colour: Unknown property"),
])
def test_asanas_rules_for_an_attachment(http, fields, message):
    task = new_task(http)
    parts = {key: (None, value) for key, value in {"parent": task, **LINK, **fields}.items() if value is not None}
    answer = http.post("/attachments", files=parts)
    assert (answer.status_code, answer.json()["errors"][0]["message"]) == (400, message)
    assert http.get("/attachments", params={"parent": task}).json()["data"] == []


def test_a_file_upload_and_a_json_body_are_refused_with_what_to_do_instead(http):
    task = new_task(http)
    upload = http.post("/attachments", data={"parent": task}, files={"file": ("notes.txt", b"hello", "text/plain")})
    assert upload.status_code == 400 and "attach a link (resource_subtype=external)" in upload.json()["errors"][0]["message"]
    as_json = http.post("/attachments", json={"data": {"parent": task, **LINK}})
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["errors"][0]["message"]
    assert http.get("/attachments", params={"parent": ""}).status_code == 400


def test_a_reset_after_fault_leaves_the_attachment_made():
    settings = EmulatorSettings(token=TOKEN, fault_rate=1.0, fault_kinds=("reset_after",))
    with EmulatorServer(settings) as server, client_for(server) as http:
        task = server.store.create_task({"name": "made directly", "projects": [PROJECT]}).gid
        with pytest.raises(httpx.TransportError):
            attach(http, task)
        assert [item["gid"] for item in http.get("/attachments", params={"parent": task}).json()["data"]] != []
