"""A model written in names, labels and emails, synced through Dagster into a workspace whose names
have spaces, accents and mixed case; the official SDK reads back what the sync wrote."""

from __future__ import annotations

import json
from pathlib import Path

import asana
import pytest

from asana_sync_pipeline.emulator import EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, failure_text, materialization, people

FIXTURE = Path(__file__).parents[1] / "fixtures" / "named_workspace.json"
OR, ARGENT, BRONZE = "1300000000000311", "1300000000000312", "1300000000000313"
ANALYTIQUE, ETL = "1300000000000321", "1300000000000323"
AMELIE, BRUNO = "1300000000000011", "1300000000000012"
CLE, RISQUE = "1300000000000201", "1300000000000202"
EN_COURS, TERMINE = "1300000000000402", "1300000000000403"
NIVEAU, PRODUITS, ARR, RENEWAL, OWNER = (f"130000000000030{n}" for n in range(2, 7))

MODEL = """
SELECT * FROM (VALUES
    ('c-1', 'Appeler Amélie', 'or', 'analytique, Reverse ETL', 120000.456::DECIMAL(12,3), DATE '2027-01-31',
     'amelie.poulain@donnees.example', 'AMELIE.POULAIN@donnees.example', 'client clé, À RISQUE', 'en cours'),
    ('c-2', 'Relancer Bruno', 'Argent', NULL, 5000::DECIMAL(12,3), NULL, 'bruno@donnees.example', 'me', NULL, 'Terminé'),
    ('c-3', 'Option retirée', 'Ancien niveau', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('c-4', 'Option inconnue', 'Platine', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('c-5', 'Inconnu', NULL, NULL, NULL, NULL, NULL, 'quelquun@ailleurs.example', 'vip', 'Bloqué')
) AS t(id, name, "custom_fields.niveau client", "custom_fields.Produits achetés", arr, renouvellement,
       owner_email, assignee, tags, section)
"""
MAPPING = {
    "field_mapping": {
        "arr": "custom_fields.ARR (EUR)",
        "renouvellement": "custom_fields.Date de renouvellement",
        "owner_email": f"custom_fields.{OWNER}",
    }
}


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN, fixture=FIXTURE)


def sdk(sandbox) -> asana.ApiClient:
    configuration = asana.Configuration()
    configuration.host = sandbox.server.base_url
    configuration.access_token = TOKEN
    return asana.ApiClient(configuration)


def read_back(sandbox) -> dict[str, dict]:
    tasks = asana.TasksApi(sdk(sandbox)).get_tasks_for_project(
        sandbox.project_gid, {"opt_fields": "name,assignee,tags,memberships.section,custom_fields.gid,custom_fields.display_value,"
                              "custom_fields.enum_value,custom_fields.multi_enum_values,custom_fields.number_value,"
                              "custom_fields.date_value,custom_fields.people_value"}
    )
    return {task["name"]: task for task in tasks}


def values(task: dict) -> dict[str, dict]:
    return {field["gid"]: field for field in task["custom_fields"]}


def test_a_model_in_names_labels_and_emails_syncs_to_the_right_gids(sandbox):
    sandbox.write_model(MODEL)
    result = sandbox.sync(MAPPING)
    assert result.success, failure_text(result)
    tasks = read_back(sandbox)
    assert set(tasks) == {"Appeler Amélie", "Relancer Bruno"}

    amelie = tasks["Appeler Amélie"]
    fields = values(amelie)
    assert fields[NIVEAU]["enum_value"]["gid"] == OR
    assert {option["gid"] for option in fields[PRODUITS]["multi_enum_values"]} == {ANALYTIQUE, ETL}
    assert fields[ARR]["number_value"] == 120000.46
    assert fields[RENEWAL]["date_value"]["date"] == "2027-01-31"
    assert [person["gid"] for person in fields[OWNER]["people_value"]] == [AMELIE]
    assert amelie["assignee"]["gid"] == AMELIE
    assert {tag["gid"] for tag in amelie["tags"]} == {CLE, RISQUE}
    assert [membership["section"]["gid"] for membership in amelie["memberships"]] == [EN_COURS]
    bruno = tasks["Relancer Bruno"]
    assert values(bruno)[NIVEAU]["enum_value"]["gid"] == ARGENT
    assert bruno["assignee"]["gid"] == "1300000000000010"
    assert [membership["section"]["gid"] for membership in bruno["memberships"]] == [TERMINE]

    reasons = {(row["primary_key"], row["field"]): row["reason"] for row in sandbox.state_rows("rejections")}
    assert reasons[("c-3", "custom_fields.niveau client")] == (
        "Niveau Client: option 'Ancien niveau' is disabled; options: Or, Argent, Bronze"
    )
    assert reasons[("c-4", "custom_fields.niveau client")] == "Niveau Client: no option 'Platine'; options: Or, Argent, Bronze"
    assert reasons[("c-5", "assignee")] == "'quelquun@ailleurs.example' is not the email of a user of the workspace"
    assert reasons[("c-5", "tags")].startswith("tags: no tag 'vip'; tags: Client clé, À risque, renouvellement")
    assert reasons[("c-5", "section")] == "section: no section 'Bloqué'; sections: À trier, En cours, Terminé"
    assert sandbox.stats()["by_status"].get("400", 0) == 0

    planned = materialization(result, "asana_task_payloads")
    assert "Niveau Client (enum: Or, Argent, Bronze, Ancien niveau)" in json.dumps(planned["schema"], ensure_ascii=False)
    assert planned["schema_reads"] == 4


def test_renaming_an_option_in_asana_resends_nothing_and_changing_a_label_in_the_model_does(sandbox):
    sandbox.write_model(MODEL)
    assert sandbox.sync(MAPPING).success
    store = sandbox.server.app.state.emulator
    store.custom_fields[NIVEAU]["enum_options"][0]["name"] = "Doré"
    sandbox.write_model(MODEL.replace("'or',", "'Doré',"))
    again = materialization(sandbox.sync(MAPPING), "asana_tasks")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    sandbox.write_model(MODEL.replace("'or',", "'Bronze',"))
    changed = materialization(sandbox.sync(MAPPING), "asana_tasks")
    assert (changed["created"], changed["updated"]) == (0, 1)
    assert values(read_back(sandbox)["Appeler Amélie"])[NIVEAU]["enum_value"]["gid"] == BRONZE


def test_a_section_change_moves_the_task_and_an_unchanged_one_sends_nothing(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Tâche' AS name, 'À trier' AS section")
    assert sandbox.sync().success
    sandbox.write_model("SELECT 'a' AS id, 'Tâche' AS name, 'en cours' AS section")
    sandbox.reset_stats()
    moved = materialization(sandbox.sync(), "asana_tasks")
    assert moved["updated"] == 1
    assert sandbox.stats()["by_method"]["POST"] == 1
    assert [m["section"]["gid"] for m in read_back(sandbox)["Tâche"]["memberships"]] == [EN_COURS]
    sandbox.reset_stats()
    assert materialization(sandbox.sync(), "asana_tasks")["unchanged"] == 1
    assert sandbox.stats()["write_requests"] == 0


def test_missing_tags_and_sections_are_created_once_when_allowed(sandbox):
    sandbox.write_model(
        "SELECT 'a' AS id, 'Un' AS name, 'nouveau, Client clé' AS tags, 'Bloqué' AS section, 'note' AS comment "
        "UNION ALL SELECT 'b', 'Deux', 'NOUVEAU', 'bloqué', 'note' "
        "UNION ALL SELECT 'c', 'Trois', '1200000000000999', '9999999', NULL"
    )
    settings = {"create_missing_tags": True, "create_missing_sections": True}
    result = sandbox.sync(settings)
    assert result.success, failure_text(result)
    reasons = {(row["primary_key"], row["field"]): row["reason"] for row in sandbox.state_rows("rejections")}
    assert reasons[("c", "tags")] == "tags: no tag has GID 1200000000000999, and digits are taken for a GID, never created as a name"
    assert reasons[("c", "section")].startswith("section: no section has GID 9999999")
    store = sandbox.server.app.state.emulator
    assert [tag["name"] for tag in store.tags.values()].count("nouveau") == 1
    assert [section["name"] for section in store.sections.values()].count("Bloqué") == 1
    tasks = read_back(sandbox)
    new_tag = next(gid for gid, tag in store.tags.items() if tag["name"] == "nouveau")
    assert {tag["gid"] for tag in tasks["Deux"]["tags"]} == {new_tag}
    assert not any(name.isdigit() for name in [tag["name"] for tag in store.tags.values()] + [s["name"] for s in store.sections.values()])
    sandbox.reset_stats()
    again = materialization(sandbox.sync(settings), "asana_tasks")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert sandbox.stats()["write_requests"] == 0
    assert [tag["name"] for tag in store.tags.values()].count("nouveau") == 1


def test_list_columns_hold_names_too(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Un' AS name, ['Client clé', 'À risque'] AS tags UNION ALL SELECT 'b', 'Deux', []")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    tasks = read_back(sandbox)
    assert sorted(tag["name"] for tag in tasks["Un"]["tags"]) == ["Client clé", "À risque"] and tasks["Deux"]["tags"] == []


def test_missing_tags_are_created_once_even_when_answers_are_lost(tmp_path, monkeypatch):
    from asana_sync_pipeline.emulator import EmulatorServer
    from asana_sync_pipeline_tests.conftest import Sandbox

    settings = EmulatorSettings(token=TOKEN, fixture=FIXTURE, fault_rate=0.5, fault_kinds=("reset_after",), seed=3)
    with EmulatorServer(people(settings)) as server:
        box = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        box.bind(monkeypatch)
        box.write_model("SELECT 'k' || i AS id, 'Tâche ' || i AS name, 'tag-' || (i % 3) AS tags FROM range(12) t(i)")
        resources = {"asana": {"config": {"access_token": {"env": "ASANA_ACCESS_TOKEN"}, "project_gid": {"env": "ASANA_PROJECT_GID"},
                                          "base_url": server.base_url, "reconcile_grace_seconds": 0.05}}}
        for _ in range(3):
            result = box.sync({"create_missing_tags": True}, resources=resources)
            assert result.success, failure_text(result)
        names = [tag["name"] for tag in server.app.state.emulator.tags.values()]
        assert sorted(name for name in names if name.startswith("tag-")) == ["tag-0", "tag-1", "tag-2"]
        assert server.stats.faults.get("reset_after", 0) > 0
        assert len(box.tasks()) == 12


def test_schema_reads_stay_the_same_as_rows_grow(sandbox):
    reads = []
    for rows in (3, 150):
        sandbox.write_model(
            f"SELECT 'r' || i AS id, 'Tâche ' || i AS name, 'Or' AS \"custom_fields.Niveau Client\", "
            f"'bruno@donnees.example' AS assignee, 'À risque' AS tags, 'En cours' AS section FROM range({rows}) t(i)"
        )
        reads.append(materialization(sandbox.sync(), "asana_task_payloads")["schema_reads"])
    assert reads[0] == reads[1] == 4


def test_a_model_of_gids_reads_no_schema(sandbox):
    sandbox.write_model(f"SELECT 'a' AS id, 'Tâche' AS name, '{CLE}' AS tags, '{AMELIE}' AS assignee")
    sandbox.reset_stats()
    result = sandbox.sync()
    assert materialization(result, "asana_task_payloads")["schema_reads"] == 0
    assert sandbox.stats()["by_method"]["GET"] == 5, "the connection test, the events' first token, whether the project is empty, and its own writes read back"


def test_a_section_that_vanished_rejects_the_row_and_keeps_its_task(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Tâche' AS name, '1300000000000401' AS section")
    assert sandbox.sync().success
    sandbox.write_model("SELECT 'a' AS id, 'Tâche' AS name, '1300000000000499' AS section")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["created"] == 0 and len(sandbox.tasks()) == 1
    [rejection] = sandbox.state_rows("rejections")
    assert rejection["field"] == "section"
    assert {row["primary_key"] for row in sandbox.state_rows("synced_tasks")} == {"a"}
