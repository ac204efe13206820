"""One sync spec in, everything Dagster needs for that sync out."""

import dagster as dg

from .alerts import build_alert_sensor
from .assets import SyncAssetBodies, build_sync_assets
from .jobs import build_connection_test_job, build_dry_run_job, build_sync_job
from .schedules import build_schedule
from .sensors import build_sensor
from .sync_spec import SyncSpec


def build_sync_definitions(spec: SyncSpec, bodies: SyncAssetBodies | None = None) -> dg.Definitions:
    """Assets (with their checks), the sync job, the dry-run job, the connection test job, and the schedule
    and sensor the spec asks for; `bodies` does each asset's work (`AsanaSyncComponent` passes itself).
    Resources (`asana`, `warehouse`, `sync_state`) are shared by every sync and bound once, by the
    code location."""
    job = build_sync_job(spec)
    schedules = [build_schedule(spec, job)] if spec.schedule else []
    sensors = [build_sensor(spec, job)] if spec.sensor else []
    if spec.alerts is not None:
        sensors.append(build_alert_sensor(spec))
    return dg.Definitions(
        assets=build_sync_assets(spec, bodies),
        jobs=[job, build_dry_run_job(spec), build_connection_test_job(spec)],
        schedules=schedules,
        sensors=sensors,
    )
