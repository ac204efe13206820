"""Syncs on the data team's own tables (issue 29): a dbt model loaded through dagster-dbt's component,
a plain asset that materializes a table, a table named with its upstreams; lineage, Dagster's
automation evaluated for real, and the errors that name the sync, the key or table, and what exists.

Each test builds a throwaway dg project holding a small dbt project (dbt-duckdb, offline) whose
profile writes the sandbox's warehouse, and the sync's YAML; the syncs run through their jobs against
the emulator, with only the resources the component brings (no `definitions.py` of this checkout)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from asana_sync_pipeline.engine import SyncConfigError
from asana_sync_pipeline.lib.upstream import check_model_upstreams
from asana_sync_pipeline.sample.warehouse import run_dbt
from asana_sync_pipeline_tests.conftest import failure_text, materialization

ACCOUNTS = "id,name,segment\nacct-1,Aperture,risk\nacct-2,Virtucon,fine\nacct-3,Umbrella,risk\n"
DBT_FILES = {
    "dbt_project.yml": """\
        name: team_dbt
        version: "1.0.0"
        profile: team_dbt
        config-version: 2
        seed-paths: [seeds]
        model-paths: [models]
        flags:
          send_anonymous_usage_stats: false
        models:
          team_dbt:
            +materialized: table
        """,
    "profiles.yml": """\
        team_dbt:
          target: local
          outputs:
            local:
              type: duckdb
              path: "{{ env_var('TEAM_WAREHOUSE') }}"
              threads: 1
        """,
    "models/churn_risk.sql": "SELECT id, 'Churn risk: ' || name AS name FROM {{ ref('accounts') }} WHERE segment = 'risk'\n",
    "models/account_count.sql": "SELECT count(*) AS accounts FROM {{ ref('accounts') }}\n",
}
DBT_COMPONENT = """\
type: dagster_dbt.DbtProjectComponent
attributes:
  project: "{{ project_root }}/dbt_project"
  prepare_if_dev: false
"""


def sync_yaml(name: str, model: str, project: str, extra: str = "") -> str:
    return f"type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: {name}\n  model: {model}\n  project_gid: \"{project}\"\n{extra}"


def team_project(tmp_path: Path, monkeypatch, defs_yaml: dict[str, str], *, dbt: bool = True) -> Path:
    """A dg project of a data team: `defs_yaml` (folder -> YAML) under its defs/, and, with `dbt`, its
    dbt project (seeds `accounts`, models `churn_risk` and `account_count`) parsed offline."""
    module = f"team_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "team"
    (root / module / "defs").mkdir(parents=True)
    (root / module / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        f'[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "{module}"\ndefs_module = "{module}.defs"\n'
    )
    if dbt:
        project = root / "dbt_project"
        for name, text in DBT_FILES.items():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            (project / name).write_text(textwrap.dedent(text))
        (project / "seeds").mkdir()
        (project / "seeds" / "accounts.csv").write_text(ACCOUNTS)
        run_dbt(["parse"], project, {"TEAM_WAREHOUSE": str(tmp_path / "warehouse.duckdb")})
        defs_yaml = {"dbt": DBT_COMPONENT, **defs_yaml}
    for folder, text in defs_yaml.items():
        (root / module / "defs" / folder).mkdir()
        (root / module / "defs" / folder / "defs.yaml").write_text(text)
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.fixture
def team(sandbox, monkeypatch):
    """The sandbox, with dbt writing its warehouse."""
    monkeypatch.setenv("TEAM_WAREHOUSE", str(sandbox.warehouse))
    return sandbox


def load(root: Path, *extra: dg.Definitions) -> dg.Definitions:
    return dg.Definitions.merge(dg.load_from_defs_folder(path_within_project=root), *extra)


def materialize(defs: dg.Definitions, instance: dg.DagsterInstance, *keys: str) -> dg.ExecuteInProcessResult:
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(key.split("/")) for key in keys], raise_on_error=False
    )
    assert result.success, failure_text(result)
    return result


def run_job(defs: dg.Definitions, job: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)


def test_a_sync_on_a_dbt_model_end_to_end_and_in_lineage(team, tmp_path, monkeypatch):
    root = team_project(tmp_path, monkeypatch, {"churn": sync_yaml("churn", "{asset: churn_risk}", team.project_gid)})
    defs = load(root)
    graph = defs.get_repository_def().asset_graph
    payloads = dg.AssetKey(["churn", "asana_task_payloads"])
    assert graph.get(payloads).parent_keys == {dg.AssetKey("churn_risk")}, "the dbt model sits directly above the payloads"
    assert graph.get(dg.AssetKey("churn_risk")).parent_keys == {dg.AssetKey("accounts")}
    assert dg.AssetKey(["churn", "warehouse_model"]) not in graph.get_all_asset_keys()

    instance = dg.DagsterInstance.ephemeral()
    materialize(defs, instance, "accounts", "churn_risk", "account_count")  # dbt build, through dagster-dbt
    result = run_job(defs, "churn_asana_sync_job", instance)
    assert result.success, failure_text(result)
    assert sorted(task["name"] for task in team.tasks()) == ["Churn risk: Aperture", "Churn risk: Umbrella"]
    assert materialization(result, "churn__asana_task_payloads")["to_create"] == 2


def test_rebuilding_the_dbt_model_runs_its_sync_through_automation_once_and_no_other(team, tmp_path, monkeypatch):
    eager = '  translation:\n    automation_condition: "{{ automation_condition.eager() }}"\n'
    root = team_project(
        tmp_path,
        monkeypatch,
        {
            "churn": sync_yaml("churn", "{asset: churn_risk}", team.project_gid, eager),
            "counts": sync_yaml("counts", "{asset: account_count}", team.project_gid, "  primary_key: accounts\n" + eager),
        },
    )
    defs = load(root)
    instance = dg.DagsterInstance.ephemeral()
    materialize(defs, instance, "accounts", "churn_risk", "account_count")
    for job in ("churn_asana_sync_job", "counts_asana_sync_job"):
        assert run_job(defs, job, instance).success
    cursor = None

    def tick() -> list[str]:
        """One evaluation of Dagster's automation; the runs it requests are run; the assets it requested."""
        nonlocal cursor
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = evaluation.cursor
        keys = [key for key in defs.get_repository_def().asset_graph.get_all_asset_keys() if evaluation.get_num_requested(key)]
        if keys:
            result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=keys, raise_on_error=False
            )
            assert result.success, failure_text(result)
        return sorted(key.to_user_string() for key in keys)

    assert tick() == [], "everything is up to date: nothing to run"
    materialize(defs, instance, "account_count")  # another dbt model is rebuilt
    assert tick() == ["counts/asana_task_payloads", "counts/asana_tasks"], "only the sync on that model runs"
    assert tick() == []

    (root / "dbt_project" / "seeds" / "accounts.csv").write_text(ACCOUNTS + "acct-4,Initech,risk\n")
    materialize(defs, instance, "accounts", "churn_risk")  # the dbt model the churn sync reads is rebuilt
    assert tick() == ["churn/asana_task_payloads", "churn/asana_tasks"]
    assert tick() == [], "once per rebuild"
    assert "Churn risk: Initech" in {task["name"] for task in team.tasks()}


LAUNCHES = "SELECT 'l-' || i AS id, 'Launch ' || i AS name FROM range(1, 4) AS t(i)"


def test_a_sync_on_a_plain_asset_that_materializes_a_table(team, tmp_path, monkeypatch):
    @dg.asset(key=["marts", "launches"], metadata={"dagster/table_name": "marts.launches"})
    def launches() -> None:
        with duckdb.connect(str(team.warehouse)) as connection:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS marts; CREATE OR REPLACE TABLE marts.launches AS {LAUNCHES}")

    @dg.asset(key="launch_plan")
    def launch_plan() -> dg.MaterializeResult:
        """Names its table only in what it materialized."""
        with duckdb.connect(str(team.warehouse)) as connection:
            connection.execute(f"CREATE OR REPLACE TABLE main.launch_plan AS {LAUNCHES} WHERE i = 1")
        return dg.MaterializeResult(metadata={"dagster/table_name": "warehouse.main.launch_plan"})

    root = team_project(
        tmp_path,
        monkeypatch,
        {
            "launches": sync_yaml("launches", "{asset: marts/launches}", team.project_gid),
            "plan": sync_yaml("plan", "{asset: launch_plan}", team.project_gid, "  sensor: true\n"),
            "by_table": sync_yaml("by_table", "{table: marts.launches, deps: [marts/launches]}", team.project_gid, "  sensor: true\n"),
        },
        dbt=False,
    )
    defs = load(root, dg.Definitions(assets=[launches, launch_plan]))
    graph = defs.get_repository_def().asset_graph
    assert graph.get(dg.AssetKey(["launches", "asana_task_payloads"])).parent_keys == {dg.AssetKey(["marts", "launches"])}
    assert graph.get(dg.AssetKey(["by_table", "asana_task_payloads"])).parent_keys == {dg.AssetKey(["marts", "launches"])}
    instance = dg.DagsterInstance.ephemeral()
    materialize(defs, instance, "marts/launches", "launch_plan")
    for job in ("launches_asana_sync_job", "plan_asana_sync_job"):
        result = run_job(defs, job, instance)
        assert result.success, failure_text(result)
    assert sorted(task["name"] for task in team.tasks()) == ["Launch 1", "Launch 1", "Launch 2", "Launch 3"]
    result = run_job(defs, "by_table_asana_sync_job", instance)
    assert result.success and materialization(result, "by_table__asana_tasks")["created"] == 3

    # A table sync's sensor reads the table as a query sync's reads its query.
    sensor = defs.resolve_sensor_def("by_table_model_sensor")
    context = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(), resources={"warehouse": defs.resources["warehouse"]})
    assert sensor.evaluate_tick(context).run_requests == []  # the baseline
    with duckdb.connect(str(team.warehouse)) as connection:
        connection.execute("INSERT INTO marts.launches VALUES ('l-9', 'Launch 9')")
    context = dg.build_sensor_context(
        instance=instance, repository_def=defs.get_repository_def(), cursor=context.cursor, resources={"warehouse": defs.resources["warehouse"]}
    )
    assert len(sensor.evaluate_tick(context).run_requests) == 1


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("{table: main.churn_risks}", ["sync 'broken': its model is the table main.churn_risks", "does not exist in the warehouse", "Did you mean main.churn_risk?", "Tables there: main.churn_risk"]),
        ("{asset: elsewhere}", ["sync 'broken': its model is the table main.nowhere of asset elsewhere", "does not exist", "Tables there: main.churn_risk"]),
        ("{asset: never_built}", ["sync 'broken': nothing to read from its model asset never_built: it has never been materialized", "model: {table: schema.name, deps: [never_built]}"]),
    ],
)
def test_a_model_that_names_what_does_not_exist_fails_naming_the_sync_the_key_or_table_and_what_exists(team, tmp_path, monkeypatch, model, expected):
    @dg.asset(key=["marts", "churn_risk"], metadata={"dagster/table_name": "main.churn_risk"})
    def churn_risk() -> None:
        with duckdb.connect(str(team.warehouse)) as connection:
            connection.execute("CREATE OR REPLACE TABLE churn_risk AS SELECT 'a' AS id, 'Alpha' AS name")

    elsewhere = dg.AssetSpec("elsewhere", metadata={"dagster/table_name": "main.nowhere"})

    @dg.asset(key="never_built")
    def never_built() -> dict:
        return {}

    root = team_project(tmp_path, monkeypatch, {"broken": sync_yaml("broken", model, team.project_gid)}, dbt=False)
    defs = load(root, dg.Definitions(assets=[churn_risk, elsewhere, never_built]))
    instance = dg.DagsterInstance.ephemeral()
    materialize(defs, instance, "marts/churn_risk")
    result = run_job(defs, "broken_asana_sync_job", instance)
    assert not result.success
    text = failure_text(result)
    for part in expected:
        assert part in text, text
    assert team.tasks() == []


def test_an_asset_no_definition_holds_is_refused_when_the_code_location_loads(tmp_path, monkeypatch):
    from asana_sync_pipeline.components.asana_sync.component import AsanaSyncComponent

    root = team_project(tmp_path, monkeypatch, {"broken": sync_yaml("broken", "{asset: churn_risks}", "1200000000000100")}, dbt=False)
    churn_risk = dg.AssetSpec("churn_risk", metadata={"dagster/table_name": "main.churn_risk"})
    defs = load(root, dg.Definitions(assets=[churn_risk]))
    syncs = [component.spec() for component in defs.component_tree.get_all_components(AsanaSyncComponent)]
    with pytest.raises(SyncConfigError) as raised:
        check_model_upstreams(defs, syncs)
    assert str(raised.value) == (
        "sync 'broken': no definition in this code location holds the asset churn_risks its model names. Did you mean "
        "churn_risk? Assets defined: broken/asana_sync_log, broken/asana_task_history, broken/asana_task_outcomes, "
        "broken/asana_task_payloads, broken/asana_tasks, churn_risk"
    )
    # This checkout's code location runs that check as it loads; in any project, Dagster itself refuses to
    # build the sync's job, naming the key and the closest keys that exist.
    with pytest.raises(dg.DagsterInvalidDefinitionError, match=r'(?s)Input asset "\["churn_risks"\]" is not produced.*churn_risk'):
        defs.resolve_job_def("broken_asana_sync_job")


def test_the_yaml_of_the_docs_from_dbt_section_loads_as_written(team, tmp_path, monkeypatch):
    """docs/configuration.md, "From dbt": its example, with this project's dbt model and project GID."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    section = docs[docs.index("### From dbt") :]
    example = section[section.index("```yaml\n") + len("```yaml\n") : section.index("```", section.index("```yaml\n") + 7)]
    assert "asset: marts/churn_risk" in example and '"1209876543210000"' in example, example
    yaml = example.replace("asset: marts/churn_risk", "asset: churn_risk").replace('"1209876543210000"', f'"{team.project_gid}"')
    defs = load(team_project(tmp_path, monkeypatch, {"churn_followups": yaml}))
    graph = defs.get_repository_def().asset_graph
    payloads = graph.get(dg.AssetKey(["churn_followups", "asana_task_payloads"]))
    assert payloads.parent_keys == {dg.AssetKey("churn_risk")}, "the dbt model sits directly above the sync"
    assert payloads.automation_condition is not None and payloads.automation_condition.get_label() == "eager"
    assert defs.resolve_job_def("churn_followups_asana_sync_job") is not None
