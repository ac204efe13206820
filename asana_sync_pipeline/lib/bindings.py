"""The resources a sync's assets use, bound from the environment: `asana`, `warehouse`, `sync_state`,
the sync's IO manager (`asana_sync_io_manager`) and the outcomes' (`warehouse_io_manager`).

`AsanaSyncComponent` brings them itself, so a `defs.yaml` of it loads and runs in any Dagster project
where this package is installed; this checkout's code location (`definitions.py`) binds the same
ones, and `io_manager`. Bound from equal settings they are the same objects, so the syncs of one
project share them (Dagster merges definitions only when a key holds one object). A project binds
its own in place of the defaults with `with_sync_resources(defs, warehouse=...)`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._record import replace
from dagster_duckdb import DuckDBResource

from ..engine import AsanaSettings, environment, positive_int
from .io_managers import SYNC_IO_MANAGER, WAREHOUSE_IO_MANAGER, SyncIOManager, WarehouseIOManager
from .paths import project_path
from .resources import AsanaResource, SyncStateResource

SYNC_RESOURCE_KEYS = ("asana", "warehouse", "sync_state", SYNC_IO_MANAGER, WAREHOUSE_IO_MANAGER)
"""What a sync's assets require (besides Dagster's own `io_manager`, which they do not use)."""


def connection_settings_from(env: Mapping[str, str]) -> dict[str, Any]:
    """The connection settings that have an environment variable (`AsanaSettings` names it) and
    are set in `env`; counts are checked here, so a typo fails the load naming the variable."""
    found: dict[str, Any] = {}
    for setting in AsanaSettings.described():
        if setting.env and (value := env.get(setting.env)):
            found[setting.name] = positive_int(value, setting.env) if setting.type is int else value
    return found


def state_file(env: Mapping[str, str], root: Path | None = None) -> str:
    """The DuckDB state file; left as given (and unused) when the state lives in PostgreSQL."""
    path = str(environment.STATE_PATH.read(env))
    return path if environment.STATE_URL.is_set(env) else str(project_path(path, environment.STATE_PATH.name, root))


def sync_resources(env: Mapping[str, str], root: Path | None = None) -> dict[str, Any]:
    """The sync resources `env` describes (relative paths in `root`, else the project folder). A secret
    is bound through `dg.EnvVar` and read when a run needs it; so is a variable unset now."""
    warehouse = str(project_path(str(environment.WAREHOUSE_PATH.read(env)), environment.WAREHOUSE_PATH.name, root))
    given = environment.OUTCOMES_PATH.read(env)
    outcomes = str(project_path(given, environment.OUTCOMES_PATH.name, root)) if given else warehouse
    return dict(
        _bound(
            warehouse,
            outcomes,
            state_file(env, root),
            environment.ACCESS_TOKEN.is_set(env),
            environment.PROJECT_GID.is_set(env),
            environment.STATE_URL.is_set(env),
            tuple(sorted(connection_settings_from(env).items())),
        )
    )


@functools.cache
def _bound(
    warehouse: str, outcomes: str, state: str, token: bool, project: bool, state_url: bool, connection: tuple[tuple[str, Any], ...]
) -> tuple[tuple[str, Any], ...]:
    """One set of resource objects per distinct settings (see the module's doc)."""
    return (
        (
            "asana",
            AsanaResource(
                access_token=dg.EnvVar(environment.ACCESS_TOKEN.name) if token else None,
                project_gid=dg.EnvVar(environment.PROJECT_GID.name) if project else None,
                **dict(connection),
            ),
        ),
        ("warehouse", DuckDBResource(database=warehouse, connection_config={"access_mode": "READ_ONLY"})),
        (
            "sync_state",
            SyncStateResource(
                database=state, url=dg.EnvVar(environment.STATE_URL.name) if state_url else None, warehouse=warehouse
            ),
        ),
        (SYNC_IO_MANAGER, SyncIOManager()),
        (WAREHOUSE_IO_MANAGER, WarehouseIOManager(database=outcomes)),
    )


def default_sync_resources(project_root: Path | None = None) -> dict[str, Any]:
    """What `AsanaSyncComponent` binds: the sync resources of this process's environment."""
    return sync_resources(os.environ, project_root)


def without_sync_resources(defs: dg.Definitions) -> dg.Definitions:
    """`defs` without the sync resources its syncs brought, to bind others in their place."""
    return replace(defs, resources={key: value for key, value in (defs.resources or {}).items() if key not in SYNC_RESOURCE_KEYS})


def with_sync_resources(defs: dg.Definitions, **resources: Any) -> dg.Definitions:
    """`defs` (a project's, its syncs loaded) with `resources` in place of the defaults its syncs
    brought, e.g. `with_sync_resources(defs, warehouse=DuckDBResource(database="/srv/warehouse.duckdb"))`."""
    unknown = sorted(set(resources) - set(SYNC_RESOURCE_KEYS))
    if unknown:
        raise ValueError(f"not a sync resource: {', '.join(unknown)} (they are: {', '.join(SYNC_RESOURCE_KEYS)})")
    return replace(defs, resources={**(defs.resources or {}), **resources})
