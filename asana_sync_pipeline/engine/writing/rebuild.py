"""Rebuilding a lost sync state from Asana, so that losing it never duplicates a task.

The state is a cache of what Asana holds. With `sync_key_field` set, every task
the sync made carries its row's primary key in that text field. A run that finds
no state for its (sync, project) — a new machine, a lost file or database, a fresh
store — lists the project's tasks once (paginated) and adopts every task whose key
is a row's primary key, before anything is created; then it syncs normally.

An adopted task that already shows what the row would send (compared the way Asana
shows it, as reconciliation does) is recorded with the row's payload hash, so the
row is unchanged and costs nothing; any other is recorded without one, so the row
updates it. A task of the sync's user that carries no key (made before `sync_key_field`
was set, with a state since lost) is adopted when it shows exactly what a row without a
task would send, and that row's update writes the key into it. A row whose `task_gid` column names its task keeps that task. When
several tasks carry one key (duplicates made before), the oldest is adopted and the
others are left alone, and counted in the log.
"""

from __future__ import annotations

import time

import pandas as pd

from ..asana.client import AsanaClient
from ..log import counted
from ..observing.matching import match_tasks_to_rows
from ..observing.task_values import TASK_OPT_FIELDS
from ..planning import Plan
from ..state import Outcome
from .comments import carries_comment
from .context import RunContext


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
    tasks = [task async for task in client.project_tasks(scope.project_gid, opt_fields=TASK_OPT_FIELDS)]
    adoptions = match_tasks_to_rows(plan, tasks, scope.project_gid, run.me_gid)
    commented = await _comments_already_posted(client, plan, adoptions.outcomes)
    reads = client.requests_sent - reads_before
    await run.in_state(run.store.apply, run.run_id, [*adoptions.outcomes, *commented])
    adopted = len(adoptions.outcomes)
    run.report.rebuilt = adopted
    duplicates = (
        f"; {adoptions.duplicates:,} more tasks carry a key already adopted and were left alone" if adoptions.duplicates else ""
    )
    if adoptions.by_content:
        duplicates += (
            f"; {adoptions.by_content:,} of them carried no key (made before sync_key_field was set) and show their row "
            "exactly: their key is written into them"
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
