"""The `--fixture` format as a client sees its result: several projects with their own
sections and custom fields, a default section where a project has none, first-wave
files unchanged in behaviour, and a malformed file refused with the key at fault."""

import json
import re
from pathlib import Path

import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings, default_fixture
from asana_sync_pipeline.emulator.fixture import FixtureError, parse_fixture, read_fixture_file
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

FIRST_WAVE = Path(__file__).with_name("fixtures") / "first_wave_fixture.json"
PROJECT, QBR, INCIDENTS = "1200000000000100", "1200000000000110", "1200000000000120"
SYNC_KEY, SEVERITY, CHECK_NAME = "1200000000000301", "1200000000000307", "1200000000000308"
WORKSPACE = "1200000000000001"


def names(response) -> list[str]:
    return [item["name"] for item in response.json()["data"]]


def test_the_bundled_fixture_has_a_second_project_for_a_second_sync(http):
    settings = http.get(f"/projects/{INCIDENTS}/custom_field_settings", params={
        "opt_fields": "custom_field.name,custom_field.resource_subtype,custom_field.enum_options.name,"
                      "custom_field.enum_options.enabled,custom_field.precision"}).json()["data"]
    fields = {setting["custom_field"]["gid"]: setting["custom_field"] for setting in settings}
    assert list(fields) == [SYNC_KEY, SEVERITY, CHECK_NAME]
    assert [(field["name"], field["resource_subtype"]) for field in fields.values()] == [
        ("Sync key", "text"), ("Severity", "enum"), ("Check name", "text")]
    options = [(option["name"], option["enabled"]) for option in fields[SEVERITY]["enum_options"]]
    assert options == [("Low", True), ("Medium", True), ("High", True), ("Critical", True), ("Legacy", False)]
    assert names(http.get(f"/projects/{INCIDENTS}/sections")) == ["New", "Investigating", "Resolved"]
    assert http.get(f"/projects/{INCIDENTS}").json()["data"]["name"] == "Data Quality Incidents"
    default = http.get(f"/projects/{PROJECT}/custom_field_settings").json()["data"]
    assert len(default) == 6 and SEVERITY not in {setting["custom_field"]["gid"] for setting in default}


def test_a_project_without_sections_gets_asanas_untitled_section_and_its_tasks_sit_there(http):
    sections = http.get(f"/projects/{QBR}/sections").json()["data"]
    assert [section["name"] for section in sections] == ["Untitled section"]
    assert re.fullmatch(r"\d{16}", sections[0]["gid"])
    task = http.post("/tasks", json={"data": {"projects": [QBR], "name": "qbr"}}).json()["data"]
    assert task["memberships"][0]["section"]["gid"] == sections[0]["gid"]
    assert http.get(f"/sections/{sections[0]['gid']}").json()["data"]["project"]["gid"] == QBR


def test_a_first_wave_fixture_file_loads_and_behaves_as_before(tmp_path):
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=str(FIRST_WAVE))) as server, client_for(server) as http:
        assert server.project_gid == PROJECT
        settings = http.get(f"/projects/{PROJECT}/custom_field_settings").json()["data"]
        assert len(settings) == 6, "without custom_fields on the project, every workspace field is enabled"
        assert names(http.get(f"/projects/{PROJECT}/sections")) == ["To triage", "In progress"]
        assert http.get(f"/projects/{QBR}/custom_field_settings").json()["data"] == []
        assert http.get("/projects/1200000000000199").status_code == 403
        assert http.get(f"/projects/{INCIDENTS}").status_code == 404
        assert len(http.get(f"/workspaces/{WORKSPACE}/tags").json()["data"]) == 6


def test_projects_alone_name_the_default_and_project_gid_overrides_it():
    fixture = json.loads(FIRST_WAVE.read_text())
    del fixture["project"], fixture["sections"], fixture["other_projects"]
    fixture["projects"] = [{"gid": "1300000000000001", "name": "Only", "custom_fields": [SYNC_KEY],
                            "sections": [{"gid": "1300000000000002", "name": "Inbox"}]}]
    checked = parse_fixture(fixture)
    assert (checked.default_project.name, checked.default_project.custom_fields) == ("Only", [SYNC_KEY])
    assert parse_fixture(fixture, "77").default_project.gid == "77"
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture, project_gid="77")) as server, client_for(server) as http:
        assert names(http.get("/projects/77/sections")) == ["Inbox"]


def broken(change) -> dict:
    fixture = default_fixture()
    change(fixture)
    return fixture


BROKEN = [
    (lambda f: f.pop("workspace"), "fixture: workspace must be an object"),
    (lambda f: f.update(users=[]), "fixture: users must list at least one user"),
    (lambda f: f["users"][0].pop("email"), "fixture: users[0] needs a 'email'"),
    (lambda f: f.update(me="999"), "fixture: me is 999, not one of the users"),
    (lambda f: f["tags"].append({"gid": "x", "name": "bad"}), "fixture: tags[6].gid must be a numeric GID"),
    (lambda f: f["custom_fields"][0].update(resource_subtype="formula"), "fixture: custom_fields[0].resource_subtype must be one of"),
    (lambda f: f["custom_fields"][2]["enum_options"][0].update(enabled="no"), "fixture: custom_fields[2].enum_options[0].enabled"),
    (lambda f: f["projects"][0]["custom_fields"].append("999"), "fixture: projects[0].custom_fields[3] is 999, not a custom field"),
    (lambda f: f["projects"][0]["sections"].append({"gid": "1200000000000401", "name": "again"}), "fixture: GID 1200000000000401 is used twice"),
    (lambda f: f.update(project=None, projects=[], other_projects=[]), "fixture: needs a project"),
    (lambda f: f.update(sections={}), "fixture: sections must be a list"),
]


@pytest.mark.parametrize(("change", "expected"), BROKEN, ids=[expected[9:50] for _, expected in BROKEN])
def test_a_malformed_fixture_is_refused_naming_the_key(change, expected):
    with pytest.raises(FixtureError) as raised:
        parse_fixture(broken(change))
    assert str(raised.value).startswith(expected)


def test_unreadable_fixture_files_are_fixture_errors(tmp_path):
    with pytest.raises(FixtureError, match="no such file"):
        read_fixture_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FixtureError, match="not valid JSON"):
        read_fixture_file(tmp_path / "bad.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FixtureError, match="cannot be read"):
        read_fixture_file(tmp_path / "binary.json")
