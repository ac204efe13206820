"""The official `asana` SDK (v5), an independent client, against the emulator: if the
SDK can read, create, update, page through, act on and delete tasks here, and
gets Asana's errors where Asana would answer them, the emulator speaks Asana."""

import asana
import pytest
from asana.rest import ApiException

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings

TOKEN = "2/1200000000000010/1200000000000099:0123456789abcdef0123456789abcdef"
PROJECT = "1234567890123456"
WORKSPACE = "1200000000000001"
CHURN, ENTERPRISE = "1200000000000201", "1200000000000202"
ADA, GRACE = "1200000000000011", "1200000000000012"
NUMBER, ENUM, RED = "1200000000000302", "1200000000000303", "1200000000000313"
TRIAGE = "1200000000000401"
INCIDENTS = "1200000000000120"


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(token=TOKEN, project_gid=PROJECT)) as running:
        yield running


def client(server, token=TOKEN):
    configuration = asana.Configuration()
    configuration.host = server.base_url
    configuration.access_token = token
    return asana.ApiClient(configuration)


def test_me_workspace_users_project_settings_sections_and_tags(server):
    api = client(server)
    me = asana.UsersApi(api).get_user("me", {"opt_fields": "email,name,workspaces"})
    assert me["email"] == "sync-bot@acme.example" and me["workspaces"][0]["gid"] == WORKSPACE
    users = list(asana.UsersApi(api).get_users_for_workspace(WORKSPACE, {"limit": 4, "opt_fields": "email"}))
    assert len(users) == 6 and all(user["email"].endswith("@acme.example") for user in users)
    project = asana.ProjectsApi(api).get_project(PROJECT, {})
    assert project["gid"] == PROJECT and project["workspace"]["gid"] == WORKSPACE
    settings = list(asana.CustomFieldSettingsApi(api).get_custom_field_settings_for_project(PROJECT, {"limit": 2}))
    kinds = {setting["custom_field"]["resource_subtype"] for setting in settings}
    assert kinds == {"text", "number", "enum", "multi_enum", "date", "people"}
    sections = list(asana.SectionsApi(api).get_sections_for_project(PROJECT, {}))
    assert [section["gid"] for section in sections][0] == TRIAGE
    tags = list(asana.TagsApi(api).get_tags_for_workspace(WORKSPACE, {"limit": 4}))
    assert {tag["gid"] for tag in tags} >= {CHURN, ENTERPRISE}


def test_create_read_update_act_on_and_delete_a_task(server):
    tasks = asana.TasksApi(client(server))
    created = tasks.create_task(
        {"data": {"name": "SDK task", "projects": [PROJECT], "due_on": "2026-12-01", "assignee": "ada@acme.example",
                  "html_notes": "<body><em>Renewal</em> call</body>", "custom_fields": {NUMBER: 42, ENUM: RED}}},
        {},
    )
    gid = created["gid"]
    assert (created["assignee"]["gid"], created["notes"]) == (ADA, "Renewal call")
    updated = tasks.update_task({"data": {"name": "SDK task, renamed", "completed": True}}, gid, {})
    assert updated["completed"] is True and updated["completed_at"]
    tasks.add_tag_for_task({"data": {"tag": CHURN}}, gid)
    followed = tasks.add_followers_for_task({"data": {"followers": [GRACE]}}, gid, {"opt_fields": "followers"})
    assert [user["gid"] for user in followed["followers"]] == [GRACE]
    tasks.add_project_for_task({"data": {"project": PROJECT, "section": TRIAGE}}, gid)
    read = tasks.get_task(gid, {"opt_fields": "name,completed,tags.name,custom_fields,due_on,memberships.section"})
    assert (read["name"], read["completed"], read["due_on"]) == ("SDK task, renamed", True, "2026-12-01")
    assert [tag["name"] for tag in read["tags"]] == ["churn-risk"]
    assert read["memberships"][0]["section"]["gid"] == TRIAGE
    values = {field["gid"]: field for field in read["custom_fields"]}
    assert values[NUMBER]["number_value"] == 42 and values[ENUM]["enum_value"]["name"] == "Red"
    tasks.remove_tag_for_task({"data": {"tag": CHURN}}, gid)
    assert tasks.get_task(gid, {"opt_fields": "tags"})["tags"] == []
    parent = tasks.create_task({"data": {"name": "parent", "projects": [PROJECT]}}, {})["gid"]
    moved = tasks.set_parent_for_task({"data": {"parent": parent}}, gid, {"opt_fields": "parent"})
    assert moved["parent"]["gid"] == parent
    assert [task["gid"] for task in tasks.get_subtasks_for_task(parent, {})] == [gid]
    tasks.delete_task(gid)
    with pytest.raises(ApiException) as raised:
        tasks.get_task(gid, {})
    assert raised.value.status == 404 and f"task: Not a recognized ID: {gid}" in raised.value.body.decode()


def test_listing_pages_through_every_task_exactly_once(server):
    tasks = asana.TasksApi(client(server))
    made = {tasks.create_task({"data": {"name": f"page-{n}", "projects": [PROJECT]}}, {})["gid"] for n in range(23)}
    listed = [task["gid"] for task in tasks.get_tasks_for_project(PROJECT, {"limit": 5})]
    assert len(listed) == len(set(listed)) and made <= set(listed)
    by_query = [task["gid"] for task in tasks.get_tasks({"project": PROJECT, "limit": 7})]
    assert by_query == listed


def test_a_batch_through_the_sdk(server):
    batch = asana.BatchAPIApi(client(server))
    results = list(batch.create_batch_request(
        {"data": {"actions": [
            {"relative_path": "/users/me", "method": "get"},
            {"relative_path": "/tasks", "method": "post", "data": {"name": "batched", "projects": [PROJECT]}},
        ]}},
        {},
    ))
    assert [result["status_code"] for result in results] == [200, 201]
    assert results[1]["body"]["data"]["name"] == "batched"


def test_validation_errors_reach_the_sdk_as_asana_errors(server):
    tasks = asana.TasksApi(client(server))
    with pytest.raises(ApiException) as raised:
        tasks.create_task({"data": {"name": "x", "projects": [PROJECT], "due_on": "2026-12-01", "due_at": "2026-12-01T10:00:00Z"}}, {})
    assert raised.value.status == 400
    assert "You may only provide one of due_on or due_at!" in raised.value.body.decode()
    with pytest.raises(ApiException) as raised:
        tasks.create_task({"data": {"name": "nowhere"}}, {})
    assert "You should specify one of workspace, parent, projects" in raised.value.body.decode()
    with pytest.raises(ApiException) as raised:
        asana.ProjectsApi(client(server)).get_project("1200000000000199", {})
    assert raised.value.status == 403


def test_a_wrong_token_is_401(server):
    with pytest.raises(ApiException) as raised:
        asana.UsersApi(client(server, token="0/00000000000000000000000000000000")).get_user("me", {})
    assert raised.value.status == 401 and "Not Authorized" in raised.value.body.decode()


def test_second_wave_schema_reads_and_writes_through_the_sdk(server):
    api = client(server)
    settings = list(asana.CustomFieldSettingsApi(api).get_custom_field_settings_for_project(INCIDENTS, {
        "limit": 2, "opt_fields": "custom_field.name,custom_field.enum_options.name,custom_field.enum_options.enabled"}))
    severity = next(setting["custom_field"] for setting in settings if setting["custom_field"]["name"] == "Severity")
    assert [option["enabled"] for option in severity["enum_options"]][-1] is False
    emails = [user["email"] for user in asana.UsersApi(api).get_users({"workspace": WORKSPACE, "limit": 4, "opt_fields": "email"})]
    assert len(emails) == 6
    tag = asana.TagsApi(api).create_tag_for_workspace({"data": {"name": "sdk-tag"}}, WORKSPACE, {})
    section = asana.SectionsApi(api).create_section_for_project(INCIDENTS, {"body": {"data": {"name": "From the SDK"}}})
    task = asana.TasksApi(api).create_task({"data": {"name": "incident", "projects": [INCIDENTS], "tags": [tag["gid"]]}}, {})
    asana.SectionsApi(api).add_task_for_section(section["gid"], {"body": {"data": {"task": task["gid"]}}})
    read = asana.TasksApi(api).get_task(task["gid"], {"opt_fields": "memberships.section.name,tags.name"})
    assert (read["memberships"][0]["section"]["name"], read["tags"][0]["name"]) == ("From the SDK", "sdk-tag")
    stories = asana.StoriesApi(api)
    comment = stories.create_story_for_task({"data": {"text": "from the SDK"}}, task["gid"], {})
    assert (comment["resource_subtype"], comment["type"]) == ("comment_added", "comment")
    listed = list(stories.get_stories_for_task(task["gid"], {"limit": 1}))
    assert [story["resource_subtype"] for story in listed] == ["added_to_project", "section_changed", "comment_added"], \
        "the move to the section is in the task's history"


def test_third_wave_subtasks_and_clearing_by_null_through_the_sdk(server):
    api = client(server)
    tasks = asana.TasksApi(api)
    parent = tasks.create_task({"data": {"name": "parent", "projects": [INCIDENTS]}}, {})
    child = tasks.create_subtask_for_task({"data": {"name": "made by hand", "notes": "a person's"}}, parent["gid"], {"opt_fields": "parent,name"})
    assert (child["parent"]["gid"], child["name"]) == (parent["gid"], "made by hand")
    assert [task["gid"] for task in tasks.get_subtasks_for_task(parent["gid"], {})] == [child["gid"]]
    with pytest.raises(ApiException) as missing:
        tasks.create_subtask_for_task({"data": {"name": "orphan"}}, "999999", {})
    assert missing.value.status == 404
    dated = tasks.create_task({"data": {
        "name": "dated", "projects": [PROJECT], "due_on": "2026-12-31", "start_on": "2026-12-01", "assignee": ADA,
        "notes": "call them", "custom_fields": {NUMBER: 5, ENUM: RED},
    }}, {})
    cleared = tasks.update_task(
        {"data": {"due_on": None, "start_on": None, "assignee": None, "notes": "", "custom_fields": {NUMBER: None, ENUM: None}}},
        dated["gid"], {"opt_fields": "due_on,start_on,assignee,notes,custom_fields.number_value,custom_fields.enum_value"},
    )
    assert (cleared["due_on"], cleared["start_on"], cleared["assignee"], cleared["notes"]) == (None, None, None, "")
    values = {field["gid"]: field for field in cleared["custom_fields"]}
    assert values[NUMBER]["number_value"] is None and values[ENUM]["enum_value"] is None


def test_dependencies_attachments_and_a_template_job_through_the_sdk():
    import time

    from asana_sync_pipeline.emulator import default_fixture

    fixture = default_fixture()
    fixture["users"][1] = {**fixture["users"][1], "token": "0/ada0ada0ada0ada0ada0ada0ada0ada0"}
    fixture["task_templates"] = [{"gid": "1200000000000501", "name": "Postmortem", "project": INCIDENTS,
                                  "notes": "What happened?", "subtasks": [{"name": "Timeline"}]}]
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture, job_seconds=0.05)) as server:
        api = client(server)
        tasks = asana.TasksApi(api)
        first, second = (tasks.create_task({"data": {"name": name, "projects": [INCIDENTS]}}, {})["gid"] for name in ("a", "b"))
        tasks.add_dependencies_for_task({"data": {"dependencies": [first]}}, second)
        assert [task["gid"] for task in tasks.get_dependencies_for_task(second, {})] == [first]
        assert [task["gid"] for task in tasks.get_dependents_for_task(first, {})] == [second]
        with pytest.raises(ApiException) as raised:
            tasks.add_dependencies_for_task({"data": {"dependencies": [second]}}, first)
        assert raised.value.status == 400

        attachments = asana.AttachmentsApi(api)
        made = attachments.create_attachment_for_object(
            {"parent": second, "resource_subtype": "external", "url": "https://acme.example/doc", "name": "Doc"})
        assert made["view_url"] == "https://acme.example/doc" and made["parent"]["gid"] == second
        assert [item["gid"] for item in attachments.get_attachments_for_object(second, {})] == [made["gid"]]
        attachments.delete_attachment(made["gid"])
        assert list(attachments.get_attachments_for_object(second, {})) == []

        ada = client(server, "0/ada0ada0ada0ada0ada0ada0ada0ada0")
        assert asana.UsersApi(ada).get_user("me", {})["gid"] == ADA
        templates = asana.TaskTemplatesApi(ada)
        assert [template["name"] for template in templates.get_task_templates({"project": INCIDENTS})] == ["Postmortem"]
        job = templates.instantiate_task("1200000000000501", {"body": {"data": {"name": "Outage"}}})
        assert (job["resource_subtype"], job["status"]) == ("instantiate_task", "not_started")
        for _ in range(200):
            job = asana.JobsApi(ada).get_job(job["gid"], {})
            if job["status"] == "succeeded":
                break
            time.sleep(0.02)
        task = tasks.get_task(job["new_task"]["gid"], {"opt_fields": "name,notes,created_by,num_subtasks"})
        assert (task["name"], task["notes"], task["created_by"]["gid"], task["num_subtasks"]) == ("Outage", "What happened?", ADA, 1)
