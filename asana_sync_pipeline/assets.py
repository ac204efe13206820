"""The three assets, in lineage order: warehouse_model -> asana_task_payloads -> asana_tasks.

Thin glue: the field rules, planning, the client and the state store do the work.
Materializing the first two alone is a dry run: it shows what would happen and
writes nothing.
"""


import time

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from .engine.connection import check_project_gid
from .engine.errors import AsanaSyncError, SyncConfigError
from .engine.planning import build_plan
from .engine.runner import run_sync
from .engine.settings import SYNC_MODES, SyncSettings
from .engine.planning import CREATE, REJECT, UPDATE, Plan, api_payload
from .resources import AsanaResource, SyncStateResource
from .engine.state import utc_now
from .engine.warehouse import read_model

GROUP = "asana_sync"
PREVIEW_ROWS = 10


class WarehouseModelConfig(dg.Config):
    query: str = Field(
        default="SELECT * FROM asana_task_model",
        description="SQL run against the warehouse DuckDB; one row per task.",
    )


class SyncConfig(dg.Config):
    sync_mode: str = Field(default="upsert", description=f"One of {', '.join(SYNC_MODES)}.")
    primary_key: str = Field(default="id", description="The model column that identifies a row across runs.")
    field_mapping: dict[str, str] = Field(
        default={},
        description="Warehouse column -> Asana field. Columns named like Asana fields map to themselves.",
    )
    sync_key_field: str | None = Field(
        default=None,
        description="GID of a text custom field on the project that receives each row's primary key: "
        "makes recovery after a crash or timeout exact (recommended).",
    )

    def settings(self) -> SyncSettings:
        return SyncSettings(
            sync_mode=self.sync_mode,
            primary_key=self.primary_key,
            field_mapping=dict(self.field_mapping),
            sync_key_field=self.sync_key_field or None,
        )


def _markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_"
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")[:200]

    body = ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


@dg.asset(group_name=GROUP, kinds={"duckdb"})
def warehouse_model(context: dg.AssetExecutionContext, config: WarehouseModelConfig, warehouse: DuckDBResource) -> pd.DataFrame:
    """The warehouse model to sync: one row per task, read with the configured query
    (repeated text as categoricals, see `warehouse.read_model`)."""
    try:
        with warehouse.get_connection() as connection:
            model = read_model(connection, config.query)
    except duckdb.IOException as exc:
        raise dg.Failure(
            description=f"Cannot open the warehouse at {warehouse.database}: {exc}. Set WAREHOUSE_DUCKDB_PATH, or "
            "build the sample warehouse with `python -m asana_sync_pipeline.sample_warehouse`."
        ) from None
    except duckdb.Error as exc:
        raise dg.Failure(description=f"The model query failed: {exc}\nQuery: {config.query}") from None
    context.add_output_metadata(
        {
            "dagster/row_count": len(model),
            "columns": ", ".join(f"{name} ({dtype})" for name, dtype in model.dtypes.items()),
            "preview": dg.MetadataValue.md(_markdown_table(model.head(PREVIEW_ROWS))),
        }
    )
    return model


@dg.asset(group_name=GROUP, kinds={"python"})
def asana_task_payloads(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    warehouse_model: pd.DataFrame,
    asana: AsanaResource,
    sync_state: SyncStateResource,
) -> Plan:
    """Validated, normalized task payloads and the operation planned for each row; writes nothing."""
    try:
        settings = config.settings()
        project_gid = check_project_gid(asana.project_gid)
        synced = sync_state.store().synced(project_gid)
        plan = build_plan(warehouse_model, settings, synced)
    except SyncConfigError as exc:
        raise dg.Failure(description=f"Configuration error: {exc}") from None
    for note in plan.notes:
        context.log.info(note)
    counts = plan.counts()
    context.log.info(
        f"Planned {len(plan.rows):,} rows: {counts[CREATE]:,} to create, {counts[UPDATE]:,} to update, "
        f"{counts['unchanged']:,} unchanged, {counts[REJECT]:,} rejected"
    )
    context.add_output_metadata(
        {
            "dagster/row_count": len(plan.rows),
            "to_create": counts[CREATE],
            "to_update": counts[UPDATE],
            "unchanged": counts["unchanged"],
            "rejected": counts[REJECT],
            "sync_mode": settings.sync_mode.value,
            "field_mapping": dg.MetadataValue.json(plan.mapping.fields),
            "ignored_columns": ", ".join(plan.mapping.ignored) or "none",
            "planned_payloads": dg.MetadataValue.md(_payload_preview(plan, project_gid)),
            "rejections": dg.MetadataValue.md(_markdown_table(plan.rejections.head(50))),
        }
    )
    return plan


def _payload_preview(plan: Plan, project_gid: str) -> str:
    rows = plan.rows
    lines = []
    for position in rows.index[rows["operation"].isin([CREATE, UPDATE])][:PREVIEW_ROWS]:
        operation = rows["operation"].iat[position]
        payload = api_payload(
            plan.payload_fields(position),
            project_gid=project_gid,
            sync_key_field=plan.settings.sync_key_field,
            for_update=operation == UPDATE,
        )
        target = "POST /tasks" if operation == CREATE else f"PUT /tasks/{rows['task_gid'].iat[position]}"
        lines.append(f"- `{rows['primary_key'].iat[position]}` → {target}: `{payload}`")
    return "\n".join(lines) or "_nothing to write_"


@dg.asset(group_name=GROUP, kinds={"asana"}, pool="asana_sync")
def asana_tasks(
    context: dg.AssetExecutionContext,
    asana_task_payloads: Plan,
    asana: AsanaResource,
    sync_state: SyncStateResource,
) -> dg.MaterializeResult:
    """Tasks in Asana: creates and updates the plan's rows, records task GIDs in the sync state."""
    plan = asana_task_payloads
    store = sync_state.store()
    started_at = utc_now()
    started = time.monotonic()
    try:
        info, report = run_sync(
            plan, asana=asana.settings(), project_gid=asana.project_gid, store=store, run_id=context.run_id, log=context.log.info
        )
    except AsanaSyncError as exc:
        raise dg.Failure(description=str(exc)) from None
    store.record_run(
        report.run_row(
            run_id=context.run_id,
            project_gid=info.project_gid,
            sync_mode=plan.settings.sync_mode.value,
            started_at=started_at,
            finished_at=utc_now(),
        )
    )
    context.log.info(
        f"Synced to {info.project_name!r}: {report.created:,} created, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.rejected:,} rejected in {report.seconds:,.1f} s"
    )
    links = [f"- https://app.asana.com/0/{info.project_gid}/{gid}" for gid in report.created_gids[:PREVIEW_ROWS]]
    rejections = pd.DataFrame(report.rejections[:50], columns=["primary_key", "field", "reason"])
    return dg.MaterializeResult(
        metadata={
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
            "adopted_after_interruption": report.adopted,
            "recreated_after_deletion": report.recreated,
            "requests": report.requests,
            "write_requests": report.write_requests,
            "duration_seconds": round(time.monotonic() - started, 3),
            "project": dg.MetadataValue.url(info.project_url or f"https://app.asana.com/0/{info.project_gid}"),
            "created_tasks": dg.MetadataValue.md("\n".join(links) or "_none_"),
            "rejections": dg.MetadataValue.md(_markdown_table(rejections)),
        }
    )
