"""The OpenAPI contract check itself: it reads OpenAPI 3.0 as the spec means it (nullable,
also beside allOf), flags what the spec does not document, maps concrete paths to
the spec's routes, and sees every answer of an emulator it did not build."""

import json

import httpx
import pytest
from jsonschema import Draft202012Validator

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.emulator.observe import Exchange, observing
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for
from asana_sync_pipeline_tests.emulator.openapi_contract import (
    DEFS,
    VENDORED,
    ContractRecorder,
    SchemaConverter,
    shared_contract,
)

SCHEMAS = {
    "Thing": {"type": "object", "properties": {"gid": {"type": "string"}, "name": {"type": "string"}}},
    "Holder": {
        "type": "object",
        "properties": {
            "beside": {"allOf": [{"$ref": "#/components/schemas/Thing"}, {"nullable": True}]},
            "around": {"allOf": [{"$ref": "#/components/schemas/Thing"}], "nullable": True},
            "typed": {"allOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "object", "nullable": True}]},
            "plain": {"type": "string", "nullable": True},
            "strict": {"$ref": "#/components/schemas/Thing"},
            "status": {"type": "string", "enum": ["a", "b"]},
        },
    },
    "Bigger": {"allOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "object", "properties": {"extra": {"type": "integer"}}}]},
}


def validator(name: str) -> Draft202012Validator:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    converter = SchemaConverter(SCHEMAS, DEFS)
    schema = converter.convert({"$ref": f"#/components/schemas/{name}"})
    registry = Registry().with_resource(DEFS, Resource.from_contents({"$defs": converter.all_components()}, DRAFT202012))
    return Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize("field", ["beside", "around", "typed", "plain"])
def test_nullable_in_every_place_the_spec_writes_it_means_or_null(field):
    assert validator("Holder").is_valid({field: None})


@pytest.mark.parametrize(("body", "valid"), [
    ({"strict": None}, False),
    ({"status": None}, False),
    ({"status": "c"}, False),
    ({"beside": {"gid": "1", "name": "x"}}, True),
    ({"beside": {"gid": 1}}, False),
    ({"beside": {"gid": "1", "colour": "red"}}, False),
    ({"unheard_of": 1}, False),
    ({}, True),
])
def test_values_and_properties_the_spec_does_not_allow_are_flagged(body, valid):
    assert validator("Holder").is_valid(body) is valid


def test_an_allof_composition_is_one_object_with_all_its_properties():
    assert validator("Bigger").is_valid({"gid": "1", "name": "x", "extra": 2})
    assert not validator("Bigger").is_valid({"gid": "1", "other": 2})


def test_the_vendored_file_says_where_it_came_from_and_why_it_differs():
    document = json.loads(VENDORED.read_text())
    assert "asana_oas.yaml" in document["source"] and "OpenAPI 3.0" in document["source"]
    assert all(erratum["why"] for erratum in document["errata"])


def test_routes_statuses_and_opt_fields():
    contract = shared_contract()
    assert contract.route("GET", "/users/me").template == "/users/{user_gid}"
    assert contract.route("POST", "/sections/123/addTask").template == "/sections/{section_gid}/addTask"
    assert contract.violations("GET", "/nowhere", 200, {}) == ["GET /nowhere 200: no such route in Asana's API"]
    assert "documents 201" in contract.violations("POST", "/tasks", 200, {"data": {}})[0]
    assert contract.violations("GET", "/nowhere", 404, {"errors": [{"message": "x", "help": "y"}]}) == []
    assert contract.violations("GET", "/tasks/1", 400, {"errors": "x"})
    compact_with_notes = {"data": [{"gid": "1", "name": "x", "notes": "n"}], "next_page": None}
    assert contract.violations("GET", "/tasks", 200, compact_with_notes, opt_fields=False)
    assert contract.violations("GET", "/tasks", 200, compact_with_notes, opt_fields=True) == []
    assert contract.violations("GET", "/tasks", 200, {"data": [{"gid": "1", "nonsense": 1}]}, opt_fields=True)
    null_section = {"data": {"gid": "1", "memberships": [{"project": {"gid": "2"}, "section": None}]}}
    assert contract.violations("GET", "/tasks/1", 200, null_section) == [
        "GET /tasks/1 200: $.data.memberships[0].section: None is not of type 'object'"
    ]
    assert contract.violations("GET", "/tasks/1", 200, {"data": {"gid": "1", "approval_status": None}})


def test_the_recorder_sees_every_emulator_of_the_process_and_batch_actions_one_by_one():
    seen: list[Exchange] = []
    recorder = ContractRecorder(shared_contract())
    with observing(seen.append), observing(recorder):
        with EmulatorServer(EmulatorSettings(token=TOKEN)) as server, client_for(server) as http:
            http.get("/users/me", params={"opt_fields": "email"})
            httpx.get(f"{server.base_url}/users/me")
            http.post("/batch", json={"data": {"actions": [{"relative_path": "/workspaces", "method": "get"}]}})
    assert [(e.method, e.path, e.status, e.batched) for e in seen] == [
        ("GET", "/users/me", 200, False), ("GET", "/users/me", 401, False),
        ("GET", "/workspaces", 200, True), ("POST", "/batch", 200, False),
    ]
    assert seen[0].query == "opt_fields=email" and json.loads(seen[0].body)["data"]["email"]
    assert recorder.violations() == []
    recorder(Exchange("GET", "/users/me", "", 200, b'{"data": {"gid": 1}}'))
    assert recorder.violations() == ["GET /users/me 200: $.data.gid: 1 is not of type 'string'"]


def test_an_observer_of_one_server_sees_that_server_only():
    seen: list[Exchange] = []
    with EmulatorServer(EmulatorSettings(token=TOKEN), observers=(seen.append,)) as watched, \
            EmulatorServer(EmulatorSettings(token=TOKEN)) as other:
        with client_for(watched) as http:
            http.get("/workspaces")
        with client_for(other) as http:
            http.get("/workspaces")
    assert [(e.path, e.status) for e in seen] == [("/workspaces", 200)]
