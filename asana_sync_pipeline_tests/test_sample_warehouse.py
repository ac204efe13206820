"""The sample warehouse builds from text sources, and its valid rows reference the emulator fixture."""

import json
from importlib import resources

import duckdb

from asana_sync_pipeline.mapping import SyncSettings
from asana_sync_pipeline.planning import build_plan
from asana_sync_pipeline.sample_warehouse import build_sample_warehouse

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


def test_builds_the_model_with_typed_columns_and_every_default_field(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    assert build_sample_warehouse(path) >= 100
    assert build_sample_warehouse(path) >= 100
    with duckdb.connect(str(path), read_only=True) as connection:
        types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'asana_task_model'").fetchall())
        model = connection.execute("SELECT * FROM asana_task_model").df()
    assert types["due_on"] == "DATE" and types["start_on"] == "DATE"
    assert types["due_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["completed"] == "BOOLEAN"
    assert types["name"] == types["tags"] == types["custom_fields"] == "VARCHAR"
    assert model["id"].is_unique and model["id"].notna().all()
    for field in DEFAULT_FIELDS:
        assert model[field].notna().any(), field


def test_exactly_the_documented_rows_are_invalid_and_valid_rows_use_fixture_gids(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_sample_warehouse(path)
    with duckdb.connect(str(path), read_only=True) as connection:
        model = connection.execute("SELECT * FROM asana_task_model").df()
    plan = build_plan(model, SyncSettings())
    assert dict(zip(plan.rejections["primary_key"], plan.rejections["field"])) == INVALID

    fixture = json.loads(resources.files("asana_sync_pipeline.emulator").joinpath("default_fixture.json").read_text())
    users = {user["gid"] for user in fixture["users"]} | {user["email"] for user in fixture["users"]}
    tags = {tag["gid"] for tag in fixture["tags"]}
    fields = {field["gid"]: field for field in fixture["custom_fields"]}
    valid = model[~model["id"].isin(INVALID)]
    for row in valid.itertuples():
        assert row.assignee in users
        assert {tag.strip() for tag in row.tags.split(",")} <= tags
        for gid, value in json.loads(row.custom_fields).items():
            options = {option["gid"] for option in fields[gid].get("enum_options", [])}
            if fields[gid]["resource_subtype"] == "enum":
                assert value in options
            if fields[gid]["resource_subtype"] == "multi_enum":
                assert set(value) <= options
