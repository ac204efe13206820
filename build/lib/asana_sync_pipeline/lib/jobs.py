"""A sync's jobs: the sync itself, its dry run, and a one-click connection test for the Dagster UI."""

from typing import TYPE_CHECKING, Any

import dagster as dg

from ..engine import AsanaSyncError, test_connection
from .config import default_run_config
from .io_managers import DRY_RUN_TAG
from .resources import AsanaResource
from .sync_spec import SyncSpec

SYNC_TAG = "asana_sync/sync"
"""Tag of every sync job (and so of its runs): the sync's name."""

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def _run_config(spec: SyncSpec) -> dict[str, Any]:
    """The sync's settings (and query) as the run config the Launchpad opens with."""
    return default_run_config(
        spec.op_name("warehouse_model") if spec.model_query is not None else None,
        spec.op_name("asana_task_payloads"),
        spec.sync_settings(),
        spec.model_query,
    )


def build_sync_job(spec: SyncSpec) -> "UnresolvedAssetJobDefinition":
    """Every asset of the sync (an upstream model asset is loaded, not materialized).

    In process: the three steps run one after the other anyway, and a step process
    costs seconds to start; waiting for the token's pool (`SyncSpec.pool`) in an already running
    process lets the next sync write as soon as the previous one is done."""
    return dg.define_asset_job(
        spec.job_name,
        selection=dg.AssetSelection.assets(*spec.own_asset_keys),
        description=f"Sync {spec.name!r}: read the model, plan each row, and write the tasks to Asana.",
        tags={SYNC_TAG: spec.name},
        executor_def=dg.in_process_executor,
        config=_run_config(spec),
    )


def build_dry_run_job(spec: SyncSpec) -> "UnresolvedAssetJobDefinition":
    """The model and the plan, never `asana_tasks`: what a run would create, update (each field,
    before and after), remove or reject, and what people changed in Asana; writes nothing, and
    keeps its outputs in memory (`io.SyncIOManager`)."""
    selection = dg.AssetSelection.assets(*spec.own_asset_keys[:-1])
    return dg.define_asset_job(
        spec.dry_run_job_name,
        selection=selection,
        description=f"Dry run of sync {spec.name!r}: what asana_tasks would do, field by field; writes nothing.",
        tags={SYNC_TAG: spec.name, DRY_RUN_TAG: "true"},
        executor_def=dg.in_process_executor,
        config=_run_config(spec),
    )


def build_connection_test_job(spec: SyncSpec) -> dg.JobDefinition:
    """Checks the token, the URL, the project GID, access to the project and the sync key field."""

    @dg.op(name=f"{spec.connection_test_name}_op", description=f"Tests the connection of sync {spec.name!r}; writes nothing.")
    def test_asana_connection(context: dg.OpExecutionContext, asana: AsanaResource) -> dg.Output[None]:
        try:
            info = test_connection(
                asana.settings_for(spec), asana.scope_for(spec), sync_key_field=spec.sync_settings().sync_key_field
            )
        except AsanaSyncError as exc:
            raise dg.Failure(description=str(exc)) from None
        context.log.info(f"Connected as {info.user_name} to project {info.project_name!r} ({info.project_gid})")
        return dg.Output(
            None,
            metadata={
                "user": info.user_name,
                "project": info.project_name,
                "project_gid": info.project_gid,
                "workspace_gid": info.workspace_gid,
            },
        )

    @dg.job(
        name=spec.connection_test_name,
        description="Test connection: verifies the Asana token, project GID and project access; writes nothing.",
    )
    def connection_test() -> None:
        test_asana_connection()

    return connection_test
