"""Task templates of a project and the asynchronous jobs that instantiate them, as Asana runs
them: a 201 job that a client polls, a task made with the template's notes, fields and
subtasks by whoever asked, at most 5 jobs of a user at once, and the ambiguous reset."""

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings, FixtureError, create_app, default_fixture
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

PROJECT, INCIDENTS = "1200000000000100", "1200000000000120"
SYNC_KEY, HEALTH, YELLOW, AE = "1200000000000301", "1200000000000303", "1200000000000312", "1200000000000306"
BOT, ADA, GRACE = "1200000000000010", "1200000000000011", "1200000000000012"
ONBOARDING, REVIEW, POSTMORTEM = "1200000000000501", "1200000000000502", "1200000000000503"
ADA_TOKEN = "1/1200000000000011:ada0ada0ada0ada0ada0ada0ada0ada0"
RATE_LIMIT_BODY = {
    "errors": [{"message": "You've made too many requests and hit a rate limit. Please retry after the given amount of time."}]
}


def fixture(**extra) -> dict:
    data = default_fixture()
    data["users"] = [{**user, "token": ADA_TOKEN} if user["gid"] == ADA else user for user in data["users"]]
    data["task_templates"] = [
        {"gid": ONBOARDING, "name": "Customer onboarding", "project": PROJECT, "notes": "Kick-off, then training.",
         "subtasks": [{"name": "Kick-off call"}, {"name": "Admin training"}],
         "custom_fields": {HEALTH: YELLOW, AE: [GRACE]}, "assignee": "grace@acme.example", "due_on_offset_days": 14},
        {"gid": REVIEW, "name": "Quarterly review", "project": PROJECT},
        {"gid": POSTMORTEM, "name": "Postmortem", "project": INCIDENTS, "notes": "What happened?"},
    ]
    return {**data, **extra}


@pytest.fixture
def server():
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture(), job_seconds=0.1)) as running:
        yield running


def wait_for(http: httpx.Client, job: str, seconds: float = 10) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = http.get(f"/jobs/{job}").json()["data"]
        if answer["status"] in ("succeeded", "failed"):
            return answer
        time.sleep(0.02)
    raise AssertionError(f"job {job} did not finish")


def test_a_projects_templates_are_listed_paged_and_read_in_full(server):
    with client_for(server) as http:
        listed = http.get("/task_templates", params={"project": PROJECT}).json()
        assert listed == {"data": [
            {"gid": ONBOARDING, "resource_type": "task_template", "name": "Customer onboarding"},
            {"gid": REVIEW, "resource_type": "task_template", "name": "Quarterly review"},
        ], "next_page": None}
        first = http.get("/task_templates", params={"project": PROJECT, "limit": 1}).json()
        second = http.get("/task_templates", params={"project": PROJECT, "limit": 1, "offset": first["next_page"]["offset"]}).json()
        assert [first["data"][0]["gid"], second["data"][0]["gid"]] == [ONBOARDING, REVIEW] and second["next_page"] is None
        assert [item["gid"] for item in http.get("/task_templates", params={"project": INCIDENTS}).json()["data"]] == [POSTMORTEM]
        template = http.get(f"/task_templates/{ONBOARDING}").json()["data"]
        assert (template["name"], template["project"]["gid"], template["created_by"]["gid"]) == ("Customer onboarding", PROJECT, BOT)
        recipe = template["template"]
        assert recipe["description"] == "Kick-off, then training." and recipe["relative_due_on"] == 14
        assert [subtask["name"] for subtask in recipe["subtasks"]] == ["Kick-off call", "Admin training"]
        values = {field["gid"]: field["display_value"] for field in recipe["custom_fields"]}
        assert values == {HEALTH: "Yellow", AE: "Grace Hopper"}
        assert http.get("/task_templates", params={"project": PROJECT, "opt_fields": "template.subtasks"}).status_code == 200
        assert http.get("/task_templates").json()["errors"][0]["message"] == "project: Missing input"
        assert http.get("/task_templates/1299999999999999").status_code == 404
        assert http.get("/task_templates", params={"project": "1200000000000199"}).status_code == 403


def test_instantiating_answers_a_job_that_makes_the_task_with_the_templates_content(server):
    with client_for(server) as http:
        sync = http.get("/events", params={"resource": PROJECT}).json()["sync"]
        answer = http.post(f"/task_templates/{ONBOARDING}/instantiateTask", json={"data": {"name": "Onboard Acme"}})
        assert answer.status_code == 201
        job = answer.json()["data"]
        assert job == {"gid": job["gid"], "resource_type": "job", "resource_subtype": "instantiate_task", "status": "not_started",
                       "new_task": None, "new_project": None, "new_project_template": None}
        assert http.get(f"/jobs/{job['gid']}").json()["data"]["status"] in ("not_started", "in_progress")
        done = wait_for(http, job["gid"])
        assert done["status"] == "succeeded"
        assert done["new_task"] == {"gid": done["new_task"]["gid"], "resource_type": "task", "name": "Onboard Acme",
                                    "resource_subtype": "default_task"}
        fields = "name,notes,projects,assignee,due_on,custom_fields.display_value,created_by,num_subtasks,memberships.section.name"
        task = http.get(f"/tasks/{done['new_task']['gid']}", params={"opt_fields": fields}).json()["data"]
        assert (task["notes"], task["projects"][0]["gid"], task["assignee"]["gid"], task["num_subtasks"]) == \
               ("Kick-off, then training.", PROJECT, GRACE, 2)
        assert task["due_on"] == (datetime.now(UTC).date() + timedelta(days=14)).isoformat()
        assert {field["gid"]: field["display_value"] for field in task["custom_fields"] if field["display_value"]} == \
               {HEALTH: "Yellow", AE: "Grace Hopper"}
        subtasks = http.get(f"/tasks/{task['gid']}/subtasks", params={"opt_fields": "name,parent,projects"}).json()["data"]
        assert [(sub["name"], sub["parent"]["gid"], sub["projects"]) for sub in subtasks] == \
               [("Kick-off call", task["gid"], []), ("Admin training", task["gid"], [])]
        events = http.get("/events", params={"resource": PROJECT, "sync": sync}).json()["data"]
        assert ("added", task["gid"], BOT) in [(event["action"], event["resource"]["gid"], event["user"]["gid"]) for event in events]
        stories = http.get(f"/tasks/{task['gid']}/stories", params={"opt_fields": "resource_subtype,created_by"}).json()["data"]
        assert [(story["resource_subtype"], story["created_by"]["gid"]) for story in stories] == [("added_to_project", BOT)]
        plain = wait_for(http, http.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {}}).json()["data"]["gid"])
        assert plain["new_task"]["name"] == "Quarterly review", "without a name, the template's"


def test_the_job_and_its_task_are_the_acting_users(server):
    with client_for(server, ADA_TOKEN) as ada:
        job = ada.post(f"/task_templates/{POSTMORTEM}/instantiateTask", json={"data": {"name": "Outage 12"}}).json()["data"]
        task = ada.get(f"/tasks/{wait_for(ada, job['gid'])['new_task']['gid']}", params={"opt_fields": "created_by,projects"}).json()["data"]
        assert task["created_by"]["gid"] == ADA and task["projects"][0]["gid"] == INCIDENTS


def test_at_most_5_jobs_of_a_user_run_at_once_the_next_is_429_with_retry_after():
    settings = EmulatorSettings(token=TOKEN, fixture=fixture(), job_seconds=1.5)
    with EmulatorServer(settings) as server, client_for(server) as bot, client_for(server, ADA_TOKEN) as ada:
        answers = [bot.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {"name": f"r{n}"}}) for n in range(6)]
        assert [answer.status_code for answer in answers] == [201] * 5 + [429]
        assert answers[-1].json() == RATE_LIMIT_BODY and 1 <= int(answers[-1].headers["Retry-After"]) <= 2
        assert ada.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {}}).status_code == 201, "jobs count per user"
        for answer in answers[:5]:
            assert wait_for(bot, answer.json()["data"]["gid"])["status"] == "succeeded"
        assert bot.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {}}).status_code == 201, "room again once done"
        assert len([task for task in server.store.tasks.values() if task.name.startswith("r")]) == 5


def test_the_job_limit_is_configurable():
    settings = EmulatorSettings(token=TOKEN, fixture=fixture(), job_seconds=2, max_concurrent_jobs=1)
    with EmulatorServer(settings) as server, client_for(server) as http:
        statuses = [http.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {}}).status_code for _ in range(2)]
        assert statuses == [201, 429]


def test_a_reset_after_fault_leaves_a_job_that_runs_to_its_task():
    settings = EmulatorSettings(token=TOKEN, fixture=fixture(), job_seconds=0.05, fault_rate=1.0, fault_kinds=("reset_after",))
    with EmulatorServer(settings) as server, client_for(server) as http:
        with pytest.raises(httpx.TransportError):
            http.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {"name": "ambiguous"}})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(task.name == "ambiguous" for task in server.store.tasks.values()):
            time.sleep(0.02)
        found = http.get("/tasks", params={"project": PROJECT, "opt_fields": "name"}).json()["data"]
        assert [task["name"] for task in found] == ["ambiguous"], "the job was made before the reset, and ran"


def test_a_job_whose_template_is_deleted_before_it_runs_fails(server):
    slow = EmulatorSettings(token=TOKEN, fixture=fixture(), job_seconds=0.6)
    with EmulatorServer(slow) as running, client_for(running) as http:
        job = http.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {}}).json()["data"]["gid"]
        assert http.delete(f"/task_templates/{REVIEW}").json() == {"data": {}}
        assert http.get(f"/task_templates/{REVIEW}").status_code == 404
        assert wait_for(http, job) == {"gid": job, "resource_type": "job", "resource_subtype": "instantiate_task",
                                       "status": "failed", "new_task": None, "new_project": None, "new_project_template": None}
        assert running.task_count() == 0


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    (f"/task_templates/{REVIEW}/instantiateTask", {"name": 7}, 400, "name: Must be a string"),
    (f"/task_templates/{REVIEW}/instantiateTask", {"name": "x", "notes": "y"}, 400, "notes: Unknown property"),
    ("/task_templates/1299999999999999/instantiateTask", {"name": "x"}, 404, "task_template: Not a recognized ID: 1299999999999999"),
    ("/task_templates/abc/instantiateTask", {"name": "x"}, 400, "task_template: Not a valid GID: abc"),
])
def test_instantiation_errors_are_asanas(server, path, body, status, message):
    with client_for(server) as http:
        answer = http.post(path, json={"data": body})
        assert (answer.status_code, answer.json()["errors"][0]["message"]) == (status, message)
        assert http.get("/jobs/1299999999999999").status_code == 404


@pytest.mark.parametrize(("template", "expected"), [
    ({"gid": "77", "name": "T", "project": "1299999999999999"}, "task_templates[0].project is 1299999999999999, not a project of the fixture"),
    ({"gid": "77", "name": "T"}, "task_templates[0] needs a 'project'"),
    ({"gid": "77", "name": "T", "project": PROJECT, "subtasks": ["x"]}, "task_templates[0].subtasks[0] must be {\"name\": <string>}"),
    ({"gid": "77", "name": "T", "project": PROJECT, "custom_fields": {"1200000000000307": "1200000000000331"}},
     "task_templates[0].custom_fields names 1200000000000307, not a custom field of project 1200000000000100"),
    ({"gid": "77", "name": "T", "project": PROJECT, "custom_fields": {HEALTH: "nope"}}, "'nope' is not an enum option"),
    ({"gid": "77", "name": "T", "project": PROJECT, "assignee": "nobody@acme.example"}, "task_templates[0].assignee is 'nobody@acme.example'"),
    ({"gid": "77", "name": "T", "project": PROJECT, "due_on_offset_days": -1}, "due_on_offset_days must be a whole number of days"),
    ({"gid": "77", "name": "T", "project": PROJECT, "description": "x"}, "task_templates[0] has unknown keys: description"),
    ({"gid": PROJECT, "name": "T", "project": PROJECT}, f"GID {PROJECT} is used twice"),
])
def test_a_template_the_fixture_cannot_describe_is_refused(template, expected):
    with pytest.raises(FixtureError) as caught:
        create_app(EmulatorSettings(fixture={**default_fixture(), "task_templates": [template]}))
    assert expected in str(caught.value)


def test_job_seconds_from_the_fixture_and_a_fixture_without_templates_works_as_before():
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture(job_seconds=0))) as server, client_for(server) as http:
        assert server.store.templates.job_seconds == 0
        job = http.post(f"/task_templates/{REVIEW}/instantiateTask", json={"data": {}}).json()["data"]
        assert job["status"] == "not_started" and wait_for(http, job["gid"], 5)["status"] == "succeeded"
    with pytest.raises(FixtureError, match="job_seconds must be a non-negative number"):
        create_app(EmulatorSettings(fixture=fixture(job_seconds=-1)))
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as server, client_for(server) as http:
        assert http.get("/task_templates", params={"project": PROJECT}).json() == {"data": [], "next_page": None}


def test_a_template_of_the_default_project_follows_it_when_project_gid_renames_it():
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture(), project_gid="42", job_seconds=0)) as server, \
            client_for(server) as http:
        assert [t["name"] for t in http.get("/task_templates", params={"project": "42"}).json()["data"]] == \
               ["Customer onboarding", "Quarterly review"]
        job = http.post(f"/task_templates/{ONBOARDING}/instantiateTask", json={"data": {"name": "Onboard Initech"}}).json()["data"]
        task = http.get(f"/tasks/{wait_for(http, job['gid'])['new_task']['gid']}", params={"opt_fields": "projects,num_subtasks"}).json()["data"]
        assert (task["projects"][0]["gid"], task["num_subtasks"]) == ("42", 2)
