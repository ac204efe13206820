"""What became of a sync's work, back in the warehouse: three assets below `asana_tasks`.

    asana_tasks ──► asana_task_outcomes   one row per row key the sync gave a task, Asana's values now
                ├─► asana_task_history    each change of a task's field: who, when, from what to what
                └─► asana_sync_log        each action of every run, with its outcome

One step makes all three (a `multi_asset`), through the `warehouse_io_manager` into the warehouse
(`asana_sync.*` for the default sync, `N.*` for a sync named N). In the sync's job they follow its
writes and are made from what the run read and wrote, with no request of their own; in its
outcomes job (`asana_outcomes_job`, `N_asana_outcomes_job`) they first read what changed in Asana
since they last did, under the sync's lock, writing nothing to Asana.
"""


import time
from collections.abc import Iterator

import dagster as dg

from ..engine import AsanaSyncError, counted, outcome_tables, refresh_outcomes_now
from .assets import failure
from .io_managers import WAREHOUSE_IO_MANAGER
from .resources import AsanaResource, SyncStateResource
from .sync_spec import SyncSpec

DESCRIPTIONS = {
    "asana_task_outcomes": (
        "What became of each task the sync made: one row per row key, with Asana's current values in the model's "
        "terms under the model's column names, its status (live, released, removed, deleted_in_asana, moved_out), "
        "when it was completed and by whom."
    ),
    "asana_task_history": "Each change of a task's captured fields the sync saw: old and new value, who (the sync: sync), when.",
    "asana_sync_log": (
        "Each action of every run (create, update with each field before and after, complete, ..., reject), kept sync_log_days."
    ),
}


def build_outcome_assets(spec: SyncSpec) -> dg.AssetsDefinition:
    """The three outcome assets of one sync, made by one step."""
    tasks_key = spec.asset_key("asana_tasks")
    keys = {role: spec.asset_key(role) for role in spec.outcome_roles}

    @dg.multi_asset(
        name="__".join([*spec.key_prefix, "asana_outcomes"]),
        outs={
            key.to_python_identifier(): dg.AssetOut(
                key=key, group_name=spec.group_name, kinds={"duckdb", "asana"}, description=DESCRIPTIONS[role],
                metadata={"schema": spec.outcomes_schema}, io_manager_key=WAREHOUSE_IO_MANAGER,
            )  # fmt: skip
            for role, key in keys.items()
        },
        deps=[tasks_key],
        pool=spec.pool,
        can_subset=False,
    )
    def asana_outcomes(
        context: dg.AssetExecutionContext, asana: AsanaResource, sync_state: SyncStateResource
    ) -> Iterator[dg.Output]:
        started = time.monotonic()
        store = sync_state.store(context.log.info)
        settings = spec.sync_settings()
        try:
            scope = asana.scope_for(spec)
            wrote = _in_run(context, tasks_key)
            reading = None
            if not wrote:
                if asana.token_for(spec) is None:
                    context.log.info(f"{spec.access_token_env} is not set: the outcomes are as the state last recorded them")
                else:
                    reading = refresh_outcomes_now(asana.settings_for(spec), scope, store, run_id=context.run_id, log=context.log.info)
            tables = outcome_tables(store, scope, sync_log_days=settings.sync_log_days)
        except AsanaSyncError as exc:
            raise failure(exc) from None
        context.log.info(
            f"Outcomes of sync {spec.name!r}: {counted(len(tables.outcomes), 'task')}, {counted(len(tables.history), 'change')} "
            f"in the history, {counted(len(tables.sync_log), 'action')} in the sync log"
        )
        read = {"requests": reading.requests, "events": reading.events, "tasks_read": reading.tasks_read} if reading else {}
        statuses = tables.outcomes["sync_status"].value_counts().to_dict() if len(tables.outcomes) else {}
        yield dg.Output(
            tables.outcomes,
            output_name=keys["asana_task_outcomes"].to_python_identifier(),
            metadata={
                "dagster/row_count": len(tables.outcomes),
                "completed": int(tables.outcomes["completed"].fillna(False).sum()) if len(tables.outcomes) else 0,
                **{f"status_{status}": int(count) for status, count in statuses.items()},
                "refreshed_from": "this run's reads and writes" if wrote else "Asana, read now" if reading else "the state",
                **read,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        yield dg.Output(
            tables.history,
            output_name=keys["asana_task_history"].to_python_identifier(),
            metadata={"dagster/row_count": len(tables.history)},
        )
        yield dg.Output(
            tables.sync_log,
            output_name=keys["asana_sync_log"].to_python_identifier(),
            metadata={"dagster/row_count": len(tables.sync_log), "sync_log_days": settings.sync_log_days},
        )

    return asana_outcomes


def _in_run(context: dg.AssetExecutionContext, key: dg.AssetKey) -> bool:
    """Whether this run also materializes `key` (the sync's job) or not (the outcomes job, or the outcomes alone)."""
    selected = context.run.asset_selection
    return key in selected if selected else key in context.job_def.asset_layer.selected_asset_keys

