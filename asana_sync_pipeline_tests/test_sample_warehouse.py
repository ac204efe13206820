"""The sample warehouse builds from text sources, and its valid rows reference the emulator fixture."""

import json
import xml.etree.ElementTree as ET
from importlib import resources

import duckdb
import pytest

from asana_sync_pipeline.engine.settings import SyncSettings
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.sample_warehouse import build_sample_warehouse

# The deliberately invalid rows documented in data/README.md, each with its one faulty field.
INVALID = {
    "acct-0007": "name",
    "acct-0013": "due_at",
    "acct-0021": "start_on",
    "acct-0034": "html_notes",
    "acct-0042": "tags",
    "acct-0055": "custom_fields",
    "acct-0068": "assignee",
    "acct-0081": "task_gid",
}
DEFAULT_FIELDS = ["name", "notes", "html_notes", "due_on", "due_at", "start_on", "assignee", "tags", "completed", "custom_fields", "task_gid"]
SYNC_KEY_FIELD = "1200000000000301"
RICH_TEXT_TAGS = {"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a", "h1", "h2", "hr"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    rows = build_sample_warehouse(path)
    with duckdb.connect(str(path), read_only=True) as connection:
        types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'asana_task_model'").fetchall())
        model = connection.execute("SELECT * FROM asana_task_model ORDER BY id").df()
    return rows, types, model


@pytest.fixture(scope="module")
def fixture():
    return json.loads(resources.files("asana_sync_pipeline.emulator").joinpath("default_fixture.json").read_text())


def test_builds_the_model_with_typed_columns_and_every_default_field(warehouse):
    rows, types, model = warehouse
    assert rows == len(model) >= 100
    assert types["due_on"] == types["start_on"] == "DATE"
    assert types["due_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["completed"] == "BOOLEAN"
    assert types["updated_at"] == "TIMESTAMP"
    for column in ("id", "name", "notes", "html_notes", "assignee", "tags", "custom_fields", "task_gid", "resource_subtype"):
        assert types[column] == "VARCHAR", column
    assert model["id"].is_unique and model["id"].notna().all()
    for field in DEFAULT_FIELDS:
        assert model[field].notna().any(), field


def test_the_documented_invalid_rows_exist_and_are_the_only_rejections(warehouse):
    _, _, model = warehouse
    assert set(INVALID) <= set(model["id"])
    plan = build_plan(model, SyncSettings())
    assert dict(zip(plan.rejections["primary_key"], plan.rejections["field"])) == INVALID


def test_valid_rows_reference_only_fixture_gids_and_emails(warehouse, fixture):
    _, _, model = warehouse
    users = {user["gid"] for user in fixture["users"]} | {user["email"] for user in fixture["users"]}
    tags = {tag["gid"] for tag in fixture["tags"]}
    fields = {field["gid"]: field for field in fixture["custom_fields"]}
    valid = model[~model["id"].isin(INVALID)]
    assert len(valid) >= 100
    assert not (valid["due_on"].notna() & valid["due_at"].notna()).any()
    assert valid["task_gid"].isna().all()
    dated = valid[valid["start_on"].notna()]
    assert (dated["due_on"].fillna(dated["due_at"].dt.date) >= dated["start_on"]).all()
    for html in valid["html_notes"].dropna():
        root = ET.fromstring(html)
        assert root.tag == "body" and {element.tag for element in root.iter()} <= RICH_TEXT_TAGS, html
    for row in valid.itertuples():
        assert row.assignee in users, row.id
        assert {tag.strip() for tag in row.tags.split(",")} <= tags, row.id
        custom_fields = json.loads(row.custom_fields)
        assert SYNC_KEY_FIELD not in custom_fields, row.id
        for gid, value in custom_fields.items():
            kind = fields[gid]["resource_subtype"]
            options = {option["gid"] for option in fields[gid].get("enum_options", [])}
            if kind == "number":
                assert isinstance(value, (int, float)), row.id
            elif kind == "enum":
                assert value in options, row.id
            elif kind == "multi_enum":
                assert set(value) <= options, row.id
            elif kind == "people":
                assert set(value) <= users, row.id
            elif kind == "date":
                assert len(value) == 10 and value[4] == value[7] == "-", row.id


def test_building_twice_gives_the_same_warehouse(tmp_path, warehouse):
    _, _, first = warehouse
    path = tmp_path / "warehouse.duckdb"
    build_sample_warehouse(path)
    assert build_sample_warehouse(path) == len(first)
    with duckdb.connect(str(path), read_only=True) as connection:
        again = connection.execute("SELECT * FROM asana_task_model ORDER BY id").df()
    assert again.equals(first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]


def test_replace_false_keeps_an_existing_warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_sample_warehouse(path)
    with duckdb.connect(str(path)) as connection:
        connection.execute("DELETE FROM asana_task_model WHERE id <> 'acct-0001'")
    assert build_sample_warehouse(path, replace=False) == 1
    assert build_sample_warehouse(path) >= 100


def test_missing_sources_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="sample warehouse sources are missing"):
        build_sample_warehouse(tmp_path / "warehouse.duckdb", data_dir=tmp_path / "nowhere")
    assert not list(tmp_path.iterdir())
