"""Running one sync, in this order, each check once:

1. the connection test: token, project, the sync key field (`asana.connection`);
2. the sync's lock, so two runs of one sync never write at once (`state`);
3. a state found empty is rebuilt from Asana by the sync key (`writing.rebuild`);
4. the plan refreshed against the state as it is under the lock (`planning`);
5. the guards: too many removals, clears or replaced keys fail the run before any write;
6. the tags and sections to create, then the writes (`writing`).

Planning itself (`plan_sync`) is a step of its own: it reads the project's schema
when the model names things. Failures that concern the run rather than a row come
out as `AsanaSyncError`s whose message says what happened and what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import httpx
import pandas as pd

from .asana.client import AsanaClient
from .asana.connection import AUTHENTICATION_FAILED, ConnectionInfo, check_connection
from .errors import (
    AsanaAPIError,
    AsanaTransportError,
    AuthenticationError,
    ConnectionCheckError,
    GuardError,
    RemovalGuardError,
    SyncConfigError,
)
from .fields.field_rules import schema_needs
from .fields.mapping import resolve_mapping
from .fields.schema import ProjectSchema, read_schema
from .log import Log
from .planning import Operation, Plan, build_plan, guard_trips, refresh_plan, with_written
from .settings import AsanaSettings, SyncSettings
from .state import StateStore, SyncScope
from .writing.context import RunContext
from .writing.executor import SyncOptions
from .writing.pending import create_pending
from .writing.rebuild import rebuild_state
from .writing.report import SyncReport
from .writing.sync import TaskSync


def test_connection(asana: AsanaSettings, scope: SyncScope, *, sync_key_field: str | None = None) -> ConnectionInfo:
    """Token, URL, project, access and sync key field; reads only."""

    async def check() -> ConnectionInfo:
        async with AsanaClient(asana) as client:
            return await check_connection(client, scope.project_gid, sync_key_field=sync_key_field)

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
    needed; without `asana` (no token) names are left unchecked and the plan says so.

    Parameters:
        model: one row per task, as `model.warehouse.read_model` returns it.
        settings: the sync's settings (mode, primary key, mapping, ...).
        store, scope: the state to plan against, and whose it is.
        asana: how to reach Asana, or None to plan offline.
        transport: replaces httpx's network transport (a proxy, or a test's)."""
    needs = schema_needs(model, resolve_mapping([str(column) for column in model.columns], settings))
    schema = None
    if needs and asana is not None:

        async def read() -> ProjectSchema:
            async with AsanaClient(asana, transport=transport) as client:
                info = await check_connection(client, scope.project_gid)
                return await read_schema(client, info.project_gid, info.workspace_gid, info.user_gid, needs)

        schema = asyncio.run(read())
    plan = build_plan(model, settings, store.synced(scope), schema)
    return with_written(plan, store.written(scope, plan.update_keys()))


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
    """Carry out `plan`: connection test, lock, rebuild, refresh, guards, writes (see the module doc).

    Parameters:
        plan: what `plan_sync` planned, possibly in another process.
        asana: how to reach Asana (`AsanaSettings`).
        scope: the sync and project whose state and lock this run takes.
        store: the sync state (`state.open_state_store`).
        run_id: recorded beside every outcome and in the run history.
        log: receives one line per step and progress message.
        options: the writers' bookkeeping knobs; defaults follow `asana`.
        transport: replaces httpx's network transport (a proxy, or a test's).

    Returns the connection's details and what the run did. Fails before any write on a
    bad token, project or sync key field, on a tripped guard, or on a plan made without
    reading the project's names."""
    if plan.unchecked:
        raise SyncConfigError(
            "this plan was made without reading the project (no token), so names in "
            f"{', '.join(plan.unchecked)} were not checked; materialize asana_task_payloads again with the token set"
        )
    options = options or SyncOptions(
        reconcile_grace_seconds=asana.reconcile_grace_seconds, workers=2 * asana.max_concurrent_writes
    )

    async def run() -> tuple[ConnectionInfo, SyncReport]:
        async with AsanaClient(asana, on_retry=log, transport=transport) as client:
            info = await check_connection(client, scope.project_gid, sync_key_field=plan.settings.sync_key_field)
            with store.exclusive(scope, log):
                context = RunContext(client, store, scope, run_id, info.user_gid, log, options)
                report = await _during_writes(asana, _write(context, plan, info))
            return info, report

    return asyncio.run(run())


async def _write(run: RunContext, plan: Plan, info: ConnectionInfo) -> SyncReport:
    """Steps 3 to 6, under the lock."""
    if plan.renames:
        run.log(f"Renaming {len(plan.renames):,} keys in the sync state: numbers are compared by value now (1.00 is 1)")
        await run.in_state(run.store.rekey, plan.renames)
    synced = await run.in_state(run.store.synced)
    warnings: list[str] = []
    if synced.empty and plan.settings.sync_key_field:
        synced, warnings = await rebuild_state(run, plan)
    current = refresh_plan(plan, synced)
    current = with_written(current, await run.in_state(run.store.written, current.update_keys()))
    check_guards(current)
    if synced.empty and not plan.settings.sync_key_field and current.counts()[Operation.CREATE.value]:
        warnings += await _fresh_state_warnings(run, info)
    for warning in warnings:
        run.log(f"WARNING: {warning}")
    if current.pending:
        current = await _with_pending_created(run, current, info.workspace_gid)
    report = await TaskSync(run).run_plan(current)
    report.warnings.extend(warnings)
    return report


async def _during_writes(asana: AsanaSettings, work: Awaitable[SyncReport]) -> SyncReport:
    """Failures of the whole run in the middle of it, said as what they mean for the rows."""
    try:
        return await work
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


def check_guards(plan: Plan) -> None:
    """Fail before any write when the plan would remove, clear or replace too much of the sync's tasks."""
    trips = guard_trips(plan)
    if trips:
        error = RemovalGuardError if trips[0].setting == "max_removed_fraction" else GuardError
        raise error("\n".join(trip.message for trip in trips))


async def _with_pending_created(run: RunContext, plan: Plan, workspace_gid: str) -> Plan:
    try:
        created = await create_pending(run, plan, workspace_gid=workspace_gid)
    except AsanaAPIError as exc:
        if isinstance(exc, AuthenticationError):
            raise
        raise SyncConfigError(
            f"Could not create the tags or sections the model names ({exc}); create them in Asana, "
            "or set create_missing_tags / create_missing_sections to false to reject those rows instead"
        ) from None
    return plan.with_created(created)


async def _fresh_state_warnings(run: RunContext, info: ConnectionInfo) -> list[str]:
    """A state with nothing for this sync, in a project that already holds tasks, and no sync key to
    recognise them by: duplicates are possible. (With a sync key, the rebuild has just adopted them.)"""
    if not await run.client.first_page_of_tasks(info.project_gid):
        return []
    advice = "With sync_key_field set, such tasks are recognised by their key and never duplicated."
    return [
        f"The sync state ({run.store.location}) holds no task for this sync, but project {info.project_name!r} "
        f"already has tasks. If earlier runs synced this model with another state, this run creates them again: "
        f"stop it and point SYNC_STATE_DUCKDB_PATH (or SYNC_STATE_URL) at that state. {advice}"
    ]
