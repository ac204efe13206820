"""Jobs: the sync itself, and a one-click connection test for the Dagster UI."""

import dagster as dg

from .assets import asana_task_payloads, asana_tasks, warehouse_model
from .engine.errors import AsanaSyncError
from .engine.runner import test_connection
from .resources import AsanaResource

asana_sync_job = dg.define_asset_job(
    "asana_sync_job",
    selection=[warehouse_model, asana_task_payloads, asana_tasks],
    description="Read the warehouse model, plan each row, and write the tasks to Asana.",
)


@dg.op(description="Checks the token (/users/me), the project GID and access to the project.")
def test_asana_connection(context: dg.OpExecutionContext, asana: AsanaResource) -> dg.Output[None]:
    try:
        info = test_connection(asana.settings(), asana.project_gid)
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


@dg.job(description="Test connection: verifies the Asana token, project GID and project access; writes nothing.")
def asana_connection_test() -> None:
    test_asana_connection()
