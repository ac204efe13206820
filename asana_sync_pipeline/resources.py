"""Dagster resources: `asana` (how to reach Asana), `warehouse` and `sync_state` (DuckDB).

Thin: they hold configuration and hand out engine objects; running a sync is
`engine.runner.run_sync`, which the `asana_tasks` asset calls.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from .engine.settings import DEFAULT_BASE_URL, AsanaSettings
from .engine.state import StateStore


class AsanaResource(dg.ConfigurableResource):
    """Asana, seen through one personal access token: where it is and the pace it allows.

    Sync settings (mode, primary key, mapping) are asset config, so that a
    Launchpad override never drops the token binding."""

    access_token: str = Field(repr=False, description="Personal access token; bind with dg.EnvVar('ASANA_ACCESS_TOKEN').")
    project_gid: str = Field(description="GID of the project that receives the tasks (digits only).")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API root, e.g. the local emulator's.")
    requests_per_minute: int = Field(default=1500, description="Pace of requests: 1,500 on paid workspaces, 150 on free ones.")
    max_concurrent_writes: int = Field(default=15, description="Writes in flight at once (Asana allows 15).")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    max_attempts: int = Field(default=6, description="Attempts per request before a row is given up for this run.")
    reconcile_grace_seconds: float = Field(
        default=5.0, description="Wait before checking whether a create with no clear answer made a task."
    )

    def settings(self) -> AsanaSettings:
        """The validated connection settings (a configuration error names the setting at fault)."""
        return AsanaSettings(
            access_token=self.access_token,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_concurrent_writes=self.max_concurrent_writes,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            reconcile_grace_seconds=self.reconcile_grace_seconds,
        )


class SyncStateResource(DuckDBResource):
    """The DuckDB file holding task GIDs, intents, rejections and run history."""

    def store(self) -> StateStore:
        return StateStore(self.database, self.connection_config)
