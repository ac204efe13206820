"""A sync's sensor: launch the sync when its model changes, and not otherwise.

For a model read by a query, the change signal is cheap in two steps: the
warehouse file's size and modification time (a stat, no database work); only
when those moved, a fingerprint of the model's rows (count and XOR of row
hashes, computed by DuckDB). The first evaluation records a baseline without
launching. Each change that launches a run advances a sequence number, and the
run key is (sequence, fingerprint): the same state never launches twice in a
row, while a model that returns to an earlier state (A -> B -> A) runs again.

For a model that is an upstream asset, the sensor launches the sync when that
asset is materialized. A model that is a table (`model: {table: …}`) is read as
`SELECT *` of it, like a query.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from ..engine import AsanaSyncError, ModelQueryRefused, model_connection, model_fingerprint, resolve_table
from .sync_spec import SyncSpec

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def build_sensor(spec: SyncSpec, job: "UnresolvedAssetJobDefinition") -> dg.SensorDefinition:
    description = f"Launches {spec.job_name} when the rows of sync {spec.name!r}'s model change."
    if spec.model_asset_key:

        @dg.asset_sensor(
            name=spec.sensor_name,
            asset_key=dg.AssetKey(spec.model_asset_key),
            job=job,
            default_status=dg.DefaultSensorStatus.STOPPED,
            description=description,
        )
        def upstream_model_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
            return dg.RunRequest(run_key=f"model-{asset_event.run_id}")

        return upstream_model_sensor

    query = spec.model_query
    table = spec.model_table
    assert query is not None or table is not None, "a sync's model is a query, an upstream asset or a table"

    @dg.sensor(
        name=spec.sensor_name,
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=description,
    )
    def warehouse_model_sensor(context: dg.SensorEvaluationContext, warehouse: DuckDBResource):
        path = Path(warehouse.database)
        if not path.exists():
            return dg.SkipReason(f"No warehouse at {path} yet")
        status = path.stat()
        stat = [status.st_mtime_ns, status.st_size]
        cursor = json.loads(context.cursor) if context.cursor else {}
        if cursor.get("stat") == stat:
            return dg.SkipReason("The warehouse file has not changed")
        try:
            with model_connection(warehouse.database, read_files_in=spec.read_files_in, config=warehouse.connection_config) as connection:
                fingerprint = model_fingerprint(connection, query or f"SELECT * FROM {resolve_table(connection, str(table))}")
        except ModelQueryRefused as exc:
            return dg.SkipReason(f"The model query was refused (fix it, then the sensor reads it again): {exc}")
        except (duckdb.Error, AsanaSyncError) as exc:
            return dg.SkipReason(f"Could not read the model (will retry): {exc}")
        sequence = int(cursor.get("sequence", 0))
        changed = "fingerprint" in cursor and cursor["fingerprint"] != fingerprint
        if changed:
            sequence += 1
        context.update_cursor(json.dumps({"stat": stat, "fingerprint": fingerprint, "sequence": sequence}))
        if "fingerprint" not in cursor:
            return dg.SkipReason(f"Baseline recorded ({fingerprint}); the next change launches a sync")
        if not changed:
            return dg.SkipReason("The warehouse file changed but the model's rows did not")
        return dg.RunRequest(run_key=f"model-{sequence}-{fingerprint}", tags={"warehouse_fingerprint": fingerprint})

    return warehouse_model_sensor
