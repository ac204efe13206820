"""How the model and the plan travel between a sync's steps, and how the outcomes reach the warehouse.

Dagster's filesystem IO manager pickles every output to a file and reads it back in the next
step: for a million-row model and its plan, seconds of pickling in a run whose steps all run in
one process (the sync jobs use the in-process executor). `SyncIOManager` hands the next step the
object itself when it runs in the same process, and writes the file as Dagster does, so that an
asset materialized on its own later (`asana_tasks` after a dry run) still finds its input;
except in a dry run (`asana_dry_run_job`), whose plan is shown, never handed on, so nothing is
written at all.

It is bound as `asana_sync_io_manager`, the key of every sync's own outputs, so that a project's
own `io_manager` (S3, a database) never stores a sync's plan. It also loads the model of a sync
whose model is an upstream asset (`model: {asset: key}`): a `TableModel` when that asset names the
table it materializes (`dagster/table_name`, in its definition or its latest materialization: dbt,
Sling, dlt, DuckDB IO managers), which the sync then reads from the warehouse; else the value the
asset returned, as Dagster's default IO manager or this one stored it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager

from ..engine import connect_duckdb
from .upstream import MODEL_OF, TableModel, missing_asset, table_name_in

WAREHOUSE_WAIT_SECONDS = 120.0
"""How long writing the outcomes waits for a process that holds the warehouse file (a dbt build, a
model read, a notebook) before the step fails, nothing lost: the next materialization writes them."""

DRY_RUN_TAG = "asana_sync/dry_run"
"""Tag of the dry-run jobs' runs: their outputs stay in memory."""
SYNC_IO_MANAGER = "asana_sync_io_manager"
"""The resource key of a sync's own outputs (and of the model input of a sync on an upstream asset)."""
WAREHOUSE_IO_MANAGER = "warehouse_io_manager"
"""The resource key of the outcomes' IO manager: the warehouse, or whatever a team binds there."""

_in_process: dict[tuple[str, tuple[str, ...]], Any] = {}
"""(run id, asset key) -> the output, for the steps of that run still to come in this process."""


class SyncIOManager(dg.ConfigurableIOManager):
    """Outputs in memory for the rest of the run, and in files (pickled) for later runs unless the
    run is a dry run. `base_dir`: where the files go (default: the instance's storage folder)."""

    base_dir: str | None = None

    def _files(self, instance: dg.DagsterInstance) -> PickledObjectFilesystemIOManager:
        return PickledObjectFilesystemIOManager(base_dir=self.base_dir or instance.storage_directory())

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        for stale in [key for key in _in_process if key[0] != context.run_id]:
            del _in_process[stale]  # a finished run's leftovers (a step that failed before loading)
        _in_process[(context.run_id, tuple(context.asset_key.path))] = obj
        if context.step_context.dagster_run.tags.get(DRY_RUN_TAG) != "true":
            self._files(context.step_context.instance).handle_output(context, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        sync = (context.definition_metadata or {}).get(MODEL_OF)
        if sync is not None:
            return self._load_model(context, str(sync))
        return self._load(context)

    def _load_model(self, context: dg.InputContext, sync: str) -> Any:
        """The model of `sync`, an upstream asset: the table it materializes, or its value."""
        key = context.asset_key
        upstream = context.upstream_output
        table = table_name_in(upstream.definition_metadata if upstream else None)
        latest = context.instance.get_latest_materialization_event(key)
        if table is None and latest is not None and latest.asset_materialization is not None:
            table = table_name_in(latest.asset_materialization.metadata)
        if table is not None:
            return TableModel(table=table, asset=key.to_user_string())
        graph = context.step_context.job_def.asset_layer.asset_graph
        graph = getattr(graph, "source_asset_graph", graph)  # the code location's, not the job's alone
        if latest is None and (not graph.has(key) or not graph.get(key).is_materializable):
            defined = [known for known in graph.get_all_asset_keys() if graph.get(known).is_materializable]
            raise dg.Failure(description=missing_asset(sync, key, defined))
        try:
            return self._load(context, quiet=True)
        except FileNotFoundError:
            never = "it has never been materialized" if latest is None else "no value of it is stored where this sync reads values"
            raise dg.Failure(
                description=(
                    f"sync {sync!r}: nothing to read from its model asset {key.to_user_string()}: {never}. A sync reads the table "
                    "an asset materializes when the asset names it (metadata dagster/table_name, as dbt, Sling and dlt assets "
                    "do), or the DataFrame it returns when Dagster's default IO manager stores it. Materialize the asset, or "
                    f"name its table: model: {{table: schema.name, deps: [{key.to_user_string()}]}}."
                )
            ) from None

    def _load(self, context: dg.InputContext, quiet: bool = False) -> Any:
        upstream = context.upstream_output
        key = (upstream.run_id if upstream else "", tuple(context.asset_key.path))
        if key in _in_process:
            return _in_process.pop(key)
        try:
            return self._files(context.instance).load_input(context)
        except FileNotFoundError:
            if quiet:
                raise
            raise dg.Failure(
                description=(
                    f"No stored {context.asset_key.to_user_string()} to read: a dry run (asana_dry_run_job) keeps its "
                    "plan in memory and stores nothing. Materialize it together with the assets that read it, or run "
                    "the sync's job (asana_sync_job)."
                )
            ) from None


class ReplacingPandasTypeHandler(DbTypeHandler[pd.DataFrame]):
    """A DataFrame stored as a DuckDB table, replaced whole in one statement (readers never see it
    half written, and a column added or retyped since the last time is taken as it is); an empty
    frame still makes its table, so that a query joining it finds it."""

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection: Any) -> Any:
        name = f"{table_slice.schema}.{table_slice.table}"
        connection.register("asana_sync_output", obj)
        try:
            connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM asana_sync_output")
        finally:
            connection.unregister("asana_sync_output")
        context.add_output_metadata(
            {
                **TableMetadataSet(row_count=len(obj), table_name=name),
                "dataframe_columns": dg.MetadataValue.table_schema(
                    dg.TableSchema(columns=[dg.TableColumn(name=str(column), type=str(dtype)) for column, dtype in obj.dtypes.items()])
                ),
            }
        )

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection: Any) -> pd.DataFrame:
        return connection.execute(DuckDbClient.get_select_statement(table_slice)).df()

    @property
    def supported_types(self) -> list[type]:
        return [pd.DataFrame]


class _WaitingDuckDbClient(DuckDbClient):
    """dagster-duckdb's client, waiting (bounded, and saying so) for a process that holds the file,
    and replacing tables in one statement (the handler's) instead of deleting their rows first."""

    @staticmethod
    def delete_table_slice(context: dg.OutputContext, table_slice: TableSlice, connection: Any) -> None:
        return None

    @staticmethod
    @contextmanager
    def connect(context: Any, _: TableSlice) -> Iterator[Any]:
        config = context.resource_config
        connection = connect_duckdb(
            config["database"], dict(config.get("connection_config") or {}), wait_seconds=WAREHOUSE_WAIT_SECONDS,
            what="the warehouse", log=context.log.info if getattr(context, "log", None) else None,
        )  # fmt: skip
        try:
            yield connection
        finally:
            connection.close()


class WarehouseIOManager(DuckDBIOManager):
    """Tables in the warehouse's DuckDB file, from pandas DataFrames: dagster-duckdb's `DuckDBIOManager`
    with a pandas handler, as dagster-duckdb-pandas' `DuckDBPandasIOManager` is (that package pins pandas
    below 3; this project runs pandas 3). A table is replaced whole at each materialization; a process
    holding the file is waited for, up to `WAREHOUSE_WAIT_SECONDS`, saying whom it waits for. Bound as
    `warehouse_io_manager`; a team on Snowflake, BigQuery or PostgreSQL binds its own IO manager there.
    The table of asset key `schema/table` is `schema.table`; of an unprefixed key, the asset's `schema`
    metadata names the schema."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [ReplacingPandasTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context: Any) -> DbIOManager:
        return DbIOManager(
            db_client=_WaitingDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )
