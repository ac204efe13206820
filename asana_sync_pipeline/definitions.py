"""The code location: the default sync (configured from the environment), every sync
declared in `defs/` (AsanaSyncComponent instances), and the resources they share."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster.components.core.component_tree import ComponentTree
from dagster_duckdb import DuckDBResource

from .engine.settings import DEFAULT_TOKEN_ENV, AsanaSettings, positive_int
from .engine.state import StateStore, open_state_store
from .factory import build_sync_definitions
from .io import SyncIOManager
from .paths import project_path
from .resources import PROJECT_ENV, AsanaResource, SyncStateResource
from .schedules import DEFAULT_CRON
from .sync_spec import AlertSettings, SyncSpec

DEFAULT_WAREHOUSE_PATH = "data/warehouse.duckdb"
DEFAULT_STATE_PATH = "data/sync_state.duckdb"
STATE_URL_ENV = "SYNC_STATE_URL"
READ_FILES_ENV = "ASANA_SYNC_READ_FILES_IN"
DEFS_ROOT = Path(__file__).parent


def build_resources(env: Mapping[str, str]) -> dict[str, object]:
    """The resources every sync shares. A secret bound here is read through `dg.EnvVar`
    when the run needs it; a variable unset at load is read then too (see AsanaResource)."""
    return {
        "asana": AsanaResource(
            access_token=dg.EnvVar(DEFAULT_TOKEN_ENV) if env.get(DEFAULT_TOKEN_ENV) else None,
            project_gid=dg.EnvVar(PROJECT_ENV) if env.get(PROJECT_ENV) else None,
            **connection_settings_from(env),
        ),
        "warehouse": DuckDBResource(
            database=str(project_path(env.get("WAREHOUSE_DUCKDB_PATH") or DEFAULT_WAREHOUSE_PATH, "WAREHOUSE_DUCKDB_PATH")),
            connection_config={"access_mode": "READ_ONLY"},
        ),
        "sync_state": SyncStateResource(
            database=_state_file(env),
            url=dg.EnvVar(STATE_URL_ENV) if env.get(STATE_URL_ENV) else None,
        ),
        "io_manager": SyncIOManager(),
    }


def connection_settings_from(env: Mapping[str, str]) -> dict[str, Any]:
    """The connection settings that have an environment variable (`AsanaSettings` names it) and
    are set in `env`; counts are checked here, so a typo fails the load naming the variable."""
    found: dict[str, Any] = {}
    for setting in AsanaSettings.described():
        if setting.env and (value := env.get(setting.env)):
            found[setting.name] = positive_int(value, setting.env) if setting.type is int else value
    return found


def state_store_from(env: Mapping[str, str]) -> StateStore:
    """The sync state the environment names, opened outside a Dagster run (the command line)."""
    return open_state_store(url=env.get(STATE_URL_ENV), database=_state_file(env))


def _state_file(env: Mapping[str, str]) -> str:
    """The DuckDB state file; left as given (and unused) when the state lives in PostgreSQL."""
    path = env.get("SYNC_STATE_DUCKDB_PATH") or DEFAULT_STATE_PATH
    return str(path) if env.get(STATE_URL_ENV) else str(project_path(path, "SYNC_STATE_DUCKDB_PATH"))


def default_sync_spec(env: Mapping[str, str]) -> SyncSpec:
    read_files_in = tuple(folder for folder in (env.get(READ_FILES_ENV) or "").split(os.pathsep) if folder.strip())
    return SyncSpec(
        schedule=env.get("ASANA_SYNC_CRON") or DEFAULT_CRON, sensor=True, alerts=AlertSettings(), read_files_in=read_files_in
    )


@functools.cache
def syncs_in_defs_folder() -> dg.Definitions:
    """The syncs declared in YAML under defs/, read once per process."""
    return dg.load_from_defs_folder(path_within_project=DEFS_ROOT)


def sync_specs(env: Mapping[str, str] | None = None) -> dict[str, SyncSpec]:
    """Every sync's spec by name: the default one, then those declared in defs/."""
    from .component import AsanaSyncComponent

    declared = ComponentTree.for_project(path_within_project=DEFS_ROOT).get_all_components(AsanaSyncComponent)
    specs = [default_sync_spec(os.environ if env is None else env), *(component.spec() for component in declared)]
    return {spec.name: spec for spec in specs}


def build_definitions(env: Mapping[str, str] | None = None, *, include_defs_folder: bool = True) -> dg.Definitions:
    """Definitions bound to `env` (the process environment by default)."""
    env = os.environ if env is None else env
    parts = [build_sync_definitions(default_sync_spec(env))]
    if include_defs_folder:
        parts.append(syncs_in_defs_folder())
    return dg.Definitions.merge(*parts, dg.Definitions(resources=build_resources(env), executor=dg.in_process_executor))


@dg.definitions
def defs() -> dg.Definitions:
    """Read the environment when the code location loads, not when this module is imported."""
    return build_definitions()
