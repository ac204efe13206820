"""The Dagster UI, for real: `dagster definitions validate`, then `dagster dev` on loopback
checked through its GraphQL API, and driven in headless Chromium to materialize the assets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest
from dagster_graphql import DagsterGraphQLClient

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.sample.warehouse import WAREHOUSE_ENV, build_sample_warehouse
from asana_sync_pipeline_tests.conftest import TOKEN
from asana_sync_pipeline_tests.dagster_dev import dagster_dev

pytestmark = pytest.mark.xdist_group("dagster_ui")

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VALID_SAMPLE_ROWS = 116
FAILING_SAMPLE_CHECKS = 20
REPOSITORY_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    location { name } jobs { name } schedules { name } sensors { name }
    assetNodes { assetKey { path } dependencyKeys { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
} } } }
"""
RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status } } } }"


@dataclass
class DagsterUI:
    url: str
    port: int
    emulator: EmulatorServer

    def graphql(self, query: str) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query}, timeout=30).raise_for_status().json()
        assert "errors" not in response, response
        return response["data"]

    def runs(self) -> list[dict]:
        return self.graphql(RUNS_QUERY)["runsOrError"]["results"]

    def wait_for_runs(self, count: int, timeout: float = 180) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs()
            if len(runs) >= count and all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs):
                return runs
            time.sleep(1)
        raise AssertionError(f"runs did not finish in time: {self.runs()}")


def _environment(tmp: Path, emulator: EmulatorServer) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(tmp / "dagster_home"),
        "ASANA_ACCESS_TOKEN": TOKEN,
        "ASANA_BASE_URL": emulator.base_url,
        "ASANA_PROJECT_GID": emulator.project_gid,
        "WAREHOUSE_DUCKDB_PATH": str(tmp / "warehouse.duckdb"),
        WAREHOUSE_ENV: str(tmp / "warehouse.duckdb"),  # where the sample's dbt models are built, from the UI too
        "SYNC_STATE_DUCKDB_PATH": str(tmp / "state.duckdb"),
    }


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[DagsterUI]:
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "dagster_home").mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp / "dagster_home" / "dagster.yaml")
    build_sample_warehouse(tmp / "warehouse.duckdb")
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as emulator:
        with dagster_dev(cwd=ROOT, env=_environment(tmp, emulator), log=tmp / "dagster_dev.log") as (url, port):
            yield DagsterUI(url=url, port=port, emulator=emulator)


def test_definitions_validate(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as emulator:
        result = subprocess.run(
            [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
            cwd=ROOT,
            env=_environment(tmp_path, emulator),
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_code_location_lineage_and_two_syncs_launched_side_by_side_through_graphql(ui):
    [repository] = ui.graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "asana_sync_pipeline"
    assert {"asana_sync_job", "asana_connection_test", "data_checks_asana_sync_job"} <= {job["name"] for job in repository["jobs"]}
    assert sorted(schedule["name"] for schedule in repository["schedules"]) == ["asana_outcomes_schedule", "asana_sync_schedule", "data_checks_asana_sync_schedule"]
    assert sorted(sensor["name"] for sensor in repository["sensors"]) == ["asana_sync_alerts", "data_checks_model_sensor", "warehouse_model_sensor"]
    nodes = {"/".join(node["assetKey"]["path"]): node for node in repository["assetNodes"]}
    assert {name: sorted("/".join(key["path"]) for key in node["dependencyKeys"]) for name, node in nodes.items()} == {
        "accounts": [],
        "usage_signals": [],
        "manual_overrides": [],
        "data_check_results": [],
        "asana_task_model": ["accounts", "manual_overrides", "usage_signals"],
        "failed_data_checks": ["data_check_results"],
        "warehouse_model": ["asana_task_model"],
        "asana_task_payloads": ["warehouse_model"],
        "asana_tasks": ["asana_task_payloads"],
        "data_checks/asana_task_payloads": ["failed_data_checks"],
        "data_checks/asana_tasks": ["data_checks/asana_task_payloads"],
        **{f"{prefix}{role}": [f"{prefix}asana_tasks"] for prefix in ("", "data_checks/") for role in ("asana_task_outcomes", "asana_task_history", "asana_sync_log")},
        "churn_follow_up_rate": ["asana_task_outcomes"],
    }
    checks = {(name, check["name"]) for name, node in nodes.items() for check in node["assetChecksOrError"]["checks"]}
    assert {check for _, check in checks} == {"primary_key_unique_and_not_null", "names_present_for_new_rows", "removals_within_limit", "clears_within_limit", "replacements_within_limit", "rejection_rate_below_threshold", "asana_matches_model"}
    assert len(checks) == 14

    before = len(ui.runs())
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui.port)
    run_ids = [client.submit_job_execution(job) for job in ("asana_sync_job", "data_checks_asana_sync_job")]
    statuses = {run["runId"]: run["status"] for run in ui.wait_for_runs(before + 2)}
    assert [statuses[run_id] for run_id in run_ids] == ["SUCCESS", "SUCCESS"]
    assert ui.emulator.task_count() == VALID_SAMPLE_ROWS + FAILING_SAMPLE_CHECKS


def _show_lineage(page) -> None:
    """Dismiss Dagster's community dialog (it opens a few seconds after the first page) and open
    every group of the lineage graph, which Dagster shows collapsed when there are several."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=8_000)
        skip.click()
    except PlaywrightTimeout:
        pass
    _open_groups(page)
    # With the sample's dbt group beside the syncs, Dagster shortens the payloads' label ("asana_ta…_payloads").
    page.get_by_text("asana_tasks", exact=True).first.wait_for(timeout=30_000)


def _open_groups(page) -> None:
    """Double-click each group's label. Where the graph lays a label under the page's header, the
    header would take the pointer: it is made to let pointers through first."""
    page.add_style_tag(content='[class*="PageHeader_container"] { pointer-events: none !important; }')
    for group in ("sample_warehouse", "asana_sync", "data_checks"):
        page.get_by_text(group, exact=True).filter(visible=True).last.dblclick()
        page.wait_for_timeout(500)


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Chromium is installed by `make test`")
def test_materialize_from_the_asset_graph_in_a_real_browser(ui, tmp_path):
    from playwright.sync_api import sync_playwright

    before = len(ui.runs())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        page.goto(f"{ui.url}/asset-groups", wait_until="networkidle")
        _show_lineage(page)
        page.get_by_role("button", name="Materialize all").click()
        runs = ui.wait_for_runs(before + 1)
        assert {run["status"] for run in runs} == {"SUCCESS"}
        page.reload(wait_until="networkidle")
        # Dagster keeps the groups open across a reload.
        page.get_by_text("asana_tasks", exact=True).first.wait_for(timeout=30_000)
        page.wait_for_timeout(2000)
        screenshot = tmp_path / "asset_lineage.png"
        page.screenshot(path=str(screenshot))
        if os.environ.get("UPDATE_SCREENSHOT"):
            shutil.copy(screenshot, ROOT / "docs" / "asset_lineage.png")
        browser.close()
    assert screenshot.stat().st_size > 10_000
    assert ui.emulator.task_count() == VALID_SAMPLE_ROWS + FAILING_SAMPLE_CHECKS


def test_alerts_under_dagster_dev_one_per_change_of_state(tmp_path):
    from asana_sync_pipeline_tests.webhook import Webhook

    hook = Webhook()
    (tmp_path / "dagster_home").mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    with EmulatorServer(EmulatorSettings(token=TOKEN)) as emulator:
        env = {**_environment(tmp_path, emulator), "ASANA_SYNC_ALERT_WEBHOOK_URL": hook.url, "DAGSTER_WEBSERVER_URL": "http://ui.example"}
        with dagster_dev(cwd=ROOT, env=env, log=tmp_path / "dagster_dev.log") as (url, port):
            ui = DagsterUI(url=url, port=port, emulator=emulator)
            client = DagsterGraphQLClient("127.0.0.1", port_number=port)

            def run_and_wait_for_alerts(count: int, alerts: int, *, settle: bool = False) -> None:
                client.submit_job_execution("asana_sync_job")
                ui.wait_for_runs(count)
                deadline = time.monotonic() + 90
                while len(hook.received) < alerts and time.monotonic() < deadline:
                    time.sleep(1)
                if settle:
                    time.sleep(20)  # more than one tick of the sensor: nothing else may come
                assert len(hook.received) == alerts, hook.texts()

            run_and_wait_for_alerts(1, 1)  # no warehouse file yet: the run fails
            assert hook.texts()[0].startswith("Asana sync 'default': failed. Cannot open the warehouse")
            assert "http://ui.example/runs/" in hook.texts()[0]
            run_and_wait_for_alerts(2, 1, settle=True)  # fails again: no second alert
            with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
                connection.execute("CREATE TABLE asana_task_model AS SELECT 'k' || i AS id, 'Task ' || i AS name FROM range(5) t(i)")
            run_and_wait_for_alerts(3, 2, settle=True)
            assert hook.texts()[1].startswith("Asana sync 'default' recovered (was: failed)")
    hook.stop()
