"""Running one sync, in this order, each check once:

1. the connection test: token, project, the sync key field (`asana.connection`);
2. the sync's lock, so two runs of one sync never write at once (`state`);
3. a state found empty is rebuilt from Asana by the sync key (`writing.rebuild`), and what people
   did since the last run is read: the project's events, or one listing (`observing`); tasks
   carrying keys the state does not know (a restored older state) are adopted;
4. the plan refreshed against the state as it is under the lock (`planning`), with what people
   did taken in as `on_task_deleted` and `on_asana_edit` say;
5. the guards: too many removals, clears or replaced keys fail the run before any write;
6. the tags and sections to create, then the writes (`writing`).

Planning itself (`plan_sync`) is a step of its own: it reads the project's schema
when the model names things. Failures that concern the run rather than a row come
out as `AsanaSyncError`s whose message says what happened and what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import httpx
import pandas as pd

from .asana.client import AsanaClient
from .asana.connection import AUTHENTICATION_FAILED, ConnectionInfo, check_connection
from .errors import (
    AsanaAPIError,
    AsanaError,
    AsanaTransportError,
    AuthenticationError,
    ConnectionCheckError,
    SyncConfigError,
)
from .fields.mapping import resolve_mapping
from .fields.rule_selection import schema_needs
from .fields.schema import read_schema
from .fields.templates import read_template
from .log import Log, counted
from .observing.adopting import listing_fields, match_existing
from .observing.apply import differing_from_model, people_edits_after
from .observing.matching import match_tasks_to_rows
from .observing.observe import Observation
from .observing.people import StateReads, observe_people
from .observing.task_values import TASK_OPT_FIELDS
from .outcomes.frames import outcome_layout
from .outcomes.refresh import OutcomeReading, record_run_outcomes, refresh_outcomes
from .planning import Operation, Plan, Planned, RebuildPreview, build_plan, refresh_plan, with_written
from .planning.extras import NEW_TASK, extras_of, link_work
from .planning.guards import check_guards
from .settings import AsanaSettings, SyncSettings
from .state import SYNCED_COLUMNS, StateStore, SyncScope, TaskLink, utc_now
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
    see_people: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Planned:
    """Plan every row (`Planned`: the plan to hand on, and its preview). When the model names things
    (tags, sections, custom fields and their options, people by email), the project's schema is read
    first, once, and only the parts needed; what people did in Asana since the last run is read too (nothing is kept: the run
    reads it again under its lock). Without `asana` (no token) names are left unchecked and
    Asana unread, and the plan says so.

    Parameters:
        model: one row per task, as `model.warehouse.read_model` returns it.
        settings: the sync's settings (mode, primary key, mapping, ...).
        store, scope: the state to plan against, and whose it is.
        asana: how to reach Asana, or None to plan offline.
        see_people: read what people did in Asana since the last run (a dry run shows it; a run
            that writes next reads it again under its lock, so it may skip it here).
        transport: replaces httpx's network transport (a proxy, or a test's)."""
    needs = schema_needs(model, resolve_mapping([str(column) for column in model.columns], settings))
    synced = store.synced(scope)
    if asana is None or not (needs or see_people or settings.task_template):
        plan = build_plan(model, settings, synced)
        planned = Planned.unobserved(with_written(plan, store.written(scope, plan.update_keys())))
        return _with_link_preview(planned, store, scope) if see_people else planned

    async def read_and_plan() -> Planned:
        async with AsanaClient(asana, transport=transport) as client:
            # A dry run checks the sync key field as the run will (a run checks it under its lock).
            info = await check_connection(client, scope.project_gid, sync_key_field=settings.sync_key_field if see_people else None)
            schema = await read_schema(client, info.project_gid, info.workspace_gid, info.user_gid, needs) if needs else None
            plan = build_plan(model, settings, synced, schema)
            plan = await with_template(client, with_written(plan, store.written(scope, plan.update_keys())), info)
            if synced.empty and see_people and plan.settings.sync_key_field:
                planned = await _previewing_rebuild(client, plan, scope, info.user_gid)
            elif not see_people:
                return Planned.unobserved(plan)
            else:
                seen, _ = await observe_people(
                    client, plan, synced, StateReads.direct(store, scope), me_gid=info.user_gid, log=lambda _: None
                )
                planned = Planned(plan, seen)
            planned = replace(planned, preview=await _previewing_adoptions(client, planned.preview, store, scope))
            return _with_link_preview(planned, store, scope)

    return asyncio.run(read_and_plan())


async def with_template(client: AsanaClient, plan: Plan, info: ConnectionInfo) -> Plan:
    """The plan with its task template read (`task_template`), once per run; as it was without one."""
    extras = extras_of(plan)
    if not plan.settings.task_template or extras.template is not None:
        return plan
    template = await read_template(client, info.project_gid, info.project_name, plan.settings.task_template)
    return replace(plan, extras=replace(extras, template=template))


async def _previewing_adoptions(client: AsanaClient, plan: Plan, store: StateStore, scope: SyncScope) -> Plan:
    """A dry run's plan with what `adopt_existing` would adopt (the project listed once; nothing recorded)."""
    extras = extras_of(plan)
    spec, values = plan.settings.adopt_existing, extras.adopt_values
    rows = [row for row in plan.creates() if not row.gid_from_column]
    if not spec or values is None or not rows:
        return plan
    tasks = [task async for task in client.project_tasks(scope.project_gid, opt_fields=listing_fields(spec["match"]))]
    known = store.task_gids(scope)
    adoptions = match_existing(((row.key, values[row.position]) for row in rows), tasks, spec["match"], spec["column"], known)
    return replace(plan, extras=replace(extras, adoptions=adoptions))


def _with_link_preview(planned: Planned, store: StateStore, scope: SyncScope) -> Planned:
    """The preview with the dependencies and attachments the run would set or remove (from the state's records)."""
    plan = planned.preview
    extras = extras_of(plan)
    if not extras.links:
        return planned
    recorded: dict[str, list[TaskLink]] = {}
    for link in store.links(scope):
        recorded.setdefault(link.primary_key, []).append(link)
    tasks = plan.task_gids()
    tasks.update({row.key: NEW_TASK.format(key=row.key) for row in plan.creates()})
    work = []
    for row in plan.rows():
        if row.operation is Operation.REJECT or row.key not in tasks:
            continue
        found = link_work(extras, row.position, row.key, tasks[row.key], tasks, recorded.get(row.key, []))
        if found:
            work.append(found)
    return replace(planned, preview=replace(plan, extras=replace(extras, planned_links=work)))


async def _previewing_rebuild(client: AsanaClient, plan: Plan, scope: SyncScope, me_gid: str | None) -> Planned:
    """A dry run's plan when the state holds nothing for the sync and a sync key is set: the project
    listed once and its tasks matched to rows as the run's rebuild will, nothing recorded; the preview
    counted as after the rebuild, the plan handed on as before it (the run rebuilds for itself)."""
    tasks = [task async for task in client.project_tasks(scope.project_gid, opt_fields=TASK_OPT_FIELDS)]
    adoptions = match_tasks_to_rows(plan, tasks, scope.project_gid, me_gid)
    adopted = pd.DataFrame(
        [(outcome.primary_key, outcome.task_gid, outcome.payload_hash, None, None) for outcome in adoptions.outcomes],
        columns=list(SYNCED_COLUMNS),
    )
    after = refresh_plan(plan, adopted)
    after = with_written(after, {outcome.primary_key: outcome.written for outcome in adoptions.outcomes if outcome.written})
    preview = RebuildPreview(len(adoptions.outcomes), adoptions.up_to_date, len(tasks), adoptions.duplicates)
    return Planned(plan, after, preview)


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

    Returns the connection's details and what the run did, which it also adds to the state's run
    history (`StateStore.runs`). Fails before any write on a
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

    started_at = utc_now()

    async def run() -> tuple[ConnectionInfo, SyncReport]:
        async with AsanaClient(asana, on_retry=log, transport=transport, budget=store.token_budget()) as client:
            info = await check_connection(client, scope.project_gid, sync_key_field=plan.settings.sync_key_field)
            with store.exclusive(scope, log):
                context = RunContext(client, store, scope, run_id, info.user_gid, log, options)
                report = await _during_writes(asana, _write(context, plan, info))
            return info, report

    info, report = asyncio.run(run())
    row = report.run_row(run_id=run_id, sync_mode=plan.settings.sync_mode.value, started_at=started_at, finished_at=utc_now())
    store.record_run(scope, row)
    return info, report


async def _write(run: RunContext, plan: Plan, info: ConnectionInfo) -> SyncReport:
    """Steps 3 to 6, under the lock."""
    if plan.renames:
        run.log(f"Renaming {counted(len(plan.renames), 'key')} in the sync state: numbers are compared by value now (1.00 is 1)")
        await run.in_state(run.store.rekey, plan.renames)
    synced = await run.in_state(run.store.synced)
    warnings: list[str] = []
    rebuilt = synced.empty and bool(plan.settings.sync_key_field)
    if rebuilt:
        synced, warnings = await rebuild_state(run, plan)
    interrupted = False
    unknown_before_writes: list[dict[str, Any]] = []

    async def adopt_and_refresh(observation: Observation) -> tuple[Plan, pd.DataFrame]:
        """Tasks carrying the keys of rows the state does not know adopted, then the plan against the
        state as it is under the lock (rows another run synced since planning are not created twice).
        Creates an interrupted run left unsettled made tasks the state does not know yet: the writes
        match them to their rows first, so tasks unknown before the writes are judged after them."""
        nonlocal interrupted, unknown_before_writes
        current_synced = synced
        judged = not plan.settings.sync_key_field and bool(observation.unknown)
        interrupted = judged and bool(await run.in_state(run.store.open_intents))
        if observation.unknown and plan.settings.sync_key_field:
            if await _adopt_unknown(run, plan, synced, observation.unknown):
                current_synced = await run.in_state(run.store.synced)
        elif interrupted:
            unknown_before_writes = observation.unknown
        current = refresh_plan(plan, current_synced)
        return with_written(current, await run.in_state(run.store.written, current.update_keys())), current_synced

    current, observation = await observe_people(
        run.client, plan, synced, StateReads(run.store, run.scope, run.in_state), me_gid=run.me_gid, log=run.log,
        want_unknown=bool(plan.settings.sync_key_field), listed_already=rebuilt, between=adopt_and_refresh,
    )  # fmt: skip
    check_guards(current)
    unknown = current.people.unknown_own
    if unknown and not interrupted:
        warnings.append(_fresh_state_warning(run, info, unknown) if synced.empty else _unknown_tasks_warning(info, unknown))
    for warning in warnings:
        run.log(f"WARNING: {warning}")
    if current.pending:
        current = await _with_pending_created(run, current, info.workspace_gid)
    current = await with_template(run.client, current, info)
    report = await TaskSync(run).run_plan(current)
    report.warnings.extend(warnings)
    if unknown_before_writes:
        after = await _still_unknown_after_an_interruption(run, info, unknown_before_writes, fresh=synced.empty)
        for warning in after:
            run.log(f"WARNING: {warning}")
        report.warnings.extend(after)
    people_edits = people_edits_after(current, failed={key for key, _, _ in report.rejections if key is not None})
    report.differing = differing_from_model(current, people_edits)
    report.unmatched_after_run = len(report.differing)
    await run.in_state(run.store.save_outcome_layout, {**outcome_layout(current), "me_gid": run.me_gid})
    try:
        cursor = await record_run_outcomes(
            run.client, run.store, run.scope, observation, run.seen, me_gid=run.me_gid, run_id=run.run_id, log=run.log,
            wrote_any=run.client.writes_sent > 0,
        )  # fmt: skip
    except AsanaError as exc:
        cursor = observation.cursor
        run.log(f"WARNING: the outcomes could not read what changed during the run ({exc}); the next refresh reads it")
    await run.in_state(run.store.save_observation, cursor, people_edits)
    return report


def _unknown_tasks_warning(info: ConnectionInfo, count: int) -> str:
    return (
        f"Tasks of project {info.project_name!r} this sync's state does not know: {count:,}. They were created by this "
        "sync's user and are named like rows this run creates: if the state was restored from an older copy, this run "
        "creates their rows again. With sync_key_field set, such tasks are recognised by their key and adopted instead."
    )


def _fresh_state_warning(run: RunContext, info: ConnectionInfo, count: int) -> str:
    """A state with nothing for this sync, in a project that already holds tasks this sync may have made
    (its user's, named like its rows), and no sync key to recognise them by: duplicates are possible."""
    return (
        f"The sync state ({run.store.location}) holds no task for this sync, but project {info.project_name!r} "
        f"already has tasks this sync may have made: {count:,} created by its user and named like rows this run "
        "creates. If earlier runs synced this model with another state, this run creates them again: point "
        "SYNC_STATE_DUCKDB_PATH (or SYNC_STATE_URL) at that state. With sync_key_field set, such tasks are "
        "recognised by their key and never duplicated."
    )


async def _still_unknown_after_an_interruption(
    run: RunContext, info: ConnectionInfo, unknown: list[dict[str, Any]], *, fresh: bool
) -> list[str]:
    """The warnings about tasks the state did not know before the writes (`unknown`), once the creates an
    interrupted run left unsettled were matched to the tasks they made: only tasks still unknown count
    (made by people, or with another or older state); none is said when all were that run's."""
    known = await run.in_state(run.store.task_gids)
    left = [task for task in unknown if str(task.get("gid")) not in known]
    if not left:
        return []
    matched = f"the {counted(run.report.adopted, 'task')} an interrupted run created, matched to their rows"
    if fresh:
        return [
            f"The sync state ({run.store.location}) held no task for this sync, and project {info.project_name!r} "
            f"holds tasks besides {matched}: if earlier runs synced this model with another state, their rows were "
            "created again by this run; point SYNC_STATE_DUCKDB_PATH (or SYNC_STATE_URL) at that state. With "
            "sync_key_field set, such tasks are recognised by their key and never duplicated."
        ]
    return [
        f"Tasks of project {info.project_name!r} this sync's state does not know: {len(left):,}, besides {matched}: "
        "made by people, or by this sync with an older copy of the state (then this run created their rows again). "
        "With sync_key_field set, such tasks are recognised by their key and adopted instead."
    ]


async def _adopt_unknown(run: RunContext, plan: Plan, synced: pd.DataFrame, tasks: list[dict[str, Any]]) -> int:
    """Tasks of the project carrying the keys of rows the state does not know (an older state restored,
    or another machine's run): adopted before anything is created."""
    known = set(synced["primary_key"].astype(str)) if len(synced) else set()
    adoptions = match_tasks_to_rows(plan, tasks, run.project_gid, run.me_gid)
    outcomes = [outcome for outcome in adoptions.outcomes if outcome.primary_key not in known]
    if outcomes:
        await run.in_state(run.store.apply, run.run_id, outcomes)
        run.report.rebuilt += len(outcomes)
        run.log(
            f"Adopted {counted(len(outcomes), 'task')} of the project that carry the keys of rows the state did not know "
            "(an older copy of the state, or a run elsewhere): nothing is created twice"
        )
    return len(outcomes)


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


def refresh_outcomes_now(
    asana: AsanaSettings,
    scope: SyncScope,
    store: StateStore,
    *,
    run_id: str,
    log: Log,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OutcomeReading:
    """Read what became of the sync's tasks since the outcomes last did, and record it (never writes to
    Asana): under the sync's lock (a sync run and a refresh never record at once),
    `outcomes.refresh.refresh_outcomes`. The token's user is the one the sync's last run recorded."""

    async def read() -> OutcomeReading:
        async with AsanaClient(asana, on_retry=log, transport=transport, budget=store.token_budget()) as client:
            with store.exclusive(scope, log):
                layout = store.outcome_cursor(scope).layout or {}
                return await refresh_outcomes(client, store, scope, me_gid=layout.get("me_gid"), run_id=run_id, log=log)

    try:
        return asyncio.run(read())
    except AuthenticationError:
        raise ConnectionCheckError(AUTHENTICATION_FAILED.format(source=asana.token_source)) from None
