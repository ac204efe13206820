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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from ..asana.client import AsanaClient
from .comments import carries_comment
from ..asana.connection import AUTHENTICATION_FAILED, check_connection, unreachable
from ..errors import AsanaTransportError, AuthenticationError, ConnectionCheckError
from ..planning.plan import CREATE, Plan, api_payload
from .reconcile import MATCH_OPT_FIELDS, People, observe_payload, observe_task
from ..settings import AsanaSettings
from ..state import Outcome, StateStore, SyncScope

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


def _sync_key(task: dict[str, Any], sync_key_field: str) -> str | None:
    for field in task.get("custom_fields") or []:
        if field.get("gid") == sync_key_field:
            return field.get("text_value")
    return None


def _oldest_first(task: dict[str, Any]) -> tuple[str, int]:
    return (task.get("created_at") or "", int(task["gid"]) if str(task["gid"]).isdigit() else 0)


def _shows_row(task: dict[str, Any], plan: Plan, position: int, project_gid: str, people: People) -> bool:
    payload = api_payload(
        plan.payload_fields(position), project_gid=project_gid, sync_key_field=plan.settings.sync_key_field, for_update=False
    )
    if not set(payload) <= COMPARED_FIELDS:
        return False
    return observe_task(task, people).shows(observe_payload(payload, people))


async def _comments_already_posted(client: AsanaClient, plan: Plan, adopted: list[Outcome]) -> list[Outcome]:
    """For adopted rows with a comment, whether their task already carries it (one read each):
    such a comment is recorded as posted, so rebuilding the state never comments twice."""
    positions = {key: position for position, key in enumerate(plan.rows["primary_key"])}
    found = []
    for outcome in adopted:
        position = positions.get(outcome.primary_key)
        text = plan.comment(position) if position is not None else None
        if text is not None and outcome.task_gid and await carries_comment(client, outcome.task_gid, text):
            found.append(Outcome(outcome.primary_key, comment_hash=int(plan.rows["comment_hash"].iat[position])))
    return found


def match_tasks_to_rows(plan: Plan, tasks: list[dict[str, Any]], project_gid: str, me_gid: str | None) -> Adoptions:
    """Pair each row without a task of its own with the oldest listed task carrying its key."""
    sync_key_field = plan.settings.sync_key_field or ""
    rows = plan.rows
    positions: dict[str, list[int]] = {}
    for position, key, from_column in zip(rows.index, rows["primary_key"], rows["gid_from_column"]):
        if key is not None and not pd.isna(key) and not from_column:
            positions.setdefault(str(key), []).append(int(position))
    people = People(tasks, me_gid)
    adopted: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for task in sorted(tasks, key=_oldest_first):
        key = _sync_key(task, sync_key_field)
        if key not in positions:
            continue
        if key in adopted:
            duplicates += 1
            continue
        adopted[key] = task
    outcomes = []
    up_to_date = 0
    for key, task in adopted.items():
        [*others, position] = positions[key]
        current = not others and rows["operation"].iat[position] == CREATE and _shows_row(task, plan, position, project_gid, people)
        up_to_date += current
        payload_hash = int(rows["payload_hash"].iat[position]) if current else None
        outcomes.append(Outcome(key, task_gid=task["gid"], payload_hash=payload_hash))
    return Adoptions(outcomes, up_to_date, duplicates)


async def rebuild_state(
    plan: Plan,
    *,
    asana: AsanaSettings,
    scope: SyncScope,
    store: StateStore,
    run_id: str,
    log: Callable[[str], None],
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[pd.DataFrame, int, list[str]]:
    """Adopt the project's tasks that carry the rows' keys; returns the state as it now is, how many
    were adopted, and warnings for the run (tasks sharing a key).

    For a state that holds nothing for `scope`, with `plan.settings.sync_key_field` set,
    under the sync's lock. The connection test comes first, as before any run's reads."""
    started = time.monotonic()
    async with AsanaClient.from_settings(asana, on_retry=log, transport=transport) as client:
        info = await check_connection(
            client, scope.project_gid, sync_key_field=plan.settings.sync_key_field, token_source=asana.token_source
        )
        log(
            f"The sync state ({store.location}) holds nothing for {scope}: rebuilding it from the project's tasks "
            f"that carry a row's key in the sync key field {plan.settings.sync_key_field}"
        )
        reads_before = client.requests_sent
        try:
            tasks = [task async for task in client.project_tasks(scope.project_gid, opt_fields=MATCH_OPT_FIELDS)]
            adoptions = match_tasks_to_rows(plan, tasks, scope.project_gid, info.user_gid)
            commented = await _comments_already_posted(client, plan, adoptions.outcomes)
        except AuthenticationError:
            raise ConnectionCheckError(AUTHENTICATION_FAILED.format(source=asana.token_source)) from None
        except AsanaTransportError as exc:
            raise unreachable(client, exc) from None
        reads = client.requests_sent - reads_before
    store.apply(scope, run_id, [*adoptions.outcomes, *commented])
    adopted = len(adoptions.outcomes)
    duplicates = (
        f"; {adoptions.duplicates:,} more tasks carry a key already adopted and were left alone" if adoptions.duplicates else ""
    )
    log(
        f"Rebuilt the sync state from Asana: {adopted:,} tasks adopted by their key ({adoptions.up_to_date:,} already "
        f"show their row, {adopted - adoptions.up_to_date:,} to update) out of {len(tasks):,} listed in {reads:,} "
        f"reads, {time.monotonic() - started:,.1f} s{duplicates}"
    )
    warnings = (
        [
            f"{adoptions.duplicates:,} tasks of project {scope.project_gid} carry a key another task already carries; "
            "the oldest of each was adopted and the others left alone: they look like duplicates made before, "
            "to delete in Asana"
        ]
        if adoptions.duplicates
        else []
    )
    return store.synced(scope), adopted, warnings
