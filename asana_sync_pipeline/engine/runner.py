"""Running one sync: planning (reading the project's schema when the model names things),
then the connection test, the sync lock, the plan refreshed against the state as it
is once the lock is held, the tags and sections to create, and the writes.

This is the whole of what the `asana_tasks` asset (or any other caller) does;
failures that concern the run rather than a row come out as `AsanaSyncError`s
whose message says what happened and what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pandas as pd

from .asana.client import AsanaClient
from .asana.connection import AUTHENTICATION_FAILED, ConnectionInfo, check_connection, check_project_gid
from .errors import (
    AsanaAPIError,
    AsanaTransportError,
    AuthenticationError,
    ConnectionCheckError,
    RemovalGuardError,
    SyncConfigError,
)
from .writing.executor import SyncOptions
from .fields.mapping import resolve_mapping
from .writing.pending import create_pending
from .planning.plan import CREATE, Plan, build_plan, refresh_plan
from .writing.rebuild import rebuild_state
from .writing.report import SyncReport
from .fields.field_rules import schema_needs
from .fields.schema import ProjectSchema, SchemaNeeds, read_schema
from .settings import AsanaSettings, SyncSettings
from .state import StateStore, SyncScope
from .writing.sync import TaskSync

Log = Callable[[str], None]


def test_connection(asana: AsanaSettings, project_gid: str, *, sync_key_field: str | None = None) -> ConnectionInfo:
    """Token, URL, project, access and sync key field; reads only."""

    async def check() -> ConnectionInfo:
        async with AsanaClient.from_settings(asana) as client:
            return await check_connection(
                client, project_gid, sync_key_field=sync_key_field, token_source=asana.token_source
            )

    return asyncio.run(check())


def plan_sync(
    model: pd.DataFrame,
    settings: SyncSettings,
    *,
    store: StateStore,
    scope: SyncScope,
    asana: AsanaSettings | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Plan:
    """Plan every row. When the model names things (tags, sections, custom fields and their
    options, people by email), the project's schema is read first, once, and only the parts
    needed; without `asana` (no token) names are left unchecked and the plan says so."""
    needs = schema_needs(model, resolve_mapping([str(column) for column in model.columns], settings))
    schema = None
    if needs and asana is not None:
        schema = asyncio.run(_read_schema(asana, scope.project_gid, needs, transport))
    return build_plan(model, settings, store.synced(scope), schema)


async def _read_schema(
    asana: AsanaSettings, project_gid: str, needs: SchemaNeeds, transport: httpx.AsyncBaseTransport | None
) -> ProjectSchema:
    async with AsanaClient.from_settings(asana, transport=transport) as client:
        info = await check_connection(client, project_gid, token_source=asana.token_source)
        return await read_schema(client, info.project_gid, info.workspace_gid, info.user_gid, needs)


def run_sync(
    plan: Plan,
    *,
    asana: AsanaSettings,
    scope: SyncScope,
    store: StateStore,
    run_id: str,
    log: Log,
    options: SyncOptions | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[ConnectionInfo, SyncReport]:
    """Test the connection, then carry out the plan; fails before any write if the test fails.

    Runs under the sync's lock, against the state as it is once the lock is held,
    so overlapping runs never create the same task twice. `transport` replaces
    httpx's network transport (a proxy, or a test's)."""
    project_gid = check_project_gid(scope.project_gid)
    scope = SyncScope(scope.sync, project_gid)
    if plan.unchecked:
        raise SyncConfigError(
            "this plan was made without reading the project (no token), so names in "
            f"{', '.join(plan.unchecked)} were not checked; materialize asana_task_payloads again with the token set"
        )
    options = options or SyncOptions(
        reconcile_grace_seconds=asana.reconcile_grace_seconds, workers=2 * asana.max_concurrent_writes
    )

    async def run(current: Plan, state_is_empty: bool) -> tuple[ConnectionInfo, SyncReport]:
        async with AsanaClient.from_settings(asana, on_retry=log, transport=transport) as client:
            info = await check_connection(
                client, project_gid, sync_key_field=current.settings.sync_key_field, token_source=asana.token_source
            )
            try:
                warnings = []
                if state_is_empty and (current.rows["operation"] == CREATE).any():
                    warnings = await _fresh_state_warnings(client, info, store, current)
                for warning in warnings:
                    log(f"WARNING: {warning}")
                if current.pending:
                    current = await _with_pending_created(client, current, project_gid, info.workspace_gid, log)
                report = await TaskSync(
                    client, store, scope=scope, run_id=run_id, me_gid=info.user_gid, log=log, options=options
                ).run(current)
            except AuthenticationError:
                raise ConnectionCheckError(
                    AUTHENTICATION_FAILED.format(source=asana.token_source)
                    + " Asana answered 401 in the middle of the run: rows written before it are recorded, "
                    "the others are retried on the next run."
                ) from None
            except AsanaTransportError as exc:
                raise ConnectionCheckError(
                    f"Lost the connection to Asana at {asana.base_url} during the writes: {exc}. Rows written "
                    "before it are recorded; the others, and any create of unknown outcome, are retried (never "
                    "duplicated) on the next run."
                ) from None
            report.warnings.extend(warnings)
            return info, report

    with store.exclusive(scope, log):
        synced = store.synced(scope)
        rebuilt, rebuild_warnings = 0, []
        if synced.empty and plan.settings.sync_key_field:
            synced, rebuilt, rebuild_warnings = asyncio.run(
                rebuild_state(plan, asana=asana, scope=scope, store=store, run_id=run_id, log=log, transport=transport)
            )
        current = refresh_plan(plan, synced)
        check_removals(current)
        info, report = asyncio.run(run(current, synced.empty and not plan.settings.sync_key_field))
        report.rebuilt = rebuilt
        report.warnings.extend(rebuild_warnings)
        return info, report


GUARD_FLOOR = 5
"""Removing this many tasks or fewer never trips the guard."""


def check_removals(plan: Plan) -> None:
    """Fail before any write when the plan would complete or delete too much of the project."""
    count, share, limit = len(plan.removals), plan.removal_share(), plan.settings.max_removed_fraction
    if count > GUARD_FLOOR and share > limit:
        verb = "complete" if plan.settings.on_row_removed.value == "complete" else "delete"
        raise RemovalGuardError(
            f"This run would {verb} {count:,} of the sync's {plan.live_tasks:,} live tasks ({share:.0%}), more than "
            f"max_removed_fraction ({limit:.0%}) allows; nothing was written. If the model really lost those rows, "
            "raise max_removed_fraction for this run; if not, fix the model (an empty or broken query looks like this)."
        )


async def _with_pending_created(client: AsanaClient, plan: Plan, project_gid: str, workspace_gid: str, log: Log) -> Plan:
    try:
        created = await create_pending(client, plan, project_gid=project_gid, workspace_gid=workspace_gid, log=log)
    except AsanaAPIError as exc:
        if isinstance(exc, AuthenticationError):
            raise
        raise SyncConfigError(
            f"Could not create the tags or sections the model names ({exc}); create them in Asana, "
            "or set create_missing_tags / create_missing_sections to false to reject those rows instead"
        ) from None
    return plan.with_created(created)


async def _fresh_state_warnings(client: AsanaClient, info: ConnectionInfo, store: StateStore, plan: Plan) -> list[str]:
    """A state with nothing for this sync, in a project that already holds tasks, and no sync key to
    recognise them by: duplicates are possible. (With a sync key, the rebuild has just adopted them.)"""
    existing = await client.first_page_of_tasks(info.project_gid)
    if not existing:
        return []
    advice = "With sync_key_field set, such tasks are recognised by their key and never duplicated."
    return [
        f"The sync state ({store.location}) holds no task for this sync, but project {info.project_name!r} "
        f"already has tasks. If earlier runs synced this model with another state, this run creates them again: "
        f"stop it and point SYNC_STATE_DUCKDB_PATH (or SYNC_STATE_URL) at that state. {advice}"
    ]
