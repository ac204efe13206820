"""Adopting tasks that exist (`adopt_existing`): before a run creates anything, the project is listed
once and each row about to be created that a task of the project matches (`observing.adopting`)
adopts it instead: recorded first (`adopt` in the sync log), then given the row's fields like any
synced task, adding to what the task holds and removing nothing people put there. A row two tasks
match, or that shares its task with another row, is rejected, naming the tasks; a task is adopted
once (the state knows it from then on).

Adoption is a record, not a write: a run killed after it updates the task on the next run, field by
field from nothing written (so lists are only added to).
"""

from __future__ import annotations

from typing import Any

from ..log import counted
from ..observing.adopting import listing_fields, match_existing
from ..planning import Plan, PlannedRow
from ..planning.extras import extras_of
from ..state import Outcome
from .context import RunContext
from .given_tasks import give_fields


async def adopt_existing(run: RunContext, plan: Plan, creates: list[PlannedRow]) -> list[PlannedRow]:
    """Adopt the tasks that match rows about to be created; the creates still needed."""
    spec, values = plan.settings.adopt_existing, extras_of(plan).adopt_values
    candidates = [row for row in creates if not row.gid_from_column]
    if not spec or values is None or not candidates:
        return creates
    match, column = spec["match"], spec["column"]
    tasks = {task["gid"]: task async for task in run.client.project_tasks(run.project_gid, opt_fields=listing_fields(match))}
    known = await run.in_state(run.store.task_gids) | set(run.tasks.values())
    found = match_existing(((row.key, values[row.position]) for row in candidates), list(tasks.values()), match, column, known)
    by_key = {row.key: row for row in candidates}
    adopted: list[tuple[PlannedRow, dict[str, Any]]] = []
    for adoption in found:
        row = by_key[adoption.key]
        if adoption.task_gid is None:
            run.reject(row.key, column, adoption.reason or "", action="adopt")
            continue
        run.tasks[row.key] = adoption.task_gid
        run.record(Outcome(row.key, task_gid=adoption.task_gid, written={}, action="adopt"))
        adopted.append((row, tasks[adoption.task_gid]))
    run.report.adopted_existing += len(adopted)
    if adopted:
        run.log(f"Adopted {counted(len(adopted), 'task')} of the project for rows that would have created one (adopt_existing: {match})")
    await run.flush()  # the adoptions are recorded before any write to their tasks

    async def give(pair: tuple[PlannedRow, dict[str, Any]]) -> None:
        row, task = pair
        if await give_fields(run, plan, row, task["gid"], task, action="update"):
            run.report.updated += 1
            run.record(
                Outcome(
                    row.key, task_gid=task["gid"], payload_hash=row.payload_hash, written=plan.written_values(row.position),
                    action="update",
                )  # fmt: skip
            )

    await run.pool.run(adopted, give)
    done = {adoption.key for adoption in found}
    return [row for row in creates if row.key not in done]
