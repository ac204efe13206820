"""The sample warehouse builds from text sources, and its valid rows reference the emulator fixture."""

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources

import duckdb
import pytest

from asana_sync_pipeline.engine.fields.schema import Catalog, CustomField, Named, ProjectSchema
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.settings import SyncSettings
from asana_sync_pipeline.sample.warehouse import build_sample_warehouse

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
DEFAULT_FIELDS = ["name", "notes", "html_notes", "due_on", "due_at", "start_on", "assignee", "tags", "completed", "section", "task_gid"]
NAMED_FIELDS = ["ARR (USD)", "Health", "Products", "Renewal date", "Account executive"]
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


def schema_of(fixture: dict) -> ProjectSchema:
    """The default project's schema, as the sync reads it from the emulator."""
    fields = {}
    for custom in fixture["custom_fields"]:
        options = custom.get("enum_options")
        catalog = Catalog([Named(o["gid"], o["name"], o.get("enabled", True)) for o in options], "option") if options else None
        fields[custom["gid"]] = CustomField(custom["gid"], custom["name"], custom["resource_subtype"], custom.get("precision"), catalog)
    return ProjectSchema(
        project_gid=fixture["project"]["gid"],
        workspace_gid=fixture["workspace"]["gid"],
        me_gid=fixture["me"],
        fields=fields,
        sections=Catalog([Named(section["gid"], section["name"]) for section in fixture["sections"]], "section"),
        tags=Catalog([Named(tag["gid"], tag["name"]) for tag in fixture["tags"]], "tag"),
        users_by_email={user["email"]: user["gid"] for user in fixture["users"]},
        user_gids={user["gid"] for user in fixture["users"]},
    )


def test_builds_the_model_with_typed_columns_and_every_default_field(warehouse):
    rows, types, model = warehouse
    assert rows == len(model) >= 100
    assert types["due_on"] == types["start_on"] == "DATE"
    assert types["due_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["completed"] == "BOOLEAN"
    assert types["updated_at"] == "TIMESTAMP"
    for column in ("id", "name", "notes", "html_notes", "assignee", "tags", "section", "custom_fields", "task_gid", "resource_subtype"):
        assert types[column] == "VARCHAR", column
    assert types["custom_fields.Renewal date"] == "DATE" and types["custom_fields.ARR (USD)"] == "BIGINT"
    assert model["id"].is_unique and model["id"].notna().all()
    for field in [*DEFAULT_FIELDS, *(f"custom_fields.{name}" for name in NAMED_FIELDS)]:
        assert model[field].notna().any(), field


def test_the_documented_invalid_rows_exist_and_are_the_only_rejections(warehouse, fixture):
    _, _, model = warehouse
    assert set(INVALID) <= set(model["id"])
    plan = build_plan(model, SyncSettings(), schema=schema_of(fixture))
    assert dict(zip(plan.rejections["primary_key"], plan.rejections["field"])) == INVALID
    assert not plan.unchecked and not plan.pending


def test_valid_rows_use_names_the_fixture_knows(warehouse, fixture):
    _, _, model = warehouse
    emails = {user["email"] for user in fixture["users"]}
    users = {user["gid"] for user in fixture["users"]} | emails
    tags = {tag["name"].casefold() for tag in fixture["tags"]} | {tag["gid"] for tag in fixture["tags"]}
    sections = {section["name"] for section in fixture["sections"]}
    options = {custom["name"]: {option["name"].casefold() for option in custom.get("enum_options", [])} for custom in fixture["custom_fields"]}
    valid = model[~model["id"].isin(INVALID)]
    assert len(valid) >= 100
    assert not (valid["due_on"].notna() & valid["due_at"].notna()).any()
    assert valid["task_gid"].isna().all() and valid["custom_fields"].isna().all()
    dated = valid[valid["start_on"].notna()]
    assert (dated["due_on"].fillna(dated["due_at"].dt.date) >= dated["start_on"]).all()
    for html in valid["html_notes"].dropna():
        root = ET.fromstring(html)
        assert root.tag == "body" and {element.tag for element in root.iter()} <= RICH_TEXT_TAGS, html
    for row in valid.to_dict("records"):
        assert row["assignee"] in users, row["id"]
        assert {tag.strip().casefold() for tag in row["tags"].split(",")} <= tags, row["id"]
        assert row["section"] in sections, row["id"]
        assert row["custom_fields.Health"].casefold() in options["Health"], row["id"]
        assert {product.strip().casefold() for product in row["custom_fields.Products"].split(",")} <= options["Products"]
        assert row["custom_fields.Account executive"] in emails, row["id"]


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


def _without_network_works() -> bool:
    """Whether this machine lets a process run in a network namespace of its own (no interface up)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _without_network_works(), reason="needs a network namespace of its own (unshare -rn)")
def test_the_sample_warehouse_builds_with_no_network_at_all(tmp_path):
    """dbt runs offline: no usage tracking, no version check, no packages (a fresh clone's `make run`)."""
    path = tmp_path / "warehouse.duckdb"
    command = ["unshare", "-rn", sys.executable, "-m", "asana_sync_pipeline.sample.warehouse", "--path", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM asana_task_model").fetchone()[0] >= 100
