"""The emulator over HTTP: Asana's rules with its status codes and messages, pagination,
rate and concurrency limits, injected faults, and a CLI that never prints the token."""

import asyncio
import re
import subprocess
import sys

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings

TOKEN = "0/0123456789abcdef0123456789abcdef"
PROJECT = "1200000000000100"
TEXT, NUMBER, ENUM, MULTI, DATE, PEOPLE = (f"120000000000030{n}" for n in range(1, 7))


@pytest.fixture
def server():
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as running:
        yield running


def api(server):
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"})


def create(http, **fields):
    return http.post("/tasks", json={"data": {"projects": [PROJECT], **fields}})


INVALID_CREATES = [
    ({"due_on": "2026-13-01"}, "due_on:"),
    ({"due_on": "01/12/2026"}, "due_on: Must be a date"),
    ({"due_at": "2026-12-01"}, "due_at: Must be an ISO 8601 date-time"),
    ({"due_on": "2026-12-01", "due_at": "2026-12-01T10:00:00Z"}, "You may only provide one of due_on or due_at!"),
    ({"start_on": "2026-12-01"}, "start_on: A start date requires a due date"),
    ({"start_on": "2026-12-05", "due_on": "2026-12-01"}, "start_on: The start date must be on or before"),
    ({"resource_subtype": "milestone", "start_on": "2026-11-01", "due_on": "2026-12-01"}, "Milestones cannot have a start date"),
    ({"html_notes": "<body><strong>open</body>"}, "html_notes: XML is invalid"),
    ({"html_notes": "<body><p>x</p></body>"}, "html_notes: Tag <p> is not supported"),
    ({"html_notes": "no wrapper"}, "html_notes: XML is invalid"),
    ({"assignee": "nobody@elsewhere.example"}, "assignee: Not a recognized ID or email"),
    ({"tags": ["999"]}, "tags: Not a recognized ID: 999"),
    ({"custom_fields": {"42": "x"}}, "custom_fields: Custom field with ID 42 is not on given object"),
    ({"custom_fields": {NUMBER: "many"}}, f"Value for {NUMBER} must be a number"),
    ({"custom_fields": {ENUM: "1200000000000321"}}, "is not an enum option"),
    ({"custom_fields": {MULTI: "1200000000000321"}}, "must be an array of its enum option GIDs"),
    ({"custom_fields": {TEXT: "x" * 1025}}, "at most 1024 characters"),
    ({"custom_fields": {PEOPLE: ["Ada Lovelace"]}}, "Not a recognized ID or email"),
    ({"completed": "yes"}, "completed: Must be a boolean"),
    ({"colour": "red"}, "colour: Unknown property"),
]


@pytest.mark.parametrize(("fields", "message"), INVALID_CREATES)
def test_asana_rules_reject_bad_writes_with_its_messages(server, fields, message):
    with api(server) as http:
        response = create(http, name="x", **fields)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert server.task_count() == 0


def test_a_create_needs_a_project_workspace_or_parent_but_not_a_name(server):
    with api(server) as http:
        assert http.post("/tasks", json={"data": {"name": "x"}}).json()["errors"][0]["message"] == (
            "You should specify one of workspace, parent, projects"
        )
        assert create(http).status_code == 201


def test_valid_values_of_every_custom_field_type_are_stored(server):
    with api(server) as http:
        task = create(
            http,
            name="x",
            custom_fields={TEXT: "acct-1", NUMBER: 12.5, ENUM: "1200000000000311", MULTI: ["1200000000000321"],
                           DATE: "2026-12-24", PEOPLE: ["grace@acme.example"]},
        ).json()["data"]
    values = {field["gid"]: field for field in task["custom_fields"]}
    assert values[TEXT]["text_value"] == "acct-1"
    assert values[NUMBER]["number_value"] == 12.5
    assert values[ENUM]["enum_value"]["name"] == "Green"
    assert [option["name"] for option in values[MULTI]["multi_enum_values"]] == ["Analytics"]
    assert values[DATE]["date_value"] == {"date": "2026-12-24", "date_time": None}
    assert values[PEOPLE]["people_value"][0]["gid"] == "1200000000000012"


@pytest.mark.parametrize("field", ["tags", "followers", "projects", "memberships", "parent", "workspace"])
def test_create_only_fields_are_refused_on_update(server, field):
    with api(server) as http:
        gid = create(http, name="x").json()["data"]["gid"]
        response = http.put(f"/tasks/{gid}", json={"data": {field: []}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith(f"{field}: Cannot write this property on update")


def test_unknown_tasks_projects_and_routes(server):
    with api(server) as http:
        assert http.get("/tasks/123").json()["errors"][0]["message"] == "task: Not a recognized ID: 123"
        assert http.put("/tasks/abc", json={"data": {}}).status_code == 400
        assert http.get("/projects/987").status_code == 404
        assert http.get("/nowhere").status_code == 404
        assert http.post("/tasks", content=b"{not json").status_code == 400
        assert http.post("/tasks", json={"name": "unwrapped"}).json()["errors"][0]["message"] == "data: Missing input"


def test_pagination_limits_offsets_and_opt_fields(server):
    with api(server) as http:
        for n in range(5):
            create(http, name=f"t{n}", notes="hello")
        first = http.get(f"/projects/{PROJECT}/tasks", params={"limit": 2}).json()
        assert [task["name"] for task in first["data"]] == ["t0", "t1"]
        assert set(first["data"][0]) == {"gid", "resource_type", "name", "resource_subtype"}
        second = http.get(f"/projects/{PROJECT}/tasks", params={"limit": 2, "offset": first["next_page"]["offset"]}).json()
        assert [task["name"] for task in second["data"]] == ["t2", "t3"]
        last = http.get("/tasks", params={"project": PROJECT, "limit": 2, "offset": second["next_page"]["offset"], "opt_fields": "notes"}).json()
        assert last["data"] == [{"gid": last["data"][0]["gid"], "notes": "hello"}] and last["next_page"] is None
        assert http.get("/tasks", params={"project": PROJECT, "limit": 101}).status_code == 400
        assert http.get("/tasks", params={"project": PROJECT, "limit": 1, "offset": "bogus"}).status_code == 400
        assert http.get("/tasks", params={"project": PROJECT, "modified_since": "2999-01-01T00:00:00Z"}).json()["data"] == []


def test_the_rate_limit_answers_429_with_retry_after_and_counts_rejected_requests():
    with EmulatorServer(EmulatorSettings(token=TOKEN, rate_limit_per_minute=5)) as server, api(server) as http:
        statuses = [http.get("/users/me").status_code for _ in range(8)]
        limited = http.get("/users/me")
    assert statuses == [200] * 5 + [429] * 3
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json() == {"errors": [{"message": "You've made too many requests and hit a rate limit. Please retry after the given amount of time.", "help": limited.json()["errors"][0]["help"]}]}
    assert server.stats.rate_limited == 4


def test_writes_beyond_the_concurrency_limit_are_429():
    async def burst(server):
        async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            responses = await asyncio.gather(*(http.post("/tasks", json={"data": {"projects": [PROJECT]}}) for _ in range(20)))
        return sorted(response.status_code for response in responses)

    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=1000)) as server:
        statuses = asyncio.run(burst(server))
    assert statuses == [201] * 15 + [429] * 5


@pytest.mark.parametrize(
    ("kind", "created", "outcome"),
    [
        ("error_500", 0, 500),
        ("error_503", 0, 503),
        ("spurious_429", 0, 429),
        ("reset_before", 0, httpx.TransportError),
        ("reset_after", 1, httpx.TransportError),
    ],
)
def test_each_fault_kind_is_what_a_client_sees(kind, created, outcome):
    settings = EmulatorSettings(token=TOKEN, fault_rate=1.0, fault_kinds=(kind,), seed=1)
    with EmulatorServer(settings) as server, api(server) as http:
        if isinstance(outcome, int):
            response = create(http, name="x")
            assert response.status_code == outcome
            if kind == "error_500":
                assert response.json()["errors"][0]["phrase"]
        else:
            with pytest.raises(outcome):
                create(http, name="x")
        assert server.task_count() == created
        assert http.get("/users/me").status_code == 200


def test_slow_answers_outlast_a_client_timeout_but_the_task_is_made():
    with EmulatorServer(EmulatorSettings(token=TOKEN, slow_rate=1.0, slow_seconds=1.0)) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=0.3) as http:
            with pytest.raises(httpx.ReadTimeout):
                create(http, name="x")
        assert server.task_count() == 1


def test_the_command_line_serves_on_a_free_port_and_never_prints_the_token():
    secret = "1/1234567890123456:deadbeefdeadbeefdeadbeefdeadbeef"
    process = subprocess.Popen(
        [sys.executable, "-m", "asana_sync_pipeline.emulator", "--port", "0", "--token", secret, "--project-gid", "42", "--fault-rate", "0.5", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        base_url = re.search(r"(http://\S+/api/1\.0)", line).group(1)
        assert httpx.get(f"{base_url}/users/me", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{base_url}/projects/42", headers={"Authorization": f"Bearer {secret}"}).json()["data"]["gid"] == "42"
        for _ in range(6):
            try:
                httpx.post(f"{base_url}/tasks", headers={"Authorization": f"Bearer {secret}"}, json={"data": {"projects": ["42"]}})
            except httpx.HTTPError:
                pass
    finally:
        process.terminate()
        output, errors = process.communicate(timeout=10)
    assert process.returncode is not None
    assert secret not in line + output + errors
