"""Dagster resources: `asana` (how to reach Asana, and the planning of a model's rows) and
`sync_state` (task GIDs and history, in a DuckDB file or PostgreSQL). The third, `warehouse`,
is dagster-duckdb's own `DuckDBResource`, bound in `definitions`.

Thin: they hold configuration and hand out engine objects; running a sync is
`engine.runner.run_sync`, which the `asana_tasks` asset calls.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from ..engine import (
    DEFAULT_TOKEN_ENV,
    AsanaSettings,
    Log,
    Planned,
    StateStore,
    SyncConfigError,
    SyncScope,
    SyncSettings,
    environment,
    open_state_store,
    plan_sync,
)
from .sync_spec import SyncSpec

PROJECT_ENV = environment.PROJECT_GID.name


def _engine_setting(name: str) -> Any:
    """A resource field declared by the engine's `AsanaSettings` (its default and description)."""
    setting = AsanaSettings.setting(name)
    return Field(default=setting.default, description=setting.description)


class AsanaResource(dg.ConfigurableResource):
    """Asana, seen through personal access tokens: where it is and the pace it allows.

    `access_token` and `project_gid` belong to the default sync (bound to
    `dg.EnvVar`s); a sync declared in YAML names its own project and the
    environment variable holding its token. When a variable was not set as the
    code location loaded, it is read when the run needs it, so a dry run works
    without a token. Sync settings (mode, primary key, mapping) are asset config,
    so that a Launchpad override never drops these bindings.

    Parameters:
        access_token: the default sync's personal access token; bind with `dg.EnvVar`.
        project_gid: the default sync's project.
        base_url, requests_per_minute, max_concurrent_writes, max_concurrent_reads,
        timeout_seconds, max_attempts, max_rate_limited_attempts, max_backoff_seconds,
        reconcile_grace_seconds: as `engine.settings.AsanaSettings` declares them
        (docs/configuration.md lists them with their defaults)."""

    access_token: str | None = Field(
        default=None, repr=False, description="Personal access token; bind with dg.EnvVar('ASANA_ACCESS_TOKEN')."
    )
    project_gid: str | None = Field(default=None, description="GID of the default sync's project (digits only).")
    base_url: str = _engine_setting("base_url")
    requests_per_minute: int = _engine_setting("requests_per_minute")
    max_concurrent_writes: int = _engine_setting("max_concurrent_writes")
    max_concurrent_reads: int = _engine_setting("max_concurrent_reads")
    timeout_seconds: float = _engine_setting("timeout_seconds")
    max_attempts: int = _engine_setting("max_attempts")
    max_rate_limited_attempts: int = _engine_setting("max_rate_limited_attempts")
    max_backoff_seconds: float = _engine_setting("max_backoff_seconds")
    reconcile_grace_seconds: float = _engine_setting("reconcile_grace_seconds")

    def token_for(self, spec: SyncSpec) -> str | None:
        if spec.access_token_env == DEFAULT_TOKEN_ENV and self.access_token:
            return self.access_token
        return os.environ.get(spec.access_token_env)

    def project_for(self, spec: SyncSpec) -> str:
        project = spec.project_gid or self.project_gid or os.environ.get(PROJECT_ENV)
        if not project:
            raise SyncConfigError(
                f"{PROJECT_ENV} is not set: set it to the GID of the project that receives the tasks (the number "
                "after /0/ in the project's URL)."
            )
        return project

    def settings_for(self, spec: SyncSpec) -> AsanaSettings:
        """The validated connection settings of `spec` (a configuration error names the setting at fault)."""
        token = self.token_for(spec)
        if token is None:
            raise SyncConfigError(
                f"{spec.access_token_env} is not set: set it to a personal access token (Asana: My Settings > "
                "Apps > Manage Developer Apps > Create new token)."
            )
        connection = {setting.name: getattr(self, setting.name) for setting in AsanaSettings.described()}
        return AsanaSettings(access_token=token, token_source=spec.access_token_env, **connection)

    def plan(
        self, spec: SyncSpec, model: pd.DataFrame, settings: SyncSettings, store: StateStore, *, see_people: bool = True
    ) -> Planned:
        """Validate and normalize the model's rows into the plan of one run of `spec`: every value
        checked by its field's rule, names resolved against the live project (its schema read once,
        and only when the model names things and a token is set; offline otherwise, saying so).
        What people did in Asana since the last run is read too when `see_people` (a dry run); a
        run that writes reads it under its lock. A thin call to the engine's `plan_sync`."""
        online = self.token_for(spec) is not None
        asana = self.settings_for(spec) if online else None
        return plan_sync(model, settings, store=store, scope=self.scope_for(spec), asana=asana, see_people=see_people)

    def scope_for(self, spec: SyncSpec) -> SyncScope:
        """The sync and project whose state a run of `spec` uses (the project GID checked here, once)."""
        return SyncScope(spec.name, self.project_for(spec))


class SyncStateResource(DuckDBResource):
    """Where task GIDs, intents, rejections and run history live: the DuckDB file `database`, or
    the PostgreSQL database of `url` when it is set (runs on several machines then share it).

    `url` holds a password: bind it with `dg.EnvVar` of `SYNC_STATE_URL`, so that the
    UI shows the variable's name, never its value.

    Parameters:
        database: the DuckDB state file (the code location binds SYNC_STATE_DUCKDB_PATH, by default
            data/sync_state.duckdb).
        url: postgresql://user:password@host:port/database; when set, the state lives there.
        connection_config: DuckDB connection options."""

    url: str | None = Field(
        default=None,
        repr=False,
        description="postgresql://user:password@host:port/database; bind with dg.EnvVar('SYNC_STATE_URL'). "
        "When set, the state lives there and `database` is not used.",
    )

    def store(self, log: Log | None = None) -> StateStore:
        """The store (`log`: told at once when another process holds the DuckDB file)."""
        return open_state_store(url=self.url, database=self.database, connection_config=self.connection_config, log=log)
