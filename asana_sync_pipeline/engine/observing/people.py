"""What people did in Asana since the last run, taken into the plan: one path, for the dry run
and for the run that writes (under its lock), so that the two never drift apart.

The run does one thing more, between reading the project and taking people's changes in: it
adopts tasks carrying the keys of rows the state does not know, and plans again against the
state as it is under the lock (`between`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..asana.client import AsanaClient
from ..log import Log
from ..planning import Plan
from ..state import StateStore, SyncScope
from .apply import if_empty_to_read, subtasks_to_confirm, with_observation
from .observe import Observation, confirm, observe, ours_from
from .task_values import Context, People

StateCall = Callable[..., Awaitable[Any]]
"""How the caller reaches the state: `call(method, *args)` runs `method(scope, *args)`."""
Between = Callable[[Observation], Awaitable[tuple[Plan, pd.DataFrame]]]


@dataclass(frozen=True)
class StateReads:
    """The state's reads observing needs, however the caller reaches the store: directly (a dry run),
    or off the event loop on the connection that holds the sync's lock (`RunContext.in_state`)."""

    store: StateStore
    scope: SyncScope
    call: StateCall

    @classmethod
    def direct(cls, store: StateStore, scope: SyncScope) -> StateReads:
        async def call(method: Callable[..., Any], *args: Any) -> Any:
            return method(scope, *args)

        return cls(store, scope, call)


def task_of_key(synced: pd.DataFrame) -> dict[str, str]:
    """Row key -> task GID of every row the state maps."""
    return dict(zip(synced["primary_key"].astype(str), synced["task_gid"].astype(str))) if len(synced) else {}


async def observe_people(
    client: AsanaClient,
    plan: Plan,
    synced: pd.DataFrame,
    state: StateReads,
    *,
    me_gid: str | None,
    log: Log,
    want_unknown: bool = False,
    listed_already: bool = False,
    between: Between | None = None,
) -> tuple[Plan, Observation]:
    """The plan with what people did since the last run taken in (see `apply.with_observation`), and
    what was seen (whose cursor the run saves once its outcome is recorded).

    `synced`: the state's rows for the sync; `want_unknown`: also read tasks the state does not know
    (to adopt them by their sync key); `listed_already`: this run has just listed the project (a
    rebuild); `between`: the run's step after reading and before taking in (see the module doc).
    Without a sync key, the tasks of the project no state knows that the sync's user made are read
    too, to tell whether the state lost the sync's tasks (the lost-state guard). The tasks of updates
    that would write an `if_empty` field are read when the events did not bring them, to know whether a
    person set a value there."""
    cursor = await state.call(state.store.event_cursor)
    known_until = await state.call(state.store.last_finished_at)
    others = await state.call(state.store.project_task_gids)
    judge_unknown = not plan.settings.sync_key_field
    observation = await observe(
        client, state.scope.project_gid, ours_from(synced), cursor, want_unknown=want_unknown, log=log,
        listed_already=listed_already, known={*synced["task_gid"].astype(str), *others}, me_gid=me_gid,
        known_until=known_until, judge_unknown=judge_unknown,
    )  # fmt: skip
    if between is not None:
        plan, synced = await between(observation)
    ours = ours_from(synced)
    await confirm(client, observation, subtasks_to_confirm(plan, observation), ours=len(ours), project_gid=state.scope.project_gid)
    await confirm(client, observation, if_empty_to_read(plan, observation), ours=len(ours), project_gid=state.scope.project_gid)
    keys = [ours[gid] for gid in observation.tasks if gid in ours]
    written = await state.call(state.store.written, keys) if keys else {}
    kept = await state.call(state.store.people_edits)
    creating = []
    if judge_unknown and observation.unknown:
        creating = [intent.primary_key for intent in await state.call(state.store.open_intents)]
    people = People(me_gid, observation.tasks.values())
    ctx = Context(state.scope.project_gid, people, plan.kinds, plan.settings.sync_key_field, task_of_key(synced))
    return with_observation(plan, observation, written, ctx, kept, creating=creating), observation
