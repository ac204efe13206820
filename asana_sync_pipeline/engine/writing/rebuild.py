"""Rebuilding a lost sync state from Asana, so that losing it never duplicates a task.

The state is a cache of what Asana holds. With `sync_key_field` set, every task
the sync made carries its row's primary key in that text field. A run that finds
no state for its (sync, project) — a new machine, a lost file or database, a fresh
store — lists the project's tasks once (paginated) and adopts every task whose key
is a row's primary key, before anything is created; then it syncs normally.

An adopted task that already shows what the row would send (compared the way Asana
shows it, as reconciliation does) is recorded with the row's payload hash, so the
row is unchanged and costs nothing; any other is recorded without one, so the row
updates it. A row whose `task_gid` column names its task keeps that task. When
several tasks carry one key (duplicates made before), the oldest is adopted and the
others are left alone, and counted in the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..asana.client import AsanaClient
from ..log import counted
from ..planning import Operation, Plan, PlannedRow, api_payload
from ..state import Outcome
from .comments import carries_comment
from .context import RunContext
from .reconcile import MATCH_OPT_FIELDS, People, observe_payload, observe_task, sync_key_of

COMPARED_FIELDS = frozenset(
    {
        "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee",
        "custom_fields", "resource_subtype", "approval_status", "tags", "followers", "projects", "memberships",
        "parent", "workspace",
    }
)  # fmt: skip
"""Payload fields that `observe_payload` compares; a row sending any other field is updated, never assumed unchanged."""


@dataclass(frozen=True)
class Adoptions:
    """What listing the project found: the outcomes to record, and how they split."""

    outcomes: list[Outcome]
    up_to_date: int
    duplicates: int


def _oldest_first(task: dict[str, Any]) -> tuple[str, int]:
    return (task.get("created_at") or "", int(task["gid"]) if str(task["gid"]).isdigit() else 0)


def _shows_row(task: dict[str, Any], plan: Plan, row: PlannedRow, project_gid: str, people: People) -> bool:
    payload = api_payload(
        plan.payload_fields(row.position), project_gid=project_gid, sync_key_field=plan.settings.sync_key_field, for_update=False
    )
    if not set(payload) <= COMPARED_FIELDS:
        return False
    return observe_task(task, people).shows(observe_payload(payload, people))


async def _comments_already_posted(client: AsanaClient, plan: Plan, adopted: list[Outcome]) -> list[Outcome]:
    """For adopted rows with a comment, whether their task already carries it (one read each):
    such a comment is recorded as posted, so rebuilding the state never comments twice."""
    found = []
    for outcome in adopted:
        try:
            row = plan.by_key(outcome.primary_key)
        except KeyError:
            continue
        text = plan.comment(row.position)
        if text is not None and outcome.task_gid and await carries_comment(client, outcome.task_gid, text):
            found.append(Outcome(outcome.primary_key, comment_hash=row.comment_hash))
    return found


def match_tasks_to_rows(plan: Plan, tasks: list[dict[str, Any]], project_gid: str, me_gid: str | None) -> Adoptions:
    """Pair each row without a task of its own with the oldest listed task carrying its key."""
    sync_key_field = plan.settings.sync_key_field or ""
    by_key: dict[str, list[PlannedRow]] = {}
    for row in plan.rows():
        if not row.gid_from_column:
            by_key.setdefault(row.key, []).append(row)
    people = People(tasks, me_gid)
    adopted: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for task in sorted(tasks, key=_oldest_first):
        key = sync_key_of(task, sync_key_field)
        if key is None or key not in by_key:
            continue
        if key in adopted:
            duplicates += 1
            continue
        adopted[key] = task
    outcomes = []
    up_to_date = 0
    for key, task in adopted.items():
        [*others, row] = by_key[key]
        current = not others and row.operation is Operation.CREATE and _shows_row(task, plan, row, project_gid, people)
        up_to_date += current
        outcomes.append(
            Outcome(
                key, task_gid=task["gid"], payload_hash=row.payload_hash if current else None,
                written=plan.written_values(row.position) if current else None,
            )
        )
    return Adoptions(outcomes, up_to_date, duplicates)


async def rebuild_state(run: RunContext, plan: Plan) -> tuple[pd.DataFrame, list[str]]:
    """Adopt the project's tasks that carry the rows' keys; returns the state as it now is and
    warnings for the run (tasks sharing a key). Counts the adopted tasks in `run.report.rebuilt`.

    For a state that holds nothing for the run's scope, with `plan.settings.sync_key_field`
    set, under the sync's lock, after the connection test."""
    started = time.monotonic()
    client, scope = run.client, run.scope
    run.log(
        f"The sync state ({run.store.location}) holds nothing for {scope}: rebuilding it from the project's tasks "
        f"that carry a row's key in the sync key field {plan.settings.sync_key_field}"
    )
    reads_before = client.requests_sent
    tasks = [task async for task in client.project_tasks(scope.project_gid, opt_fields=MATCH_OPT_FIELDS)]
    adoptions = match_tasks_to_rows(plan, tasks, scope.project_gid, run.me_gid)
    commented = await _comments_already_posted(client, plan, adoptions.outcomes)
    reads = client.requests_sent - reads_before
    await run.in_state(run.store.apply, run.run_id, [*adoptions.outcomes, *commented])
    adopted = len(adoptions.outcomes)
    run.report.rebuilt = adopted
    duplicates = (
        f"; {adoptions.duplicates:,} more tasks carry a key already adopted and were left alone" if adoptions.duplicates else ""
    )
    run.log(
        f"Rebuilt the sync state from Asana: {counted(adopted, 'task')} adopted by their key ({adoptions.up_to_date:,} already "
        f"show their row, {adopted - adoptions.up_to_date:,} to update) out of {len(tasks):,} listed in {reads:,} "
        f"reads, {time.monotonic() - started:,.1f} s{duplicates}"
    )
    warnings = (
        [
            f"Tasks of project {scope.project_gid} carrying a key another task already carries: {adoptions.duplicates:,}; "
            "the oldest of each was adopted and the others left alone: they look like duplicates made before, "
            "to delete in Asana"
        ]
        if adoptions.duplicates
        else []
    )
    return await run.in_state(run.store.synced), warnings
