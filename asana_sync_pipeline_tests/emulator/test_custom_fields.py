"""Custom field values as Asana validates and answers them, type by type: the accepted
input shapes, what is refused (a disabled option, a field not on the task's projects,
a wrong type), and the value fields with `display_value` to the field's precision."""

import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings, default_fixture
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

PROJECT, INCIDENTS = "1200000000000100", "1200000000000120"
TEXT, NUMBER, ENUM, MULTI, DATE, PEOPLE = (f"120000000000030{n}" for n in range(1, 7))
SEVERITY, CHECK_NAME = "1200000000000307", "1200000000000308"
LOW, CRITICAL, LEGACY = "1200000000000331", "1200000000000334", "1200000000000335"
ANALYTICS, REVERSE_ETL = "1200000000000321", "1200000000000323"
ADA, GRACE = "1200000000000011", "1200000000000012"


def create(http, project: str, values: dict):
    return http.post("/tasks", json={"data": {"projects": [project], "name": "cf", "custom_fields": values}})


def values_of(task: dict) -> dict[str, dict]:
    return {field["gid"]: field for field in task["custom_fields"]}


def message(response) -> str:
    return response.json()["errors"][0]["message"]


def test_the_incident_projects_fields_take_their_values(http):
    task = create(http, INCIDENTS, {SEVERITY: CRITICAL, CHECK_NAME: "orders_not_null", TEXT: "dq-17"}).json()["data"]
    values = values_of(task)
    assert list(values) == [TEXT, SEVERITY, CHECK_NAME]
    assert values[SEVERITY]["enum_value"] == {"gid": CRITICAL, "resource_type": "enum_option", "name": "Critical",
                                              "enabled": True, "color": "red"}
    assert (values[SEVERITY]["display_value"], values[CHECK_NAME]["text_value"]) == ("Critical", "orders_not_null")


REFUSED = [
    (INCIDENTS, {SEVERITY: LEGACY}, f"custom_fields: Enum option {LEGACY} (Legacy) of custom field {SEVERITY} is disabled"),
    (INCIDENTS, {SEVERITY: "999"}, f"custom_fields: '999' is not an enum option of custom field {SEVERITY}"),
    (INCIDENTS, {SEVERITY: "Critical"}, f"custom_fields: 'Critical' is not an enum option of custom field {SEVERITY}"),
    (INCIDENTS, {SEVERITY: [CRITICAL]}, f"custom_fields: Value for {SEVERITY} must be the GID of one of its enum options"),
    (INCIDENTS, {CHECK_NAME: ["a"]}, f"custom_fields: Value for {CHECK_NAME} must be a string"),
    (INCIDENTS, {NUMBER: 5}, f"custom_fields: Custom field with ID {NUMBER} is not on given object"),
    (PROJECT, {SEVERITY: LOW}, f"custom_fields: Custom field with ID {SEVERITY} is not on given object"),
    (PROJECT, {MULTI: [ANALYTICS, "999"]}, f"custom_fields: '999' is not an enum option of custom field {MULTI}"),
    (PROJECT, {MULTI: {"gid": ANALYTICS}}, f"custom_fields: Value for {MULTI} must be an array of its enum option GIDs"),
    (PROJECT, {NUMBER: [1]}, f"custom_fields: Value for {NUMBER} must be a number"),
    (PROJECT, {NUMBER: "Infinity"}, f"custom_fields: Value for {NUMBER} must be a number"),
    (PROJECT, {DATE: 20261224}, "custom_fields: Must be a date in the format YYYY-MM-DD"),
    (PROJECT, {DATE: {"date": "2026-12-24", "date_time": "2026-12-24T09:00:00Z"}}, "custom_fields: You may only provide one of date or date_time!"),
    (PROJECT, {DATE: {"date_time": "2026-12-24"}}, "custom_fields: Must be an ISO 8601 date-time"),
    (PROJECT, {PEOPLE: "ada@acme.example"}, f"custom_fields: Value for {PEOPLE} must be an array of users"),
    (PROJECT, {PEOPLE: ["nobody@elsewhere.example"]}, "custom_fields: Not a recognized ID or email: nobody@elsewhere.example"),
    (PROJECT, [TEXT], "custom_fields: Must be an object keyed by custom field GID"),
]


@pytest.mark.parametrize(("project", "values", "expected"), REFUSED, ids=[case[2][15:60] for case in REFUSED])
def test_values_asana_refuses_are_400_and_change_nothing(shared_server, http, project, values, expected):
    before = shared_server.task_count()
    response = create(http, project, values)
    assert response.status_code == 400 and message(response).startswith(expected), response.text
    assert shared_server.task_count() == before


@pytest.mark.parametrize(("value", "date_value", "display"), [
    ("2026-12-24", {"date": "2026-12-24", "date_time": None}, "2026-12-24"),
    ({"date": "2026-12-24"}, {"date": "2026-12-24", "date_time": None}, "2026-12-24"),
    ("2026-12-24T10:30:00+01:00", {"date": "2026-12-24", "date_time": "2026-12-24T09:30:00.000Z"}, "2026-12-24T09:30:00.000Z"),
    ({"date_time": "2026-12-24T09:30:00Z"}, {"date": "2026-12-24", "date_time": "2026-12-24T09:30:00.000Z"}, "2026-12-24T09:30:00.000Z"),
    ({"date": None}, None, None),
])
def test_date_values_in_each_shape_asana_accepts(http, value, date_value, display):
    field = values_of(create(http, PROJECT, {DATE: value}).json()["data"])[DATE]
    assert (field["date_value"], field["display_value"]) == (date_value, display)


def test_multi_enum_and_people_values_and_clearing_them(http):
    task = create(http, PROJECT, {MULTI: [REVERSE_ETL, ANALYTICS, REVERSE_ETL], PEOPLE: [ADA, "grace@acme.example", "me"]}).json()["data"]
    values = values_of(task)
    assert [option["name"] for option in values[MULTI]["multi_enum_values"]] == ["Reverse ETL", "Analytics"]
    assert values[MULTI]["display_value"] == "Reverse ETL, Analytics"
    assert [person["gid"] for person in values[PEOPLE]["people_value"]] == [ADA, GRACE, "1200000000000010"]
    assert values[PEOPLE]["display_value"] == "Ada Lovelace, Grace Hopper, Sync Bot"
    cleared = values_of(http.put(f"/tasks/{task['gid']}", json={"data": {"custom_fields": {MULTI: None, PEOPLE: []}}}).json()["data"])
    assert (cleared[MULTI]["multi_enum_values"], cleared[MULTI]["display_value"]) == ([], None)
    assert (cleared[PEOPLE]["people_value"], cleared[PEOPLE]["display_value"]) == ([], None)


def test_a_field_becomes_writable_when_the_task_joins_a_project_that_has_it(http):
    gid = create(http, PROJECT, {}).json()["data"]["gid"]
    refused = http.put(f"/tasks/{gid}", json={"data": {"custom_fields": {SEVERITY: LOW}}})
    assert refused.status_code == 400
    assert http.post(f"/tasks/{gid}/addProject", json={"data": {"project": INCIDENTS}}).status_code == 200
    accepted = http.put(f"/tasks/{gid}", json={"data": {"custom_fields": {SEVERITY: LOW}}, }, params={"opt_fields": "custom_fields.enum_value.name"})
    severity = values_of(accepted.json()["data"])[SEVERITY]
    assert severity["enum_value"]["name"] == "Low"


def test_numbers_are_displayed_to_the_fields_precision():
    fixture = default_fixture()
    next(field for field in fixture["custom_fields"] if field["gid"] == NUMBER)["precision"] = 2
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture)) as server, client_for(server) as http:
        shown = [values_of(create(http, PROJECT, {NUMBER: value}).json()["data"])[NUMBER] for value in (1250.5, 3, "7.125", 2**53 + 1)]
        settings = http.get(f"/projects/{PROJECT}/custom_field_settings", params={"opt_fields": "custom_field.precision"}).json()["data"]
    assert [(field["number_value"], field["display_value"]) for field in shown] == [
        (1250.5, "1250.50"), (3, "3.00"), (7.125, "7.12"), (2**53 + 1, "9007199254740993.00")
    ]
    assert next(s for s in settings if s["custom_field"]["gid"] == NUMBER)["custom_field"]["precision"] == 2
