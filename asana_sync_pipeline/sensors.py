"""`warehouse_model_sensor`: launch the sync when the warehouse model changes, and not otherwise.

The change signal is cheap in two steps: the warehouse file's size and
modification time (a stat, no database work); only when those moved, a
fingerprint of the model's rows (count and XOR of row hashes, computed by
DuckDB). The fingerprint is the cursor and the run key, so the same model never
launches twice. The first evaluation records a baseline without launching.
"""

import json
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from .assets import WarehouseModelConfig
from .jobs import asana_sync_job

MODEL_QUERY = WarehouseModelConfig().query


def model_fingerprint(warehouse: DuckDBResource, query: str = MODEL_QUERY) -> str:
    with warehouse.get_connection() as connection:
        count, digest = connection.execute(f"SELECT count(*), bit_xor(hash(model)) FROM ({query}) AS model").fetchone()
    return f"{count}:{digest or 0}"


@dg.sensor(
    job=asana_sync_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launches asana_sync_job when the rows of the warehouse model change.",
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
        fingerprint = model_fingerprint(warehouse)
    except duckdb.Error as exc:
        return dg.SkipReason(f"Could not read the model (will retry): {exc}")
    context.update_cursor(json.dumps({"stat": stat, "fingerprint": fingerprint}))
    if "fingerprint" not in cursor:
        return dg.SkipReason(f"Baseline recorded ({fingerprint}); the next change launches a sync")
    if cursor["fingerprint"] == fingerprint:
        return dg.SkipReason("The warehouse file changed but the model's rows did not")
    return dg.RunRequest(run_key=f"model-{fingerprint}", tags={"warehouse_fingerprint": fingerprint})
