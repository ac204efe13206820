"""A sync's schedule: run it on a cron.

Off by default, as Dagster expects of schedules: one click in the UI turns it on.
"""

from typing import TYPE_CHECKING

import dagster as dg

from ..engine import environment
from .sync_spec import SyncSpec

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

DEFAULT_CRON = str(environment.SYNC_CRON.default)


def build_schedule(spec: SyncSpec, job: "UnresolvedAssetJobDefinition") -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=spec.schedule_name,
        job=job,
        cron_schedule=spec.schedule or DEFAULT_CRON,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Runs sync {spec.name!r} on the cron {spec.schedule or DEFAULT_CRON!r}.",
    )
