"""Dagster resources: `asana` (the API and the field rules), `warehouse` and `sync_state` (DuckDB)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from .engine.client import DEFAULT_BASE_URL, AsanaClient
from .engine.connection import ConnectionInfo, check_connection, check_project_gid
from .engine.mapping import SyncSettings
from .engine.planning import Plan, build_plan, refresh_plan
from .engine.state import StateStore
from .engine.sync import SyncOptions, SyncReport, TaskSync


class AsanaResource(dg.ConfigurableResource):
    """Asana, seen through one personal access token and one project.

    Validates and normalizes rows (the field rules), tests the connection, and
    performs creates and updates at the configured pace. Sync settings (mode,
    primary key, mapping) are asset config and passed in, so that a Launchpad
    override never drops the token binding.
    """

    access_token: str = Field(repr=False, description="Personal access token; bind with dg.EnvVar('ASANA_ACCESS_TOKEN').")
    project_gid: str = Field(description="GID of the project that receives the tasks (digits only).")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API root, e.g. the local emulator's.")
    requests_per_minute: int = Field(
        default=1500, description="Pace of requests: 1,500 on paid workspaces, 150 on free ones."
    )
    max_concurrent_writes: int = Field(default=15, description="Writes in flight at once (Asana allows 15).")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    max_attempts: int = Field(default=6, description="Attempts per request before a row is given up for this run.")
    reconcile_grace_seconds: float = Field(
        default=5.0, description="Wait before checking whether a create with no clear answer made a task."
    )

    def client(self, on_retry: Callable[[str], None] | None = None) -> AsanaClient:
        return AsanaClient(
            access_token=self.access_token,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_concurrent_writes=self.max_concurrent_writes,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            on_retry=on_retry,
        )

    def validated_project_gid(self) -> str:
        return check_project_gid(self.project_gid)

    def plan(self, model: pd.DataFrame, settings: SyncSettings, synced: pd.DataFrame) -> Plan:
        """Validate and normalize every row and decide its operation; sends nothing."""
        return build_plan(model, settings, synced)

    def check_connection(self) -> ConnectionInfo:
        async def check() -> ConnectionInfo:
            async with self.client() as client:
                return await check_connection(client, self.project_gid)

        return asyncio.run(check())

    def sync(self, plan: Plan, store: StateStore, *, run_id: str, log: Callable[[str], None]) -> tuple[ConnectionInfo, SyncReport]:
        """Test the connection, then carry out the plan; fails before any write if the test fails.

        Runs under the state file's lock, against the state as it is once the lock
        is held, so overlapping runs never create the same task twice."""

        async def run(plan: Plan) -> tuple[ConnectionInfo, SyncReport]:
            async with self.client(on_retry=log) as client:
                info = await check_connection(client, self.project_gid)
                options = SyncOptions(
                    reconcile_grace_seconds=self.reconcile_grace_seconds,
                    workers=2 * self.max_concurrent_writes,
                )
                task_sync = TaskSync(
                    client, store, project_gid=info.project_gid, run_id=run_id, me_gid=info.user_gid, log=log, options=options
                )
                return info, await task_sync.run(plan)

        with store.exclusive(log):
            current = refresh_plan(plan, store.synced(self.validated_project_gid()))
            return asyncio.run(run(current))


class SyncStateResource(DuckDBResource):
    """The DuckDB file holding task GIDs, intents, rejections and run history."""

    def store(self) -> StateStore:
        return StateStore(self.database, self.connection_config)
