"""The code location: assets, job and resources, configured from the environment."""

from __future__ import annotations

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from .assets import asana_task_payloads, asana_tasks, warehouse_model
from .engine.settings import DEFAULT_BASE_URL
from .checks import names_present_for_new_rows, primary_key_unique_and_not_null, rejection_rate_below_threshold
from .jobs import asana_connection_test, asana_sync_job
from .resources import AsanaResource, SyncStateResource
from .schedules import asana_sync_schedule
from .sensors import warehouse_model_sensor

DEFAULT_WAREHOUSE_PATH = "data/warehouse.duckdb"
DEFAULT_STATE_PATH = "data/sync_state.duckdb"

def build_definitions() -> dg.Definitions:
    """Definitions bound to the environment; non-secret defaults are read when the code location loads."""
    return dg.Definitions(
        assets=[warehouse_model, asana_task_payloads, asana_tasks],
        asset_checks=[primary_key_unique_and_not_null, names_present_for_new_rows, rejection_rate_below_threshold],
        jobs=[asana_sync_job, asana_connection_test],
        schedules=[asana_sync_schedule],
        sensors=[warehouse_model_sensor],
        resources={
            "asana": AsanaResource(
                access_token=dg.EnvVar("ASANA_ACCESS_TOKEN"),
                project_gid=dg.EnvVar("ASANA_PROJECT_GID"),
                base_url=os.environ.get("ASANA_BASE_URL", DEFAULT_BASE_URL),
                requests_per_minute=int(os.environ.get("ASANA_REQUESTS_PER_MINUTE", "1500")),
                max_concurrent_writes=int(os.environ.get("ASANA_MAX_CONCURRENT_WRITES", "15")),
            ),
            "warehouse": DuckDBResource(
                database=os.environ.get("WAREHOUSE_DUCKDB_PATH", DEFAULT_WAREHOUSE_PATH),
                connection_config={"access_mode": "READ_ONLY"},
            ),
            "sync_state": SyncStateResource(database=os.environ.get("SYNC_STATE_DUCKDB_PATH", DEFAULT_STATE_PATH)),
        },
    )


defs = build_definitions()
