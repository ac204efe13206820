"""Syncs declared in YAML (AsanaSyncComponent): their names, their own state, an upstream asset
as the model, clear errors for bad YAML, and the `dg` CLI on this project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asana_sync_pipeline.definitions import build_definitions, build_resources
from asana_sync_pipeline.lib.factory import build_sync_definitions
from asana_sync_pipeline.lib.paths import PROJECT_ROOT
from asana_sync_pipeline.lib.sync_spec import SyncSpec
from asana_sync_pipeline_tests.conftest import TOKEN, failure_text, materialization

DG = str(Path(sys.executable).with_name("dg"))
TWO_SYNCS = """
type: asana_sync_pipeline.AsanaSyncComponent
attributes:
  name: churn
  model:
    query: SELECT id, name FROM shared_model
  project_gid: "{project}"
  schedule: "0 6 * * *"
---
type: asana_sync_pipeline.AsanaSyncComponent
attributes:
  name: renewals
  model:
    query: "SELECT id, 'Renewal - ' || name AS name FROM shared_model"
  project_gid: "{project}"
  sensor: true
  sync_mode: UPSERT
"""


def project_with(tmp_path: Path, defs_yaml: dict[str, str], monkeypatch) -> Path:
    """A throwaway dg project whose defs/ folder holds `defs_yaml` (folder -> YAML text)."""
    module = f"syncs_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "project"
    (root / module / "defs").mkdir(parents=True)
    (root / module / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [tool.dg]
            directory_type = "project"
            [tool.dg.project]
            root_module = "{module}"
            defs_module = "{module}.defs"
            registry_modules = ["asana_sync_pipeline"]
            """
        )
    )
    for folder, text in defs_yaml.items():
        (root / module / "defs" / folder).mkdir()
        (root / module / "defs" / folder / "defs.yaml").write_text(text)
    monkeypatch.syspath_prepend(str(root))
    return root


def load(root: Path, *extra: dg.Definitions) -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=root), *extra, dg.Definitions(resources=build_resources(os.environ))
    )


def run(defs: dg.Definitions, job: str, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        run_config=run_config or {}, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def test_two_syncs_in_one_file_get_their_own_names(sandbox, tmp_path, monkeypatch):
    defs = load(project_with(tmp_path, {"syncs": TWO_SYNCS.format(project=sandbox.project_gid)}, monkeypatch))
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys == {f"{sync}/{asset}" for sync in ("churn", "renewals") for asset in ("warehouse_model", "asana_task_payloads", "asana_tasks", "asana_task_outcomes", "asana_task_history", "asana_sync_log")}
    assert {spec.group_name for spec in defs.resolve_all_asset_specs()} == {"churn", "renewals"}
    jobs = {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")}
    assert {"churn_asana_sync_job", "renewals_asana_sync_job", "churn_asana_connection_test"} <= jobs
    assert [(schedule.name, schedule.cron_schedule) for schedule in repository.schedule_defs] == [("churn_asana_sync_schedule", "0 6 * * *")]
    assert [sensor.name for sensor in repository.sensor_defs] == ["renewals_model_sensor"]
    checks = {(key.asset_key.to_user_string(), key.name) for key in repository.asset_graph.asset_check_keys}
    assert ("renewals/asana_task_payloads", "primary_key_unique_and_not_null") in checks
    assert ("churn/asana_tasks", "rejection_rate_below_threshold") in checks and len(checks) == 14


def test_syncs_on_one_token_share_a_pool_and_syncs_on_another_do_not_wait_for_them(sandbox, tmp_path, monkeypatch):
    yaml = TWO_SYNCS.format(project=sandbox.project_gid) + "  access_token_env: RENEWALS_ASANA_TOKEN\n"
    defs = load(project_with(tmp_path, {"syncs": yaml}, monkeypatch), build_sync_definitions(SyncSpec()))
    pools = {key.to_user_string(): defs.resolve_assets_def(key).op.pool for key in
             [dg.AssetKey("asana_tasks"), dg.AssetKey(["churn", "asana_tasks"]), dg.AssetKey(["renewals", "asana_tasks"])]}  # fmt: skip
    assert pools == {
        "asana_tasks": "asana_token_asana_access_token",
        "churn/asana_tasks": "asana_token_asana_access_token",
        "renewals/asana_tasks": "asana_token_renewals_asana_token",
    }


def test_two_syncs_into_one_project_with_overlapping_keys_never_touch_each_others_tasks(sandbox, tmp_path, monkeypatch):
    sandbox.write_model("SELECT 'a' AS id, 'Alpha' AS name UNION ALL SELECT 'b', 'Beta'")
    with __import__("duckdb").connect(str(sandbox.warehouse)) as connection:
        connection.execute("CREATE TABLE shared_model AS SELECT * FROM asana_task_model")
    defs = load(project_with(tmp_path, {"syncs": TWO_SYNCS.format(project=sandbox.project_gid)}, monkeypatch))
    for job in ("churn_asana_sync_job", "renewals_asana_sync_job"):
        result = run(defs, job)
        assert result.success, failure_text(result)
    assert sorted(task["name"] for task in sandbox.tasks()) == ["Alpha", "Beta", "Renewal - Alpha", "Renewal - Beta"]

    with __import__("duckdb").connect(str(sandbox.warehouse)) as connection:
        connection.execute("UPDATE shared_model SET name = 'Alpha 2' WHERE id = 'a'")
    churn = materialization(run(defs, "churn_asana_sync_job"), "churn__asana_tasks")
    renewals = materialization(run(defs, "renewals_asana_sync_job"), "renewals__asana_tasks")
    assert (churn["created"], churn["updated"], renewals["created"], renewals["updated"]) == (0, 1, 0, 1)
    assert sorted(task["name"] for task in sandbox.tasks()) == ["Alpha 2", "Beta", "Renewal - Alpha 2", "Renewal - Beta"]
    rows = {(row["sync_name"], row["primary_key"]) for row in sandbox.state_rows("synced_tasks")}
    assert rows == {(sync, key) for sync in ("churn", "renewals") for key in "ab"}


def test_run_config_of_one_run_overrides_a_yaml_sync_setting(sandbox, tmp_path, monkeypatch):
    with __import__("duckdb").connect(str(sandbox.warehouse)) as connection:
        connection.execute("CREATE TABLE shared_model AS SELECT 'a' AS id, 'Alpha' AS name")
    defs = load(project_with(tmp_path, {"syncs": TWO_SYNCS.format(project=sandbox.project_gid)}, monkeypatch))
    result = run(defs, "churn_asana_sync_job", {"ops": {"churn__asana_task_payloads": {"config": {"sync_mode": "update"}}}})
    assert result.success, failure_text(result)
    assert materialization(result, "churn__asana_tasks")["rejected"] == 1 and sandbox.tasks() == []


def test_an_upstream_asset_is_the_model_and_shows_in_lineage(sandbox, tmp_path, monkeypatch):
    names = ["From an asset 1", "From an asset 2"]

    @dg.asset(key=["marts", "at_risk_accounts"])
    def at_risk_accounts() -> pd.DataFrame:
        return pd.DataFrame({"account": [f"x{n}" for n in range(1, len(names) + 1)], "name": names})

    yaml = f"""
type: asana_sync_pipeline.AsanaSyncComponent
attributes:
  name: from_asset
  model:
    asset: marts/at_risk_accounts
  project_gid: "{sandbox.project_gid}"
  primary_key: account
  sensor: true
"""
    defs = load(project_with(tmp_path, {"from_asset": yaml}, monkeypatch), dg.Definitions(assets=[at_risk_accounts]))
    graph = defs.get_repository_def().asset_graph
    payloads = dg.AssetKey(["from_asset", "asana_task_payloads"])
    assert graph.get(payloads).parent_keys == {dg.AssetKey(["marts", "at_risk_accounts"])}
    assert dg.AssetKey(["from_asset", "warehouse_model"]) not in graph.get_all_asset_keys()
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(list(defs.assets), resources=build_resources(os.environ), instance=instance, raise_on_error=False)
    assert result.success, failure_text(result)
    assert sorted(task["name"] for task in sandbox.tasks()) == ["From an asset 1", "From an asset 2"]

    names.append("From an asset 3")
    upstream = dg.materialize([at_risk_accounts], instance=instance)
    sensor = defs.resolve_sensor_def("from_asset_model_sensor")
    context = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    [request] = sensor.evaluate_tick(context).run_requests
    assert request.run_key == f"model-{upstream.run_id}"
    alone = defs.resolve_job_def("from_asset_asana_sync_job").execute_in_process(instance=instance, raise_on_error=False)
    assert alone.success, failure_text(alone)
    assert sorted(task["name"] for task in sandbox.tasks()) == ["From an asset 1", "From an asset 2", "From an asset 3"]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ("name: Bad-Name\n  model: {query: SELECT 1}\n  project_gid: '1'", "must start with a lowercase letter"),
        ("name: x\n  model: {query: SELECT 1, asset: a/b}\n  project_gid: '1'", "exactly one of `query`, `asset` or `table`"),
        ("name: x\n  model: {query: SELECT 1}\n  project_gid: 'abc'", "project_gid must contain only digits"),
        ("name: x\n  model: {query: SELECT 1}\n  project_gid: '1'\n  access_token: '0/abc'", "access_token"),
        ("name: x\n  model: {query: SELECT 1}\n  project_gid: '1'\n  sync_mode: mirror", "supported modes: insert, update, upsert"),
        ("name: x\n  model: {query: SELECT 1}\n  project_gid: '1'\n  access_token_env: '0/abc'", "must name an environment variable"),
    ],
)
def test_bad_yaml_is_a_clear_error_at_load(tmp_path, monkeypatch, attributes, message):
    from asana_sync_pipeline.local.cli import _configuration_error

    yaml = f"type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  {attributes}\n"
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path, {"bad": yaml}, monkeypatch))
    assert message in str(raised.value) + str(getattr(raised.value, "__cause__", ""))
    assert message in str(_configuration_error(raised.value)), "the command line prints this error as its one line"


def test_a_yaml_sync_reads_its_token_from_the_variable_it_names(sandbox, tmp_path, monkeypatch):
    with __import__("duckdb").connect(str(sandbox.warehouse)) as connection:
        connection.execute("CREATE TABLE shared_model AS SELECT 'a' AS id, 'Alpha' AS name")
    yaml = TWO_SYNCS.format(project=sandbox.project_gid).split("---")[0] + "  access_token_env: CHURN_ASANA_TOKEN\n"
    defs = load(project_with(tmp_path, {"syncs": yaml}, monkeypatch))
    missing = run(defs, "churn_asana_sync_job")
    assert not missing.success and "CHURN_ASANA_TOKEN is not set" in failure_text(missing)
    monkeypatch.setenv("CHURN_ASANA_TOKEN", TOKEN)
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", "0/not-this-one")
    assert run(defs, "churn_asana_sync_job").success
    assert [task["name"] for task in sandbox.tasks()] == ["Alpha"]


def _dg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DG, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)


def test_dg_check_defs_and_list_defs_pass_on_this_project():
    checked = _dg("check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    definitions = json.loads(listed.stdout)
    assets = {asset["asset_key"] for asset in definitions["assets"]}
    assert {"warehouse_model", "asana_task_payloads", "asana_tasks", "data_checks/asana_tasks"} <= assets
    assert {"asana_sync_job", "data_checks_asana_sync_job"} <= {job["name"] for job in definitions["jobs"]}


def test_dg_scaffolds_a_sync_ready_to_fill_in(tmp_path, monkeypatch):
    root = project_with(tmp_path, {}, monkeypatch)
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [DG, "scaffold", "defs", "asana_sync_pipeline.AsanaSyncComponent", "churn_alerts"],
        cwd=root, env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [written] = list(root.glob("*/defs/churn_alerts/defs.yaml"))
    text = written.read_text()
    assert "type: asana_sync_pipeline.AsanaSyncComponent" in text and "name: churn_alerts" in text
    checked = subprocess.run([DG, "check", "yaml"], cwd=root, env=env, capture_output=True, text=True, timeout=180)
    assert checked.returncode != 0
    first = checked.stdout.splitlines()[0]
    assert first.endswith("attributes.project_gid '' should be non-empty") and "churn_alerts/defs.yaml:7" in first, checked.stdout
    assert "the number after /0/ in its URL" in checked.stdout and "Traceback" not in checked.stdout + checked.stderr
    with pytest.raises(Exception) as unfilled:
        load(root)
    assert "sync 'churn_alerts': project_gid is empty" in str(unfilled.value) + str(unfilled.value.__cause__)
    written.write_text(text.replace("project_gid: ''", "project_gid: '1200000000000100'"))
    defs = load(root)
    assert "churn_alerts_asana_sync_job" in {job.name for job in defs.get_repository_def().get_all_jobs()}


def test_a_project_gid_read_from_an_unset_variable_is_named_at_load(tmp_path, monkeypatch):
    monkeypatch.delenv("CHURN_PROJECT_GID", raising=False)
    yaml = "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: churn\n  model: {query: SELECT 1}\n  project_gid: '{{ env.CHURN_PROJECT_GID }}'\n"
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path, {"churn": yaml}, monkeypatch))
    text = str(raised.value) + str(raised.value.__cause__)
    assert "project_gid is empty (or reads an environment variable that is unset: CHURN_PROJECT_GID)" in text


def test_the_code_location_holds_the_default_sync_and_the_sample_yaml_sync():
    repository = build_definitions({}).get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {"warehouse_model", "asana_tasks", "failed_data_checks", "data_checks/asana_tasks"} <= keys
    assert "data_checks/warehouse_model" not in keys, "data_checks takes the dbt model failed_data_checks as its model"


def test_a_token_pasted_into_yaml_is_refused_without_being_shown(tmp_path, monkeypatch):
    secret = "0/9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    for attributes in (f"access_token: '{secret}'", f"access_token_env: '{secret}'", f"token: {secret}"):
        yaml = f"type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: x\n  model: {{query: SELECT 1}}\n  project_gid: '1'\n  {attributes}\n"
        with pytest.raises(Exception) as raised:
            load(project_with(tmp_path / str(abs(hash(attributes))), {"bad": yaml}, monkeypatch))
        import traceback

        text = "".join(traceback.format_exception(raised.value))
        assert secret not in text
        assert "never goes in YAML" in text
    root = project_with(tmp_path / "checked", {"bad": yaml.replace(f"token: {secret}", f"asana_key: {secret}")}, monkeypatch)
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    checked = subprocess.run([DG, "check", "yaml"], cwd=root, env=env, capture_output=True, text=True, timeout=180)
    assert secret not in checked.stdout + checked.stderr, "dg check yaml prints the line of an attribute it refuses"
    with pytest.raises(Exception) as raised:
        load(root)
    assert "unknown attribute(s) asana_key" in str(raised.value) + str(raised.value.__cause__)


@pytest.mark.parametrize("name", ["default", "asana_sync", "warehouse"])
def test_names_of_the_default_sync_are_taken(tmp_path, monkeypatch, name):
    yaml = f"type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: {name}\n  model: {{query: SELECT 1}}\n  project_gid: '1'\n"
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path, {"taken": yaml}, monkeypatch))
    assert "belongs to the default sync" in str(raised.value) + str(raised.value.__cause__)


def test_two_syncs_of_one_name_are_refused_with_the_rule(tmp_path, monkeypatch):
    sync = "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: {name}\n  model: {{query: SELECT 1}}\n  project_gid: '1'\n"
    folders = {"first": sync.format(name="twin") + "---\n" + sync.format(name="other"), "second": sync.format(name="twin")}
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path, folders, monkeypatch))
    text = str(raised.value) + str(raised.value.__cause__)
    assert "2 syncs are named 'twin'; each needs its own name" in text
    assert "Duplicate" not in text


def test_two_syncs_writing_their_keys_to_one_field_of_one_project_are_refused(tmp_path, monkeypatch):
    sync = (
        "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: {name}\n  model: {{query: SELECT 1}}\n"
        "  project_gid: '{project}'\n  sync_key_field: '301'\n"
    )
    apart = {"a": sync.format(name="churn", project="1") + "---\n" + sync.format(name="renewals", project="2")}
    assert "renewals_asana_sync_job" in {job.name for job in load(project_with(tmp_path / "apart", apart, monkeypatch)).get_repository_def().get_all_jobs()}
    shared = {"a": sync.format(name="churn", project="1"), "b": sync.format(name="renewals", project="1")}
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path / "shared", shared, monkeypatch))
    text = str(raised.value) + str(raised.value.__cause__)
    assert "syncs 'churn', 'renewals' write their keys to the same sync_key_field 301 of project 1" in text


TRANSLATED = TWO_SYNCS.split("---")[0].replace('  schedule: "0 6 * * *"\n', "  translation:\n{translation}")


def test_yaml_sets_dagsters_asset_attributes_and_automation_runs_the_sync(sandbox, tmp_path, monkeypatch):
    translation = """\
    owners: [team:growth, ana@example.com]
    tags: {tier: prod, role: "{{ data }}"}
    automation_condition: "{{ automation_condition.on_cron('0 6 * * *') }}"
    group_name: growth
"""
    with __import__("duckdb").connect(str(sandbox.warehouse)) as connection:
        connection.execute("CREATE TABLE shared_model AS SELECT 'a' AS id, 'Alpha' AS name")
    defs = load(project_with(tmp_path, {"churn": TRANSLATED.format(project=sandbox.project_gid, translation=translation)}, monkeypatch))
    graph = defs.get_repository_def().asset_graph
    roles = ("warehouse_model", "asana_task_payloads", "asana_tasks")
    for role in roles:
        node = graph.get(dg.AssetKey(["churn", role]))
        assert node.owners == ["team:growth", "ana@example.com"]
        assert {"tier": "prod", "role": role}.items() <= dict(node.tags).items()
        assert node.automation_condition is not None and node.automation_condition.get_label() == "on_cron(0 6 * * *, UTC)"
        assert node.group_name == "growth"
    dry_run = run(defs, "churn_asana_dry_run_job")
    assert dry_run.success and materialization(dry_run, "churn__asana_task_payloads")["to_create"] == 1

    # From the cron tick on, Dagster's automation requests the sync's assets, and the runs it makes
    # sync the model as the sync's job would.
    instance = dg.DagsterInstance.ephemeral()
    requested: list[str] = []
    cursor = None
    moment = __import__("datetime").datetime(2026, 12, 4, 5, 59, tzinfo=__import__("datetime").timezone.utc)
    for minutes in (0, 2, 3, 4):
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=cursor, evaluation_time=moment + __import__("datetime").timedelta(minutes=minutes)
        )
        cursor = evaluation.cursor
        keys = [dg.AssetKey(["churn", role]) for role in roles if evaluation.get_num_requested(dg.AssetKey(["churn", role]))]
        if keys:
            requested += [key.to_user_string() for key in keys]
            result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=keys, raise_on_error=False
            )
            assert result.success, failure_text(result)
    assert requested == [f"churn/{role}" for role in roles]
    assert [task["name"] for task in sandbox.tasks()] == ["Alpha"]


def test_yaml_attributes_cannot_move_a_syncs_assets(tmp_path, monkeypatch):
    yaml = TRANSLATED.format(project="1200000000000100", translation="    key_prefix: elsewhere\n")
    with pytest.raises(Exception) as raised:
        load(project_with(tmp_path, {"churn": yaml}, monkeypatch))
    text = str(raised.value) + str(raised.value.__cause__)
    assert "translation changes the key of churn/warehouse_model to elsewhere/churn/warehouse_model" in text
    assert "a sync's asset keys are fixed" in text


AUDITED = '''
import dagster as dg

from asana_sync_pipeline import AsanaSyncComponent


class AuditedSync(AsanaSyncComponent):
    """A team's own sync: every asset owned by the data team, and each run's writes counted in its metadata."""

    def get_asset_spec(self, asset_spec, role):
        return super().get_asset_spec(asset_spec, role).merge_attributes(owners=["team:data"], tags={"audited": "yes"})

    def execute(self, context, spec, plan, asana, store):
        result = super().execute(context, spec, plan, asana, store)
        context.log.info("audited")
        return dg.MaterializeResult(metadata={**(result.metadata or {}), "audited_by": "team:data"}, check_results=result.check_results)
'''


def test_a_team_subclasses_the_component_to_change_one_step(sandbox, tmp_path, monkeypatch):
    with __import__("duckdb").connect(str(sandbox.warehouse)) as connection:
        connection.execute("CREATE TABLE shared_model AS SELECT 'a' AS id, 'Alpha' AS name")
    yaml = TWO_SYNCS.format(project=sandbox.project_gid).split("---")[0]
    root = project_with(tmp_path, {"churn": yaml.replace("asana_sync_pipeline.AsanaSyncComponent", "team_syncs.AuditedSync")}, monkeypatch)
    (root / "team_syncs.py").write_text(AUDITED)
    defs = load(root)
    graph = defs.get_repository_def().asset_graph
    for role in ("warehouse_model", "asana_task_payloads", "asana_tasks"):
        node = graph.get(dg.AssetKey(["churn", role]))
        assert node.owners == ["team:data"] and dict(node.tags)["audited"] == "yes"
    result = run(defs, "churn_asana_sync_job")
    assert result.success, failure_text(result)
    written = materialization(result, "churn__asana_tasks")
    assert written["audited_by"] == "team:data" and written["created"] == 1
    assert [task["name"] for task in sandbox.tasks()] == ["Alpha"]


def test_the_component_brings_its_resources_and_a_project_may_bind_its_own(sandbox, tmp_path, monkeypatch):
    from dagster_duckdb import DuckDBResource

    from asana_sync_pipeline.lib.bindings import SYNC_RESOURCE_KEYS, with_sync_resources

    own = tmp_path / "own_warehouse.duckdb"
    with __import__("duckdb").connect(str(own)) as connection:
        connection.execute("CREATE TABLE shared_model AS SELECT 'o' AS id, 'From our own warehouse' AS name")
    root = project_with(tmp_path, {"syncs": TWO_SYNCS.format(project=sandbox.project_gid).split("---")[0]}, monkeypatch)
    alone = dg.load_from_defs_folder(path_within_project=root)  # no resources of this checkout's definitions.py
    assert set(alone.resources) == set(SYNC_RESOURCE_KEYS)
    assert alone.resources["warehouse"].database == str(sandbox.warehouse), "bound from the environment"
    defs = with_sync_resources(alone, warehouse=DuckDBResource(database=str(own)))
    result = run(defs, "churn_asana_sync_job")
    assert result.success, failure_text(result)
    assert [task["name"] for task in sandbox.tasks()] == ["From our own warehouse"]
    with pytest.raises(ValueError, match="not a sync resource: io_manager"):
        with_sync_resources(alone, io_manager=DuckDBResource(database=str(own)))
