"""A row's fields given to a task the sync did not create with them: a task a template's job made, or a
task of the project adopted for the row (`adopt_existing`).

One PUT with the fields Asana takes in a body (the sync key among them), then the fields Asana sets
only through actions (tags, followers, projects, section, parent), added, never removed: what the
task already holds (a template's subtasks and description, the tags people gave an adopted task)
stays. What the row does not give is left as it is.
"""

from __future__ import annotations

from typing import Any

from ..errors import AsanaError, AsanaTransportError, AuthenticationError
from ..fields.value_rules import TASK_FIELDS
from ..observing.task_values import OUTCOME_OPT_FIELDS
from ..planning import Plan, PlannedRow
from .context import RunContext
from .failures import failure, field_of, reason_for
from .task_changes import TaskAction, create_only_actions

REMOVING = ("/removeTag", "/removeFollowers", "/removeProject")


def additions(plan: Plan, run: RunContext, row: PlannedRow, task_gid: str, current: dict[str, Any]) -> list[TaskAction]:
    """The actions that give `current` (the task as Asana holds it) the row's create-only fields, adding only."""
    wanted = plan.wanted(row, run.tasks)
    create_only = {name: value for name, value in wanted.items() if name in TASK_FIELDS and TASK_FIELDS[name].create_only}
    actions = create_only_actions(task_gid, current, create_only, project_gid=run.project_gid, me_gid=run.me_gid)
    return [action for action in actions if not action.path.endswith(REMOVING)]


async def give_fields(
    run: RunContext, plan: Plan, row: PlannedRow, task_gid: str, current: dict[str, Any], *, action: str
) -> bool:
    """Write the row's fields to the task; False, and the row rejected (its task recorded, to be updated in
    full next run), when Asana refuses one of them."""
    body = plan.request_body(row, run.project_gid, for_update=True, parents=run.tasks)
    step: TaskAction | None = None
    try:
        if body:
            run.saw(await run.client.update_task(task_gid, body, opt_fields=OUTCOME_OPT_FIELDS))
        for step in additions(plan, run, row, task_gid, current):
            await run.client.post(step.path, step.data)
    except (AuthenticationError, AsanaTransportError):
        raise
    except AsanaError as exc:
        run.tasks[row.key] = task_gid
        run.reject(
            row.key, field_of(exc) or (step.field if step else ""), reason_for(exc), task_gid=task_gid, clear_intent=True,
            **failure(exc, action),
        )  # fmt: skip
        return False
    return True
