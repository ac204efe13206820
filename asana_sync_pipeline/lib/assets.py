"""A sync's three assets, in lineage order: warehouse_model -> asana_task_payloads -> asana_tasks.

Built by `build_sync_assets(spec, bodies)` for every sync: thin glue around the engine
(`read_model`, `plan_sync`, `run_sync`). What each asset does is a method of `SyncAssetBodies`
(`get_asset_spec`, `read_model`, `plan`, `execute`), which `AsanaSyncComponent` inherits: a team
changes one step by overriding one method, as with dagster-sling's `execute`. Materializing the
first two alone is a dry run: it shows what would happen and writes nothing. The asset checks are
computed by the assets themselves, from the plan and the run's report, so they judge exactly what
this run planned and did; the guards' checks show `engine.planning.read_guards`, the readings the
run itself refuses to write on.
"""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

from ..engine import (
    EMPTY_KEY,
    NAME_REQUIRED,
    PLAN_FORMAT,
    REPEATED_KEY,
    AsanaSyncError,
    Guard,
    GuardError,
    Operation,
    Plan,
    Planned,
    StateStore,
    SyncConfigError,
    SyncSettings,
    check_warehouse_file,
    counted,
    model_connection,
    read_guards,
    read_model,
    resolve_table,
    run_sync,
)
from .beyond_metadata import plan_extras_metadata, run_extras_metadata
from .config import ModelQueryConfig, SyncConfig
from .io_managers import SYNC_IO_MANAGER
from .metadata import PREVIEW_ROWS, differing_table, markdown_table, plan_metadata, sync_metadata
from .resources import AsanaResource, SyncStateResource
from .sync_spec import SyncSpec
from .upstream import MODEL_OF, TableModel

PRIMARY_KEY_CHECK = "primary_key_unique_and_not_null"
NAMES_CHECK = "names_present_for_new_rows"
REMOVALS_CHECK = "removals_within_limit"
CLEARS_CHECK = "clears_within_limit"
REPLACEMENTS_CHECK = "replacements_within_limit"
REJECTION_RATE_CHECK = "rejection_rate_below_threshold"
MATCHES_MODEL_CHECK = "asana_matches_model"


COUNTED_BEFORE_ASANA = "before reading what people did in Asana: asana_tasks reads it under its lock and plans again"
"""What the sync job's payloads say of their counts: the run that writes reads Asana itself, under its lock."""
STALE_PLAN = (
    "The plan this step read was stored by another version of asana-sync-pipeline (a run re-executed after an "
    "upgrade reads the plan its first attempt stored), so nothing was written. Plan again: run the sync's job, or "
    "materialize {payloads} together with this asset."
)


def failure(exc: AsanaSyncError) -> dg.Failure:
    """The step's failure, saying what happened; `error` tells the alert sensor a guard from the rest."""
    return dg.Failure(description=str(exc), metadata={"error": "GuardError" if isinstance(exc, GuardError) else type(exc).__name__})


class SyncAssetBodies:
    """What each of a sync's assets does, one method each. `AsanaSyncComponent` inherits these:
    override one in a subclass to change that step of every sync the subclass declares (call
    `super()` for what it does today). The default sync uses them as they are."""

    def get_asset_spec(self, asset_spec: dg.AssetSpec, role: str) -> dg.AssetSpec:
        """The spec of one of the sync's assets (`role`: `warehouse_model`, `asana_task_payloads` or
        `asana_tasks`), to add owners, tags, automation and the like; its key must stay."""
        return asset_spec

    def read_model(
        self, context: dg.AssetExecutionContext, spec: SyncSpec, query: str, warehouse: DuckDBResource
    ) -> pd.DataFrame:
        """The body of `warehouse_model`: the rows of `query`, read from the warehouse on a connection
        that reads nothing else (`engine.model.access`)."""
        check_warehouse_file(warehouse.database)
        with model_connection(
            warehouse.database, read_files_in=spec.read_files_in, config=warehouse.connection_config, log=context.log.info
        ) as connection:
            return read_model(connection, query)

    def read_table(
        self, context: dg.AssetExecutionContext, spec: SyncSpec, table: str, warehouse: DuckDBResource
    ) -> pd.DataFrame:
        """The model when it is a table of the warehouse (`model: {table: …}`, or the table an upstream
        asset materializes, a dbt model say): read whole, on the same connection as a query
        (`engine.model.access`); a table that does not exist fails, naming those that do."""
        check_warehouse_file(warehouse.database)
        with model_connection(warehouse.database, config=warehouse.connection_config, log=context.log.info) as connection:
            return read_model(connection, f"SELECT * FROM {resolve_table(connection, table)}")

    def plan(
        self,
        context: dg.AssetExecutionContext,
        spec: SyncSpec,
        model: pd.DataFrame,
        settings: SyncSettings,
        asana: AsanaResource,
        store: StateStore,
        *,
        see_people: bool,
    ) -> Planned:
        """The body of `asana_task_payloads`: each row validated, normalized and given its operation;
        writes nothing (`see_people`: also read what people did in Asana, for a dry run to show in the
        preview; the plan handed on to `asana_tasks` never holds it)."""
        return asana.plan(spec, model, settings, store, see_people=see_people)

    def execute(
        self, context: dg.AssetExecutionContext, spec: SyncSpec, plan: Plan, asana: AsanaResource, store: StateStore
    ) -> dg.MaterializeResult:
        """The body of `asana_tasks`: carry out `plan` in Asana (`engine.run_sync`: connection test, lock,
        what people did, guards, writes) and record it; its metadata and checks say what was done."""
        started = time.monotonic()
        info, report = run_sync(
            plan, asana=asana.settings_for(spec), scope=asana.scope_for(spec), store=store, run_id=context.run_id,
            log=context.log.info,
        )  # fmt: skip
        context.log.info(f"Synced to {info.project_name!r}: {report.summary()}")
        return dg.MaterializeResult(
            metadata={**sync_metadata(report, info, time.monotonic() - started), **run_extras_metadata(report)},
            check_results=_run_checks(plan, report, spec),
        )


def build_sync_assets(spec: SyncSpec, bodies: SyncAssetBodies | None = None) -> list[dg.AssetsDefinition]:
    """The assets (with their checks) of one sync; `bodies` does each asset's work (default: as shipped)."""
    bodies = bodies or SyncAssetBodies()
    model_key = dg.AssetKey(spec.model_asset_key) if spec.model_asset_key else spec.asset_key("warehouse_model")
    payloads_key, tasks_key = spec.asset_key("asana_task_payloads"), spec.asset_key("asana_tasks")
    assets = []

    if spec.model_query is not None:
        default_query = spec.model_query

        @dg.asset(key=model_key, group_name=spec.group_name, kinds={"duckdb"}, deps=spec.upstream_keys,
                  io_manager_key=SYNC_IO_MANAGER, description=(
            "The warehouse model to sync: one row per task, read with the configured query "
            "(repeated text as categoricals)."
        ))
        def warehouse_model(
            context: dg.AssetExecutionContext, config: ModelQueryConfig, warehouse: DuckDBResource
        ) -> pd.DataFrame:
            query = config.query or default_query
            try:
                model = bodies.read_model(context, spec, query, warehouse)
            except AsanaSyncError as exc:
                raise failure(exc) from None
            except duckdb.Error as exc:
                reason = str(exc).split("\nLINE ")[0].strip()  # its LINE and caret point into the statement around the query
                raise dg.Failure(description=f"The model query failed: {reason}\nQuery: {query}") from None
            context.add_output_metadata(
                {
                    "dagster/row_count": len(model),
                    "columns": ", ".join(f"{name} ({dtype})" for name, dtype in model.dtypes.items()),
                    "preview": dg.MetadataValue.md(markdown_table(model, PREVIEW_ROWS)),
                }
            )
            return model

        assets.append(warehouse_model)

    payloads_attributes: dict[str, Any] = dict(
        key=payloads_key,
        group_name=spec.group_name,
        kinds={"python"},
        description="Validated, normalized task payloads and the operation planned for each row; writes nothing.",
        check_specs=[dg.AssetCheckSpec(name, asset=payloads_key, description=text) for name, text in PLAN_CHECKS.items()],
        io_manager_key=SYNC_IO_MANAGER,
    )

    def plan_step(
        context: dg.AssetExecutionContext,
        config: SyncConfig,
        model: Any,
        asana: AsanaResource,
        sync_state: SyncStateResource,
        warehouse: DuckDBResource,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        try:
            model = _model_frame(context, spec, model, warehouse, bodies)
            settings = spec.sync_settings(config.given_settings())
            scope = asana.scope_for(spec)
            online = asana.token_for(spec) is not None
            writes_next = tasks_key in _run_assets(context)
            store = sync_state.store(context.log.info)
            planned = bodies.plan(context, spec, model, settings, asana, store, see_people=not writes_next)
        except SyncConfigError as exc:
            raise dg.Failure(description=f"Configuration error: {exc}") from None
        except AsanaSyncError as exc:
            raise failure(exc) from None
        plan = planned.preview
        notes = list(plan.notes)
        if not online:
            notes.append(
                f"{spec.access_token_env} is not set: planned offline. The token, the project and its fields are "
                "checked when asana_tasks runs."
            )
        for note in notes:
            context.log.info(note)
        counts = plan.counts()
        before_asana = writes_next and not plan.people.read
        context.log.info(
            f"Planned {counted(len(plan), 'row')}: {counts[Operation.CREATE]:,} to create, {counts[Operation.UPDATE]:,} to update, "
            f"{counts[Operation.UNCHANGED]:,} unchanged, {counts[Operation.REJECT]:,} rejected"
            + (f" ({COUNTED_BEFORE_ASANA})" if before_asana else "")
        )
        # What people did is shown, not handed on: asana_tasks reads it again under its lock.
        metadata = {**plan_metadata(plan, scope.project_gid, notes, counts, rebuild=planned.rebuild), **plan_extras_metadata(plan)}
        if before_asana:
            metadata["counts_note"] = dg.MetadataValue.md(
                f"_Counted {COUNTED_BEFORE_ASANA}: it may create or update more than these (a task a person deleted is "
                "created again; an edit is sent back under on_asana_edit: overwrite), and its own metadata says what it did._"
            )
        yield dg.Output(planned.plan, metadata=metadata)
        yield from _plan_checks(plan, payloads_key)

    if spec.model_table is not None:
        table = TableModel(table=spec.model_table, asset="")

        @dg.asset(deps=spec.upstream_keys, **payloads_attributes)
        def asana_task_payloads(
            context: dg.AssetExecutionContext,
            config: SyncConfig,
            asana: AsanaResource,
            sync_state: SyncStateResource,
            warehouse: DuckDBResource,
        ) -> Iterator[dg.Output | dg.AssetCheckResult]:
            yield from plan_step(context, config, table, asana, sync_state, warehouse)

    else:
        model_in = (
            dg.AssetIn(key=model_key, input_manager_key=SYNC_IO_MANAGER, metadata={MODEL_OF: spec.name})
            if spec.model_asset_key
            else dg.AssetIn(key=model_key)
        )

        @dg.asset(ins={"model": model_in}, **payloads_attributes)
        def asana_task_payloads(  # one of two bodies, by the model's kind
            context: dg.AssetExecutionContext,
            config: SyncConfig,
            model: Any,
            asana: AsanaResource,
            sync_state: SyncStateResource,
            warehouse: DuckDBResource,
        ) -> Iterator[dg.Output | dg.AssetCheckResult]:
            yield from plan_step(context, config, model, asana, sync_state, warehouse)

    assets.append(asana_task_payloads)

    @dg.asset(
        key=tasks_key,
        ins={"plan": dg.AssetIn(key=payloads_key)},
        group_name=spec.group_name,
        kinds={"asana"},
        pool=spec.pool,
        io_manager_key=SYNC_IO_MANAGER,
        description="Tasks in Asana: creates and updates the plan's rows, records task GIDs in the sync state.",
        check_specs=[dg.AssetCheckSpec(name, asset=tasks_key, description=text) for name, text in RUN_CHECKS.items()],
    )
    def asana_tasks(
        context: dg.AssetExecutionContext, plan: Plan, asana: AsanaResource, sync_state: SyncStateResource
    ) -> dg.MaterializeResult:
        if getattr(plan, "plan_format", None) != PLAN_FORMAT:
            raise dg.Failure(description=STALE_PLAN.format(payloads=payloads_key.to_user_string()))
        try:
            return bodies.execute(context, spec, plan, asana, sync_state.store(context.log.info))
        except AsanaSyncError as exc:
            raise failure(exc) from None

    assets.append(asana_tasks)
    return [
        asset.map_asset_specs(lambda asset_spec: bodies.get_asset_spec(asset_spec, asset_spec.key.path[-1]))
        for asset in assets
    ]


PLAN_CHECKS = {
    PRIMARY_KEY_CHECK: "The primary key is present and unique; rows failing it are rejected (the others still sync).",
    NAMES_CHECK: "Rows that will create a task have a name; those without one are rejected.",
    REMOVALS_CHECK: (
        "The share of the sync's live tasks the plan would complete or delete stays within max_removed_fraction "
        "(asana_tasks refuses to write otherwise)."
    ),
    CLEARS_CHECK: (
        "No field would be cleared on more than max_cleared_fraction of the sync's live tasks (a column dropped or "
        "turned NULL upstream; asana_tasks refuses to write otherwise)."
    ),
    REPLACEMENTS_CHECK: (
        "No more than max_replaced_fraction of the sync's live tasks lose their row while as many new rows appear "
        "(the primary key changed format; asana_tasks refuses to write otherwise)."
    ),
}
GUARD_CHECKS = {Guard.REMOVED: REMOVALS_CHECK, Guard.CLEARED: CLEARS_CHECK, Guard.REPLACED: REPLACEMENTS_CHECK}
RUN_CHECKS = {
    MATCHES_MODEL_CHECK: (
        "Warns when tasks' synced fields still differ from the model after the run: what people changed in Asana, "
        "kept (on_asana_edit: keep) or not sent back."
    ),
    REJECTION_RATE_CHECK: (
        "Warns when more than max_rejection_rate of the model's rows are rejected (they wait, with their reasons, "
        "in the sync state's rejections)."
    ),
}


def _run_checks(plan: Plan, report: Any, spec: SyncSpec) -> list[dg.AssetCheckResult]:
    """The run's view: rejections against max_rejection_rate, tasks still differing from the model."""
    tasks_key = spec.asset_key("asana_tasks")
    rows = report.created + report.updated + report.unchanged + report.rejected
    rate = report.rejected / rows if rows else 0.0
    rejections = dg.AssetCheckResult(
        check_name=REJECTION_RATE_CHECK,
        asset_key=tasks_key,
        passed=rate <= plan.settings.max_rejection_rate,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{report.rejected:,} of {counted(rows, 'row')} ({rate:.1%}) were rejected; the limit is "
            f"{plan.settings.max_rejection_rate:.1%} (max_rejection_rate). The rejections table lists each row's reason."
        ),
        metadata={
            "rejection_rate": round(rate, 4),
            "rejected": report.rejected,
            "rows": rows,
            "max_rejection_rate": plan.settings.max_rejection_rate,
        },
    )
    matches = dg.AssetCheckResult(
        check_name=MATCHES_MODEL_CHECK,
        asset_key=tasks_key,
        passed=report.unmatched_after_run == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{counted(report.unmatched_after_run, 'task')} with synced fields a person changed that still differ from the "
            f"model (on_asana_edit: {plan.settings.on_asana_edit.value}); the differing table lists them"
            if report.unmatched_after_run
            else None
        ),
        metadata={
            "tasks_differing": report.unmatched_after_run,
            "edited_in_asana": report.edited_in_asana,
            "differing": dg.MetadataValue.md(differing_table(report.differing)),
        },
    )
    return [rejections, matches]


def _model_frame(
    context: dg.AssetExecutionContext, spec: SyncSpec, model: Any, warehouse: DuckDBResource, bodies: SyncAssetBodies
) -> pd.DataFrame:
    """The model's rows: as given, or read from the table the model is (a `TableModel`)."""
    if isinstance(model, TableModel):
        source = f"the table {model.table}" + (f" of asset {model.asset}" if model.asset else "")
        try:
            return bodies.read_table(context, spec, model.table, warehouse)
        except SyncConfigError as exc:
            raise SyncConfigError(f"sync {spec.name!r}: its model is {source}: {exc}") from None
        except duckdb.Error as exc:
            raise SyncConfigError(f"sync {spec.name!r}: reading its model, {source}, failed: {str(exc).splitlines()[0]}") from None
    if not isinstance(model, pd.DataFrame):
        raise SyncConfigError(
            f"sync {spec.name!r}: its model, {spec.model_label}, holds a {type(model).__name__}, not a table or a pandas "
            f"DataFrame: give the asset dagster/table_name metadata, or name its table (model: {{table: schema.name, "
            f"deps: [{spec.model_asset}]}})"
        )
    return model


def _run_assets(context: dg.AssetExecutionContext) -> set[dg.AssetKey]:
    """The assets this run materializes (a dry run: the model and the payloads alone)."""
    selected = context.run.asset_selection
    return set(selected) if selected else set(context.job_def.asset_layer.asset_graph.get_all_asset_keys())


def _plan_checks(plan: Plan, asset_key: dg.AssetKey) -> Iterator[dg.AssetCheckResult]:
    """The plan's view of the model: keys that cannot identify a row, new rows without a name."""
    empty = int(plan.rejections["reason"].astype(str).str.startswith(EMPTY_KEY).sum())
    repeated = plan.rejection_rows(REPEATED_KEY)["primary_key"]
    keys_fine = empty == 0 and repeated.empty
    yield dg.AssetCheckResult(
        check_name=PRIMARY_KEY_CHECK,
        asset_key=asset_key,
        passed=keys_fine,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if keys_fine else (
            f"{counted(empty, 'row')} without {plan.settings.primary_key}, {counted(len(repeated), 'row')} sharing one; "
            "they are rejected and the other rows still sync"
        ),
        metadata={
            "primary_key": plan.settings.primary_key,
            "null_keys": empty,
            "duplicated_keys": int(repeated.nunique()),
            "examples": ", ".join(map(str, repeated.unique()[:10])) or "none",
        },
    )
    for reading in read_guards(plan):
        yield dg.AssetCheckResult(
            check_name=GUARD_CHECKS[reading.guard],
            asset_key=asset_key,
            passed=reading.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if reading.passed else f"asana_tasks will refuse to write: {reading.message}",
            metadata={
                "count": reading.count,
                "live_tasks": reading.of,
                "share": round(reading.count / reading.of, 4) if reading.of else 0.0,
                reading.guard.value: reading.limit,
                **reading.details,
            },
        )
    nameless = len(plan.rejection_rows(NAME_REQUIRED))
    yield dg.AssetCheckResult(
        check_name=NAMES_CHECK,
        asset_key=asset_key,
        passed=nameless == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if not nameless else f"Rows that would create a task without a name: {nameless:,} (rejected)",
        metadata={"rows_without_name": nameless},
    )
