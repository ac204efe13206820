"""The Dagster instance on PostgreSQL, as deployed: deploy/dagster.yaml (dagster-postgres storage,
queued runs, the pool limit) serving `dagster dev` (webserver + daemon) with two syncs, their
state in PostgreSQL too. Both jobs are submitted at once through GraphQL: the daemon launches
them from the queue, both succeed, the pool keeps their writes to Asana apart, and every task
exists exactly once."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import duckdb
import httpx
import pytest
from dagster_graphql import DagsterGraphQLClient

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, people
from asana_sync_pipeline_tests.dagster_dev import dagster_dev
from asana_sync_pipeline_tests.postgres_server import SUPERUSER

pytestmark = pytest.mark.xdist_group("dagster_ui")

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")
PROJECTS = {"first": "1200000000000100", "second": "1200000000000110"}
ROWS = 120
STEPS_QUERY = """
query Steps($runId: ID!) { runOrError(runId: $runId) { ... on Run {
    status stepStats { stepKey startTime endTime status }
} } }
"""
DEFINITIONS = textwrap.dedent(
    """
    import os

    import dagster as dg

    from asana_sync_pipeline.definitions import build_resources
    from asana_sync_pipeline.lib.factory import build_sync_definitions
    from asana_sync_pipeline.lib.sync_spec import SyncSpec

    defs = dg.Definitions.merge(
        *(
            build_sync_definitions(SyncSpec(name=name, model_query=f"SELECT * FROM model_{{name}}", project_gid=project))
            for name, project in {projects!r}.items()
        ),
        dg.Definitions(resources=build_resources(os.environ), executor=dg.in_process_executor),
    )
    """
)


def wait_for_runs(client: DagsterGraphQLClient, run_ids: list[str], log: Path) -> dict[str, str]:
    deadline = time.monotonic() + 240
    while True:
        statuses = {run_id: client.get_run_status(run_id).value for run_id in run_ids}
        if all(status in ("SUCCESS", "FAILURE", "CANCELED") for status in statuses.values()):
            return statuses
        assert time.monotonic() < deadline, (statuses, log.read_text()[-3000:])
        time.sleep(0.5)


def step_stats(url: str, run_id: str) -> list[dict]:
    """Each step of a run with its start and end, from the webserver's GraphQL API."""
    answer = httpx.post(f"{url}/graphql", json={"query": STEPS_QUERY, "variables": {"runId": run_id}}, timeout=30)
    return answer.raise_for_status().json()["data"]["runOrError"]["stepStats"]


def task_names(emulator: EmulatorServer, project: str) -> Counter:
    """How many tasks of `project` bear each name, read through the emulator's API."""
    names: Counter = Counter()
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as api:
        params: dict = {"limit": 100, "opt_fields": "name"}
        while True:
            page = api.get(f"/projects/{project}/tasks", params=params).raise_for_status().json()
            names.update(task["name"] for task in page["data"])
            if not page.get("next_page"):
                return names
            params = {**params, "offset": page["next_page"]["offset"]}


def test_queued_runs_of_two_syncs_on_an_instance_in_postgresql_write_one_at_a_time(tmp_path, postgres_server):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    instance_database, state_database = postgres_server.new_database(), postgres_server.new_database()
    (tmp_path / "two_syncs.py").write_text(DEFINITIONS.format(projects=PROJECTS))
    log = tmp_path / "dagster_dev.log"
    with EmulatorServer(people(EmulatorSettings(token=TOKEN, latency_ms=10))) as emulator:
        warehouse = tmp_path / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as connection:
            for name in PROJECTS:
                connection.execute(
                    f"CREATE TABLE model_{name} AS SELECT 'row-' || i AS id, '{name}: task ' || i AS name FROM range({ROWS}) t(i)"
                )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DAGSTER_HOME": str(home),
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(postgres_server.port),
            "DAGSTER_POSTGRES_USER": SUPERUSER,
            "DAGSTER_POSTGRES_PASSWORD": postgres_server.password,
            "DAGSTER_POSTGRES_DB": instance_database,
            "SYNC_STATE_URL": postgres_server.url(state_database),
            "ASANA_ACCESS_TOKEN": TOKEN,
            "ASANA_BASE_URL": emulator.base_url,
            "ASANA_MAX_CONCURRENT_WRITES": "4",
            "WAREHOUSE_DUCKDB_PATH": str(warehouse),
        }
        with dagster_dev("-f", str(tmp_path / "two_syncs.py"), cwd=tmp_path, env=env, log=log) as (url, port):
            client = DagsterGraphQLClient("127.0.0.1", port_number=port)
            run_ids = [client.submit_job_execution(f"{name}_asana_sync_job") for name in PROJECTS]
            statuses = wait_for_runs(client, run_ids, log)
            steps = {run_id: step_stats(url, run_id) for run_id in run_ids}
        tasks = {project: task_names(emulator, project) for project in PROJECTS.values()}

    assert set(statuses.values()) == {"SUCCESS"}, log.read_text()[-3000:]
    writes = sorted(
        (step["startTime"], step["endTime"]) for stats in steps.values() for step in stats if step["stepKey"].endswith("asana_tasks")
    )
    assert len(writes) == 2 and writes[0][1] <= writes[1][0], writes
    for name, project in PROJECTS.items():
        assert sum(tasks[project].values()) == ROWS and set(tasks[project].values()) == {1}
        assert all(task.startswith(f"{name}: ") for task in tasks[project])
    with postgres_server.connect(instance_database) as connection:
        queued = connection.execute(
            "SELECT count(DISTINCT run_id) FROM event_logs WHERE dagster_event_type = 'PIPELINE_ENQUEUED'"
        ).fetchone()[0]
    assert queued == 2
    synced = Counter(row["sync_name"] for row in postgres_server.rows(state_database, "synced_tasks"))
    assert synced == {name: ROWS for name in PROJECTS}
    assert postgres_server.password not in log.read_text()

