"""`asana_sync_schedule`: run the sync on a cron (hourly unless ASANA_SYNC_CRON says otherwise).

Off by default, as Dagster expects of schedules: one click in the UI turns it on.
"""

import os

import dagster as dg

from .jobs import asana_sync_job

DEFAULT_CRON = "0 * * * *"

asana_sync_schedule = dg.ScheduleDefinition(
    name="asana_sync_schedule",
    job=asana_sync_job,
    cron_schedule=os.environ.get("ASANA_SYNC_CRON", DEFAULT_CRON),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Syncs the warehouse model to Asana on a cron (ASANA_SYNC_CRON, default hourly).",
)
