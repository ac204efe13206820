"""The official `asana` SDK, an independent client, against the emulator: if the SDK can
create, read, update, page through and delete tasks here, the emulator speaks Asana."""

import asana
import pytest
from asana.rest import ApiException

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings

TOKEN = "2/1200000000000010/1200000000000099:0123456789abcdef0123456789abcdef"
CHURN, ENTERPRISE = "1200000000000201", "1200000000000202"


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(token=TOKEN, project_gid="1234567890123456")) as running:
        yield running


def client(server, token=TOKEN):
    configuration = asana.Configuration()
    configuration.host = server.base_url
    configuration.access_token = token
    return asana.ApiClient(configuration)


def test_me_project_and_custom_field_settings(server):
    api = client(server)
    me = asana.UsersApi(api).get_user("me", {"opt_fields": "email,name"})
    assert me["email"] == "sync-bot@acme.example"
    project = asana.ProjectsApi(api).get_project("1234567890123456", {})
    assert project["gid"] == "1234567890123456" and project["workspace"]["gid"] == "1200000000000001"
    settings = list(asana.CustomFieldSettingsApi(api).get_custom_field_settings_for_project("1234567890123456", {"limit": 2}))
    kinds = {setting["custom_field"]["resource_subtype"] for setting in settings}
    assert kinds == {"text", "number", "enum", "multi_enum", "date", "people"}
    tags = list(asana.TagsApi(api).get_tags_for_workspace("1200000000000001", {"limit": 4}))
    assert {tag["gid"] for tag in tags} >= {CHURN, ENTERPRISE}


def test_create_read_update_tag_and_delete_a_task(server):
    tasks = asana.TasksApi(client(server))
    created = tasks.create_task(
        {"data": {"name": "SDK task", "projects": [server.project_gid], "due_on": "2026-12-01", "assignee": "ada@acme.example",
                  "custom_fields": {"1200000000000302": 42, "1200000000000303": "1200000000000313"}}},
        {},
    )
    gid = created["gid"]
    assert created["assignee"]["gid"] == "1200000000000011"
    tasks.update_task({"data": {"name": "SDK task, renamed", "completed": True}}, gid, {})
    tasks.add_tag_for_task({"data": {"tag": CHURN}}, gid)
    read = tasks.get_task(gid, {"opt_fields": "name,completed,tags.name,custom_fields,due_on"})
    assert (read["name"], read["completed"], read["due_on"]) == ("SDK task, renamed", True, "2026-12-01")
    assert [tag["name"] for tag in read["tags"]] == ["churn-risk"]
    values = {field["gid"]: field for field in read["custom_fields"]}
    assert values["1200000000000302"]["number_value"] == 42
    assert values["1200000000000303"]["enum_value"]["name"] == "Red"
    tasks.remove_tag_for_task({"data": {"tag": CHURN}}, gid)
    assert tasks.get_task(gid, {"opt_fields": "tags"})["tags"] == []
    tasks.delete_task(gid)
    with pytest.raises(ApiException) as raised:
        tasks.get_task(gid, {})
    assert raised.value.status == 404


def test_listing_pages_through_every_task_exactly_once(server):
    tasks = asana.TasksApi(client(server))
    made = {tasks.create_task({"data": {"name": f"page-{n}", "projects": [server.project_gid]}}, {})["gid"] for n in range(23)}
    listed = [task["gid"] for task in tasks.get_tasks_for_project(server.project_gid, {"limit": 5})]
    assert len(listed) == len(set(listed))
    assert made <= set(listed)
    by_query = [task["gid"] for task in tasks.get_tasks({"project": server.project_gid, "limit": 7})]
    assert by_query == listed


def test_validation_errors_reach_the_sdk_as_asana_errors(server):
    tasks = asana.TasksApi(client(server))
    with pytest.raises(ApiException) as raised:
        tasks.create_task({"data": {"name": "x", "projects": [server.project_gid], "due_on": "2026-12-01", "due_at": "2026-12-01T10:00:00Z"}}, {})
    assert raised.value.status == 400
    assert "You may only provide one of due_on or due_at!" in raised.value.body.decode()
    with pytest.raises(ApiException) as raised:
        tasks.create_task({"data": {"name": "nowhere"}}, {})
    assert "You should specify one of workspace, parent, projects" in raised.value.body.decode()


def test_a_wrong_token_is_401(server):
    with pytest.raises(ApiException) as raised:
        asana.UsersApi(client(server, token="0/00000000000000000000000000000000")).get_user("me", {})
    assert raised.value.status == 401
