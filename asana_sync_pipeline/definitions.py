"""The code location: the default sync (configured from the environment), every sync
declared in `defs/` (AsanaSyncComponent instances), the sample warehouse's dbt project (dagster-dbt's
component, `defs/sample_warehouse`), and the resources they share."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster.components.core.component_tree import ComponentTree

from .engine import StateStore, environment, open_state_store
from .lib.bindings import connection_settings_from, state_file, sync_resources, without_sync_resources
from .lib.executor import sync_executor
from .lib.factory import build_sync_definitions
from .lib.io_managers import SYNC_IO_MANAGER
from .lib.sync_spec import AlertSettings, SyncSpec
from .lib.upstream import check_model_upstreams, query_upstreams, table_assets

__all__ = ["build_definitions", "build_resources", "connection_settings_from", "defs", "state_store_from", "sync_specs"]

DEFS_ROOT = Path(__file__).parent


def build_resources(env: Mapping[str, str]) -> dict[str, object]:
    """The resources every sync shares (`lib.bindings`), and `io_manager`: the sync's own IO manager,
    which hands DataFrames between steps of one run in memory. A secret bound here is read through
    `dg.EnvVar` when the run needs it; a variable unset at load is read then too (see AsanaResource)."""
    resources = sync_resources(env)
    return {**resources, "io_manager": resources[SYNC_IO_MANAGER]}


def state_store_from(env: Mapping[str, str]) -> StateStore:
    """The sync state the environment names, opened outside a Dagster run (the command line)."""
    return open_state_store(url=environment.STATE_URL.read(env), database=state_file(env))


def default_sync_spec(env: Mapping[str, str], upstream: dg.Definitions | None = None) -> SyncSpec:
    """The default sync; its `warehouse_model` sits below the table assets of `upstream` whose tables
    its query reads (in the sample: the dbt model `asana_task_model`)."""
    read_files_in = tuple(folder for folder in (environment.READ_FILES_IN.read(env) or "").split(os.pathsep) if folder.strip())
    spec = SyncSpec(
        schedule=environment.SYNC_CRON.read(env), sensor=True, alerts=AlertSettings(), read_files_in=read_files_in,
        outcomes_schedule=environment.OUTCOMES_CRON.read(env),
    )  # fmt: skip
    deps = query_upstreams(spec.model_query or "", table_assets(upstream)) if upstream is not None else ()
    return dataclasses.replace(spec, model_deps=deps) if deps else spec


@functools.cache
def syncs_in_defs_folder() -> dg.Definitions:
    """The syncs declared in YAML under defs/ and the sample's dbt project, read once per process
    (the dbt project's manifest made first when it is missing or stale)."""
    from .components.asana_sync.load_errors import load_yaml_syncs
    from .sample.warehouse import prepare_sample_project

    prepare_sample_project()
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
    from .components.asana_sync.component import AsanaSyncComponent

    env = os.environ if env is None else env
    folder = without_sync_resources(syncs_in_defs_folder()) if include_defs_folder else dg.Definitions()
    default = default_sync_spec(env, upstream=folder)
    merged = dg.Definitions.merge(
        build_sync_definitions(default), folder, dg.Definitions(resources=build_resources(env), executor=sync_executor)
    )
    declared = folder.component_tree.get_all_components(AsanaSyncComponent) if folder.component_tree else []
    check_model_upstreams(merged, [default, *(component.spec() for component in declared)])
    return merged


@dg.definitions
def defs() -> dg.Definitions:
    """Read the environment when the code location loads, not when this module is imported."""
    return build_definitions()
