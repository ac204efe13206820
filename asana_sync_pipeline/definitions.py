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

from .engine import AsanaSettings, StateStore, environment, open_state_store, positive_int
from .lib.factory import build_sync_definitions
from .lib.io_managers import SyncIOManager
from .lib.paths import project_path
from .lib.resources import AsanaResource, SyncStateResource
from .lib.sync_spec import AlertSettings, SyncSpec

DEFS_ROOT = Path(__file__).parent


def build_resources(env: Mapping[str, str]) -> dict[str, object]:
    """The resources every sync shares. A secret bound here is read through `dg.EnvVar`
    when the run needs it; a variable unset at load is read then too (see AsanaResource)."""
    return {
        "asana": AsanaResource(
            access_token=dg.EnvVar(environment.ACCESS_TOKEN.name) if environment.ACCESS_TOKEN.is_set(env) else None,
            project_gid=dg.EnvVar(environment.PROJECT_GID.name) if environment.PROJECT_GID.is_set(env) else None,
            **connection_settings_from(env),
        ),
        "warehouse": DuckDBResource(
            database=str(project_path(str(environment.WAREHOUSE_PATH.read(env)), environment.WAREHOUSE_PATH.name)),
            connection_config={"access_mode": "READ_ONLY"},
        ),
        "sync_state": SyncStateResource(
            database=_state_file(env),
            url=dg.EnvVar(environment.STATE_URL.name) if environment.STATE_URL.is_set(env) else None,
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
    return open_state_store(url=environment.STATE_URL.read(env), database=_state_file(env))


def _state_file(env: Mapping[str, str]) -> str:
    """The DuckDB state file; left as given (and unused) when the state lives in PostgreSQL."""
    path = str(environment.STATE_PATH.read(env))
    return path if environment.STATE_URL.is_set(env) else str(project_path(path, environment.STATE_PATH.name))


def default_sync_spec(env: Mapping[str, str]) -> SyncSpec:
    read_files_in = tuple(folder for folder in (environment.READ_FILES_IN.read(env) or "").split(os.pathsep) if folder.strip())
    return SyncSpec(schedule=environment.SYNC_CRON.read(env), sensor=True, alerts=AlertSettings(), read_files_in=read_files_in)


@functools.cache
def syncs_in_defs_folder() -> dg.Definitions:
    """The syncs declared in YAML under defs/, read once per process."""
    from .components.asana_sync.load_errors import load_yaml_syncs

    return load_yaml_syncs(DEFS_ROOT)  # a mistake in a defs.yaml: its one line first, not Dagster's trace


def sync_specs(env: Mapping[str, str] | None = None) -> dict[str, SyncSpec]:
    """Every sync's spec by name: the default one, then those declared in defs/."""
    from .components.asana_sync.component import AsanaSyncComponent
    from .components.asana_sync.load_errors import first_line_first

    declared = first_line_first(
        lambda: ComponentTree.for_project(path_within_project=DEFS_ROOT).get_all_components(AsanaSyncComponent)
    )
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
