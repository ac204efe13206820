"""The emulator's API over HTTP, as a client sees it: Asana's shapes, its rules with
their status codes and messages, pagination, opt_fields and the Batch API."""

import re

import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

PROJECT, OTHER_PROJECT, FORBIDDEN_PROJECT = "1200000000000100", "1200000000000110", "1200000000000199"
WORKSPACE = "1200000000000001"
ME, ADA, GRACE = "1200000000000010", "1200000000000011", "1200000000000012"
CHURN, ENTERPRISE = "1200000000000201", "1200000000000202"
TEXT, NUMBER, ENUM, MULTI, DATE, PEOPLE = (f"120000000000030{n}" for n in range(1, 7))
GREEN, RED, ANALYTICS, WAREHOUSE = "1200000000000311", "1200000000000313", "1200000000000321", "1200000000000322"
TRIAGE = "1200000000000401"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FULL_TASK_FIELDS = {
    "gid", "resource_type", "name", "resource_subtype", "created_by", "assignee_status",
    "completed", "completed_at", "completed_by", "created_at", "dependencies", "dependents", "due_at", "due_on",
    "html_notes", "hearted", "hearts", "is_rendered_as_separator", "liked", "likes", "memberships", "modified_at",
    "notes", "num_hearts", "num_likes", "num_subtasks", "start_at", "start_on", "actual_time_minutes", "assignee",
    "assignee_section", "custom_fields", "custom_type", "custom_type_status_option", "followers", "parent",
    "projects", "tags", "workspace", "permalink_url",
}


def create(http, **fields):
    return http.post("/tasks", json={"data": {"projects": [PROJECT], **fields}})


def made(http, **fields) -> dict:
    response = create(http, **fields)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def message(response) -> str:
    return response.json()["errors"][0]["message"]


# ---- auth and look-ups -------------------------------------------------------------


def test_every_api_route_needs_the_bearer_token(shared_server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        with client_for(shared_server) as http:
            http.headers.clear()
            response = http.get("/users/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "Not Authorized"
        assert "help" in response.json()["errors"][0]


def test_users_by_me_gid_and_email_and_the_workspace_listing(http):
    me = http.get("/users/me").json()["data"]
    assert (me["gid"], me["email"], me["workspaces"][0]["gid"]) == (ME, "sync-bot@acme.example", WORKSPACE)
    assert http.get("/users/ada@acme.example").json()["data"]["gid"] == ADA
    assert http.get(f"/users/{GRACE}").json()["data"]["name"] == "Grace Hopper"
    unknown = http.get("/users/nobody@elsewhere.example")
    assert (unknown.status_code, message(unknown)) == (404, "user: Not a recognized ID: nobody@elsewhere.example")
    page = http.get("/users", params={"workspace": WORKSPACE, "limit": 4, "opt_fields": "email"}).json()
    assert len(page["data"]) == 4 and page["next_page"] and all("email" in user for user in page["data"])
    rest = http.get("/users", params={"workspace": WORKSPACE, "limit": 4, "offset": page["next_page"]["offset"]}).json()
    assert len(rest["data"]) == 2 and rest["next_page"] is None
    assert set(rest["data"][0]) == {"gid", "resource_type", "name"}
    assert http.get("/users", params={"workspace": "999"}).status_code == 404


def test_workspaces_and_tags(http):
    assert http.get("/workspaces").json()["data"] == [{"gid": WORKSPACE, "resource_type": "workspace", "name": "Acme Analytics"}]
    assert http.get(f"/workspaces/{WORKSPACE}").json()["data"]["is_organization"] is True
    tags = http.get(f"/workspaces/{WORKSPACE}/tags", params={"limit": 100}).json()
    assert {"gid": CHURN, "resource_type": "tag", "name": "churn-risk"} in tags["data"] and len(tags["data"]) == 6
    assert http.get(f"/tags/{CHURN}").json()["data"]["workspace"]["gid"] == WORKSPACE
    assert http.get("/tags/123").status_code == 404


def test_projects_custom_field_settings_and_sections(http):
    project = http.get(f"/projects/{PROJECT}").json()["data"]
    assert project["workspace"]["gid"] == WORKSPACE and len(project["custom_field_settings"]) == 6
    settings = http.get(f"/projects/{PROJECT}/custom_field_settings", params={"limit": 100}).json()["data"]
    fields = {setting["custom_field"]["gid"]: setting["custom_field"] for setting in settings}
    assert {field["resource_subtype"] for field in fields.values()} == {"text", "number", "enum", "multi_enum", "date", "people"}
    assert [option["gid"] for option in fields[ENUM]["enum_options"]] == [GREEN, "1200000000000312", RED]
    assert fields[NUMBER]["precision"] == 0 and fields[NUMBER]["type"] == "number"
    sections = http.get(f"/projects/{PROJECT}/sections").json()["data"]
    assert [section["name"] for section in sections] == ["To triage", "In progress"]
    assert http.get(f"/projects/{OTHER_PROJECT}/custom_field_settings").json()["data"] == []


def test_unknown_and_forbidden_projects_and_routes(http):
    unknown = http.get("/projects/123")
    assert (unknown.status_code, message(unknown)) == (404, "project: Not a recognized ID: 123")
    assert http.get(f"/projects/{FORBIDDEN_PROJECT}").status_code == 403
    assert http.get(f"/projects/{FORBIDDEN_PROJECT}/tasks").status_code == 403
    assert http.get("/projects/abc").status_code == 400
    missing = http.get("/nowhere")
    assert missing.status_code == 404 and message(missing).startswith("No matching route")


# ---- task records ----------------------------------------------------------------------


def test_a_created_task_is_the_full_record_with_increasing_16_digit_gids(http):
    response = create(http, name="Full", notes="Call <Ada> & co", assignee="me", tags=[CHURN], followers=["ada@acme.example"])
    assert response.status_code == 201
    task = response.json()["data"]
    assert set(task) == FULL_TASK_FIELDS
    assert response.headers["Location"] == f"/tasks/{task['gid']}"
    assert re.fullmatch(r"\d{16}", task["gid"]) and task["resource_type"] == "task"
    assert TIMESTAMP.match(task["created_at"]) and TIMESTAMP.match(task["modified_at"])
    assert task["html_notes"] == "<body>Call &lt;Ada&gt; &amp; co</body>"
    assert task["assignee"] == {"gid": ME, "resource_type": "user", "name": "Sync Bot"}
    assert [user["gid"] for user in task["followers"]] == [ADA]
    assert task["tags"] == [{"gid": CHURN, "resource_type": "tag", "name": "churn-risk"}]
    assert task["memberships"] == [{"project": {"gid": PROJECT, "resource_type": "project", "name": "Customer Success Follow-ups"},
                                    "section": {"gid": TRIAGE, "resource_type": "section", "name": "To triage"}}]
    assert (task["assignee_status"], "approval_status" in task) == ("inbox", False)
    assert task["workspace"]["gid"] == WORKSPACE and task["permalink_url"].endswith(task["gid"])
    assert len(task["custom_fields"]) == 6
    second = made(http)
    assert int(second["gid"]) > int(task["gid"])
    assert http.get(f"/tasks/{task['gid']}").json()["data"] == {**task, "num_subtasks": 0}


def test_notes_and_html_notes_stay_consistent(http):
    gid = made(http, html_notes='<body><strong>Renew</strong> with <a href="https://acme.example" data-asana-gid="1">Ada</a></body>')["gid"]
    assert http.get(f"/tasks/{gid}", params={"opt_fields": "notes"}).json()["data"]["notes"] == "Renew with Ada"
    updated = http.put(f"/tasks/{gid}", json={"data": {"notes": "1 < 2"}}).json()["data"]
    assert (updated["notes"], updated["html_notes"]) == ("1 < 2", "<body>1 &lt; 2</body>")


INVALID_CREATES = [
    ({"due_on": "2026-13-01"}, "due_on: Not a valid date"),
    ({"due_on": "01/12/2026"}, "due_on: Must be a date in the format YYYY-MM-DD"),
    ({"due_at": "2026-12-01"}, "due_at: Must be an ISO 8601 date-time"),
    ({"due_at": "soon"}, "due_at: Must be an ISO 8601 date-time"),
    ({"due_on": "2026-12-01", "due_at": "2026-12-01T10:00:00Z"}, "You may only provide one of due_on or due_at!"),
    ({"start_on": "2026-12-01"}, "start_on: A start date requires a due date"),
    ({"start_at": "2026-12-01T10:00:00Z", "due_on": "2026-12-02"}, "start_at: A start time requires a due time"),
    ({"start_on": "2026-12-05", "due_on": "2026-12-01"}, "start_on: The start date must be on or before the due date"),
    ({"resource_subtype": "milestone", "start_on": "2026-11-01", "due_on": "2026-12-01"}, "start_on: Milestones cannot have a start date"),
    ({"resource_subtype": "epic"}, "resource_subtype: Must be one of default_task, milestone, approval"),
    ({"approval_status": "approved"}, "approval_status: Only approval tasks have an approval status"),
    ({"html_notes": "<body><strong>open</body>"}, "html_notes: XML is invalid"),
    ({"html_notes": "no wrapper"}, "html_notes: XML is invalid"),
    ({"html_notes": "<notes>x</notes>"}, "html_notes: XML is invalid: the root element must be <body>"),
    ({"html_notes": "<body><p>x</p></body>"}, "html_notes: Tag <p> is not supported"),
    ({"html_notes": '<body><strong class="x">x</strong></body>'}, "html_notes: Attribute class is not supported on <strong>"),
    ({"html_notes": '<body><a onclick="x()">x</a></body>'}, "html_notes: Attribute onclick is not supported on <a>"),
    ({"html_notes": "<body>a&nbsp;b</body>"}, "html_notes: XML is invalid"),
    ({"html_notes": '<!DOCTYPE body [<!ENTITY x "y">]><body>&x;</body>'}, "html_notes: XML is invalid"),
    ({"html_notes": "<body><body>x</body></body>"}, "html_notes: <body> may only wrap the whole text"),
    ({"name": 42}, "name: Must be a string"),
    ({"completed": "yes"}, "completed: Must be a boolean"),
    ({"assignee": "nobody@elsewhere.example"}, "assignee: Not a recognized ID or email: nobody@elsewhere.example"),
    ({"followers": ["999"]}, "followers: Not a recognized ID or email: 999"),
    ({"tags": ["999"]}, "tags: Not a recognized ID: 999"),
    ({"projects": ["123"]}, "projects: Not a recognized ID: 123"),
    ({"memberships": [{"project": OTHER_PROJECT, "section": TRIAGE}]}, f"memberships: Section {TRIAGE} is not in project {OTHER_PROJECT}"),
    ({"workspace": "999"}, "workspace: Not a recognized ID: 999"),
    ({"custom_fields": {"42": "x"}}, "custom_fields: Custom field with ID 42 is not on given object"),
    ({"custom_fields": {TEXT: "x" * 1025}}, f"custom_fields: Value for {TEXT} must be a string of at most 1024 characters"),
    ({"custom_fields": {TEXT: 7}}, f"custom_fields: Value for {TEXT} must be a string"),
    ({"custom_fields": {NUMBER: "many"}}, f"custom_fields: Value for {NUMBER} must be a number"),
    ({"custom_fields": {NUMBER: "NaN"}}, f"custom_fields: Value for {NUMBER} must be a number"),
    ({"custom_fields": {NUMBER: True}}, f"custom_fields: Value for {NUMBER} must be a number"),
    ({"custom_fields": {ENUM: ANALYTICS}}, f"custom_fields: '{ANALYTICS}' is not an enum option of custom field {ENUM}"),
    ({"custom_fields": {MULTI: ANALYTICS}}, f"custom_fields: Value for {MULTI} must be an array of its enum option GIDs"),
    ({"custom_fields": {DATE: "24/12/2026"}}, "custom_fields: Must be a date in the format YYYY-MM-DD"),
    ({"custom_fields": {DATE: {"day": "2026-12-24"}}}, "custom_fields: Unknown date property: day"),
    ({"custom_fields": {PEOPLE: ["Ada Lovelace"]}}, "custom_fields: Not a recognized ID or email: Ada Lovelace"),
    ({"custom_fields": {PEOPLE: ADA}}, f"custom_fields: Value for {PEOPLE} must be an array of users"),
    ({"colour": "red"}, "colour: Unknown property"),
    ({"gid": "1"}, "gid: Cannot write this property, it is read-only"),
    ({"external": {"gid": "row-1"}}, "external: Only OAuth apps can write this property"),
]


@pytest.mark.parametrize(("fields", "expected"), INVALID_CREATES, ids=[str(case[0])[:60] for case in INVALID_CREATES])
def test_asana_rules_reject_bad_creates_with_its_messages(shared_server, http, fields, expected):
    before = shared_server.task_count()
    response = create(http, **{"name": "x", **fields})
    assert response.status_code == 400, response.text
    assert message(response).startswith(expected)
    assert shared_server.task_count() == before


def test_a_create_needs_a_project_workspace_or_parent_but_not_a_name(http):
    response = http.post("/tasks", json={"data": {"name": "x"}})
    assert (response.status_code, message(response)) == (400, "You should specify one of workspace, parent, projects")
    assert made(http)["name"] == ""
    assert http.post("/tasks", json={"data": {"workspace": WORKSPACE}}).json()["data"]["projects"] == []
    forbidden = create(http, projects=[FORBIDDEN_PROJECT])
    assert forbidden.status_code == 403 and message(forbidden).startswith("projects: You do not have access")


def test_valid_dates_are_normalised_and_kept_consistent(http):
    task = made(http, due_at="2026-12-01T18:30:00+02:00", start_at="2026-12-01T08:00:00Z")
    assert (task["due_at"], task["due_on"], task["start_at"]) == ("2026-12-01T16:30:00.000Z", "2026-12-01", "2026-12-01T08:00:00.000Z")
    cleared = http.put(f"/tasks/{task['gid']}", json={"data": {"due_at": None, "start_at": None}}).json()["data"]
    assert (cleared["due_at"], cleared["due_on"], cleared["start_at"], cleared["start_on"]) == (None, None, None, None)
    dated = made(http, due_on="2026-12-10")
    started = http.put(f"/tasks/{dated['gid']}", json={"data": {"start_on": "2026-12-01"}})
    assert started.status_code == 200 and started.json()["data"]["start_on"] == "2026-12-01"
    orphaned = http.put(f"/tasks/{dated['gid']}", json={"data": {"due_on": None}})
    assert (orphaned.status_code, message(orphaned)) == (400, "start_on: A start date requires a due date")
    assert made(http, resource_subtype="milestone", due_on="2026-12-01")["resource_subtype"] == "milestone"


def test_approval_status_and_completed_move_together(http):
    task = made(http, resource_subtype="approval")
    assert (task["approval_status"], task["completed"]) == ("pending", False)
    approved = http.put(f"/tasks/{task['gid']}", json={"data": {"completed": True}}).json()["data"]
    assert (approved["approval_status"], approved["completed"]) == ("approved", True)
    assert TIMESTAMP.match(approved["completed_at"])
    asked = http.put(f"/tasks/{task['gid']}", json={"data": {"approval_status": "changes_requested"}}).json()["data"]
    assert (asked["approval_status"], asked["completed"]) == ("changes_requested", True)
    reopened = http.put(f"/tasks/{task['gid']}", json={"data": {"approval_status": "pending"}}).json()["data"]
    assert (reopened["completed"], reopened["completed_at"]) == (False, None)
    assert "approval_status" not in made(http), "only approval tasks have one (the spec allows no null)"


def test_valid_values_of_every_custom_field_type_are_stored_and_displayed(http):
    task = made(
        http,
        custom_fields={TEXT: "acct-1", NUMBER: "1250", ENUM: GREEN, MULTI: [ANALYTICS, WAREHOUSE],
                       DATE: "2026-12-24", PEOPLE: ["grace@acme.example", "me"]},
    )
    values = {field["gid"]: field for field in task["custom_fields"]}
    assert (values[TEXT]["text_value"], values[TEXT]["display_value"]) == ("acct-1", "acct-1")
    assert (values[NUMBER]["number_value"], values[NUMBER]["display_value"]) == (1250, "1250")
    assert values[ENUM]["enum_value"]["name"] == "Green" and values[ENUM]["display_value"] == "Green"
    assert values[MULTI]["display_value"] == "Analytics, Warehouse"
    assert values[DATE]["date_value"] == {"date": "2026-12-24", "date_time": None}
    assert [person["gid"] for person in values[PEOPLE]["people_value"]] == [GRACE, ME]
    changed = http.put(f"/tasks/{task['gid']}", json={"data": {"custom_fields": {
        ENUM: None, MULTI: [], NUMBER: 12.5, DATE: {"date_time": "2026-12-24T09:00:00Z"}}}}).json()["data"]
    values = {field["gid"]: field for field in changed["custom_fields"]}
    assert values[ENUM]["enum_value"] is None and values[MULTI]["multi_enum_values"] == []
    assert values[NUMBER]["number_value"] == 12.5
    assert values[DATE]["date_value"] == {"date": "2026-12-24", "date_time": "2026-12-24T09:00:00.000Z"}
    assert values[TEXT]["text_value"] == "acct-1"
    outside = http.post("/tasks", json={"data": {"projects": [OTHER_PROJECT], "custom_fields": {TEXT: "x"}}})
    assert message(outside) == f"custom_fields: Custom field with ID {TEXT} is not on given object"


# ---- updates and actions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "advice"),
    [("tags", "Use addTag / removeTag."), ("followers", "Use addFollowers / removeFollowers."),
     ("projects", "Use addProject / removeProject."), ("memberships", "Use addProject with a section."),
     ("parent", "Use setParent."), ("workspace", "A task cannot move to another workspace.")],
)
def test_create_only_fields_are_refused_on_update(http, field, advice):
    gid = made(http)["gid"]
    response = http.put(f"/tasks/{gid}", json={"data": {field: []}})
    assert (response.status_code, message(response)) == (400, f"{field}: Cannot write this property on update. {advice}")


def test_a_rejected_update_changes_nothing_and_modified_at_moves_on_every_change(http):
    task = made(http, name="before", due_on="2026-12-01")
    rejected = http.put(f"/tasks/{task['gid']}", json={"data": {"name": "after", "due_on": "bad"}})
    assert rejected.status_code == 400
    assert http.get(f"/tasks/{task['gid']}").json()["data"] == {**task, "num_subtasks": 0}
    stamps = [task["modified_at"]]
    for path, body in [(f"/tasks/{task['gid']}/addTag", {"tag": CHURN}),
                       (f"/tasks/{task['gid']}/addFollowers", {"followers": [ADA]})]:
        assert http.post(path, json={"data": body}).status_code == 200
        stamps.append(http.get(f"/tasks/{task['gid']}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"])
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_unknown_and_malformed_task_requests(http):
    unknown = http.get("/tasks/123")
    assert (unknown.status_code, message(unknown)) == (404, "task: Not a recognized ID: 123")
    assert http.put("/tasks/123", json={"data": {}}).status_code == 404
    assert http.put("/tasks/abc", json={"data": {}}).status_code == 400
    assert http.delete("/tasks/abc").status_code == 400
    broken = http.post("/tasks", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (broken.status_code, message(broken)) == (400, "Could not parse request data, invalid JSON")
    unwrapped = http.post("/tasks", json={"name": "unwrapped"})
    assert (unwrapped.status_code, message(unwrapped)) == (400, "data: Missing input")
    assert http.post("/tasks", json={"data": ["x"]}).status_code == 400
    assert http.post(f"/tasks/{made(http)['gid']}/explode", json={"data": {}}).status_code == 404


def test_tag_follower_project_and_parent_actions(http):
    gid = made(http, name="child")["gid"]
    assert http.post(f"/tasks/{gid}/addTag", json={"data": {"tag": CHURN}}).json() == {"data": {}}
    assert http.post(f"/tasks/{gid}/addTag", json={"data": {"tag": ENTERPRISE}}).status_code == 200
    assert http.post(f"/tasks/{gid}/removeTag", json={"data": {"tag": CHURN}}).json() == {"data": {}}
    assert message(http.post(f"/tasks/{gid}/addTag", json={"data": {}})) == "tag: Missing input"
    assert message(http.post(f"/tasks/{gid}/addTag", json={"data": {"tag": "9"}})) == "tag: Not a recognized ID: 9"
    followed = http.post(f"/tasks/{gid}/addFollowers", json={"data": {"followers": ["ada@acme.example", GRACE]}}).json()["data"]
    assert [user["gid"] for user in followed["followers"]] == [ADA, GRACE]
    unfollowed = http.post(f"/tasks/{gid}/removeFollowers", json={"data": {"followers": [ADA]}}).json()["data"]
    assert [user["gid"] for user in unfollowed["followers"]] == [GRACE]
    assert http.post(f"/tasks/{gid}/addProject", json={"data": {"project": PROJECT, "section": TRIAGE}}).json() == {"data": {}}
    assert http.post(f"/tasks/{gid}/addProject", json={"data": {"project": OTHER_PROJECT}}).status_code == 200
    assert http.post(f"/tasks/{gid}/addProject", json={"data": {"project": FORBIDDEN_PROJECT}}).status_code == 403
    assert http.post(f"/tasks/{gid}/removeProject", json={"data": {"project": OTHER_PROJECT}}).json() == {"data": {}}
    task = http.get(f"/tasks/{gid}", params={"opt_fields": "tags,memberships.section.name,projects"}).json()["data"]
    assert [tag["gid"] for tag in task["tags"]] == [ENTERPRISE]
    assert [(m["project"]["gid"], m["section"]["gid"]) for m in task["memberships"]] == [(PROJECT, TRIAGE)]
    assert [project["gid"] for project in task["projects"]] == [PROJECT]
    assert gid in [t["gid"] for t in http.get(f"/sections/{TRIAGE}/tasks").json()["data"]]
    parent = made(http, name="parent")["gid"]
    child = http.post(f"/tasks/{gid}/setParent", json={"data": {"parent": parent}}).json()["data"]
    assert child["parent"]["gid"] == parent
    assert [t["gid"] for t in http.get(f"/tasks/{parent}/subtasks").json()["data"]] == [gid]
    assert http.post(f"/tasks/{parent}/setParent", json={"data": {"parent": gid}}).status_code == 400
    assert http.delete(f"/tasks/{parent}").json() == {"data": {}}
    assert http.get(f"/tasks/{gid}").status_code == 404


def test_delete_then_get_is_404(http):
    gid = made(http)["gid"]
    assert http.delete(f"/tasks/{gid}").json() == {"data": {}}
    assert message(http.get(f"/tasks/{gid}")) == f"task: Not a recognized ID: {gid}"
    assert http.delete(f"/tasks/{gid}").status_code == 404


# ---- listings, pagination and opt_fields ---------------------------------------------------


def test_pagination_serves_every_task_once_in_creation_order(server):
    with client_for(server) as http:
        gids = [made(http, name=f"t{n}")["gid"] for n in range(7)]
        first = http.get(f"/projects/{PROJECT}/tasks", params={"limit": 3}).json()
        assert [task["gid"] for task in first["data"]] == gids[:3]
        assert set(first["data"][0]) == {"gid", "resource_type", "name", "resource_subtype"}
        next_page = first["next_page"]
        assert next_page["path"].startswith(f"/projects/{PROJECT}/tasks?") and next_page["uri"] == server.base_url + next_page["path"]
        http.delete(f"/tasks/{gids[2]}")
        http.delete(f"/tasks/{gids[3]}")
        second = http.get(next_page["uri"]).json()
        assert [task["gid"] for task in second["data"]] == gids[4:7] and second["next_page"] is None
        assert http.get("/tasks", params={"project": PROJECT}).json()["data"] == [
            task for task in first["data"][:2] + second["data"]
        ]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"limit": 5, "offset": "bogus"}])
def test_bad_limits_and_offsets_are_400(http, params):
    response = http.get(f"/projects/{PROJECT}/tasks", params=params)
    assert response.status_code == 400 and message(response).split(":")[0] in params


def test_without_a_limit_a_listing_is_cut_at_1000(server):
    for n in range(1005):
        server.state.create_task({"projects": [PROJECT], "name": f"bulk {n}"})
    with client_for(server) as http:
        assert len(http.get(f"/projects/{PROJECT}/tasks").json()["data"]) == 1000
        assert http.get(f"/projects/{PROJECT}/tasks", params={"limit": 100}).json()["next_page"] is not None


def test_task_queries_and_their_filters(server):
    with client_for(server) as http:
        early = made(http, name="early", assignee=ADA)
        done = made(http, name="done", completed=True)
        moment = http.get(f"/tasks/{done['gid']}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"]
        tagged = made(http, name="tagged", tags=[CHURN])
        names = lambda response: [task["name"] for task in response.json()["data"]]  # noqa: E731
        assert names(http.get("/tasks", params={"project": PROJECT, "modified_since": moment})) == ["done", "tagged"]
        assert names(http.get("/tasks", params={"project": PROJECT, "completed_since": "now"})) == ["early", "tagged"]
        assert names(http.get("/tasks", params={"project": PROJECT, "completed_since": "2000-01-01T00:00:00Z"})) == ["early", "done", "tagged"]
        assert names(http.get("/tasks", params={"assignee": "ada@acme.example", "workspace": WORKSPACE})) == ["early"]
        assert names(http.get(f"/tags/{CHURN}/tasks")) == ["tagged"]
        assert http.get("/tasks", params={"project": PROJECT, "modified_since": "yesterday"}).status_code == 400
        assert message(http.get("/tasks")).startswith("Must specify exactly one of project")
        assert http.get("/tasks", params={"assignee": ADA}).status_code == 400
        assert early["gid"] < tagged["gid"]


def test_opt_fields_select_fields_on_reads_lists_and_writes(http):
    created = http.post("/tasks", params={"opt_fields": "gid"}, json={"data": {"projects": [PROJECT], "name": "o", "assignee": ADA}})
    gid = created.json()["data"]["gid"]
    assert created.json()["data"] == {"gid": gid}
    read = http.get(f"/tasks/{gid}", params={"opt_fields": "name,assignee.email,custom_fields.gid,nonsense"}).json()["data"]
    assert set(read) == {"gid", "name", "assignee", "custom_fields"}
    assert read["assignee"]["email"] == "ada@acme.example" and len(read["custom_fields"]) == 6
    updated = http.put(f"/tasks/{gid}", params={"opt_fields": "name,modified_at"}, json={"data": {"name": "p"}}).json()["data"]
    assert set(updated) == {"gid", "name", "modified_at"} and updated["name"] == "p"
    listed = http.get("/tasks", params={"project": PROJECT, "opt_fields": "notes,completed", "limit": 100}).json()["data"]
    assert all(set(task) == {"gid", "notes", "completed"} for task in listed)
    assert http.get(f"/projects/{PROJECT}", params={"opt_fields": "name"}).json()["data"] == {"gid": PROJECT, "name": "Customer Success Follow-ups"}


# ---- batch ---------------------------------------------------------------------------------


def test_batch_answers_each_action_as_its_endpoint_would(http):
    gid = made(http, name="batched")["gid"]
    actions = [
        {"relative_path": "/tasks", "method": "post", "data": {"projects": [PROJECT], "name": "from batch"}, "options": {"fields": ["name"]}},
        {"relative_path": f"/tasks/{gid}", "method": "put", "data": {"completed": True}, "options": {"fields": ["completed"]}},
        {"relative_path": f"/tasks/{gid}/addTag", "method": "post", "data": {"tag": CHURN}},
        {"relative_path": f"/projects/{PROJECT}/tasks", "method": "get", "data": {"completed_since": "now"}, "options": {"limit": 1}},
        {"relative_path": "/tasks/123", "method": "get"},
        {"relative_path": f"/tasks/{gid}", "method": "put", "data": {"due_on": "nope"}},
    ]
    response = http.post("/batch", json={"data": {"actions": actions}})
    assert response.status_code == 200
    results = response.json()["data"]
    assert [result["status_code"] for result in results] == [201, 200, 200, 200, 404, 400]
    created = results[0]["body"]["data"]
    assert created == {"gid": created["gid"], "name": "from batch"} and results[0]["headers"] == {"location": f"/tasks/{created['gid']}"}
    assert results[1]["body"] == {"data": {"gid": gid, "completed": True}}
    assert results[2]["body"] == {"data": {}}
    assert len(results[3]["body"]["data"]) == 1 and results[3]["body"]["next_page"]["offset"]
    assert results[4]["body"]["errors"][0]["message"] == "task: Not a recognized ID: 123"
    assert results[5]["body"]["errors"][0]["message"].startswith("due_on:")


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([{"relative_path": "/users/me", "method": "get"}] * 11, "actions: A batch may hold at most 10 actions"),
        ([], "actions: Must be a non-empty array"),
        ([{"relative_path": "/batch", "method": "post"}], "actions[0].relative_path: A batch cannot contain a batch"),
        ([{"relative_path": "/users/me?opt_fields=email", "method": "get"}], "actions[0].relative_path: Query parameters"),
        ([{"relative_path": "/users/me", "method": "fetch"}], "actions[0].method: Must be one of"),
    ],
)
def test_malformed_batches_are_400(http, actions, expected):
    response = http.post("/batch", json={"data": {"actions": actions}})
    assert response.status_code == 400 and message(response).startswith(expected)


def test_a_fixture_and_project_gid_of_ones_own(tmp_path):
    from asana_sync_pipeline.emulator import default_fixture

    fixture = default_fixture()
    fixture["project"]["name"] = "Renewals"
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture, project_gid="1234567890123456")) as running:
        with client_for(running) as http:
            project = http.get("/projects/1234567890123456").json()["data"]
    assert (project["name"], len(project["custom_field_settings"])) == ("Renewals", 6)
