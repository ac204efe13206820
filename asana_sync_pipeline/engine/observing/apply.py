"""What people did, turned into the plan, as `on_task_deleted` and `on_asana_edit` say: pure.

- A task deleted in Asana: `recreate` plans its row as a create (and the rows beneath it by
  `parent_key`, whose tasks Asana deleted with it, created under the new one, parents first);
  `release` forgets the task and rejects the row, saying how to clear the release.
- A task moved out of the project: released (`keep`), or put back (`overwrite`).
- A synced field a person changed: left as the person set it and reported (`keep`, until the
  model's value changes), or the model's value sent again, that field alone (`overwrite`); with
  `overwrite` a completion or a reopening the row does not say is undone too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..fields.rules import CUSTOM_FIELD_PREFIX
from ..planning import Edit, FieldChange, Operation, PeopleSeen, Plan, Release
from ..planning.changes import NOT_CLEARED
from ..settings import EditPolicy, FieldPolicy, TaskDeletedPolicy
from .observe import Observation
from .values import COMPARED, LIST_FIELDS, Context, differs, is_in_project, present, shown

DELETED = "its task {gid} was deleted in Asana and on_task_deleted is release: the sync no longer writes this row"
MOVED_OUT = "its task {gid} was moved out of the project by a person ({where}): released, never written again"
NOT_CREATED = "its task {gid} was deleted in Asana and sync_mode {mode} does not create tasks"


def _descendants(plan: Plan, keys: set[str]) -> set[str]:
    """Rows beneath `keys` by `parent_key`, at any depth."""
    parents = plan.parent_keys()
    if parents is None or not keys:
        return set()
    row_keys = plan.table["primary_key"].to_numpy(dtype=object)
    found, frontier = set(), set(keys)
    while frontier:
        below = {str(key) for key, parent in zip(row_keys, parents) if parent in frontier and key not in found}
        found |= below
        frontier = below
    return found


def _owned(field_name: str) -> bool:
    return field_name in COMPARED or field_name.startswith(CUSTOM_FIELD_PREFIX)


def with_observation(plan: Plan, observation: Observation, written: Mapping[str, Mapping[str, Any]], ctx: Context) -> Plan:
    """The plan once what people did is taken into account (`plan.people` says what was seen)."""
    settings = plan.settings
    table = plan.table
    keys = table["primary_key"].to_numpy(dtype=object)
    gids = table["task_gid"].to_numpy(dtype=object)
    known = table["gid_known"].to_numpy(dtype=bool).copy()
    operations = table["operation"].to_numpy(dtype=object).copy()
    task_gids = gids.copy()
    sends = table["sends"].to_numpy(dtype=bool).copy()
    position_of = {str(gid): index for index, gid in enumerate(gids) if known[index] and isinstance(gid, str)}
    changes = {position: list(found) for position, found in plan.changes.items()}
    rejections = [plan.rejections]
    edits: list[Edit] = []
    releases: list[Release] = []
    put_back: dict[int, str | None] = {}

    def reject(position: int, field_name: str, reason: str) -> None:
        operations[position] = Operation.REJECT.value
        rejections.append(pd.DataFrame({"primary_key": [keys[position]], "field": [field_name], "reason": [reason]}))

    deleted_keys = {str(keys[position_of[gid]]) for gid in observation.gone if gid in position_of}
    deleted_keys |= _descendants(plan, deleted_keys)
    for at in np.flatnonzero(np.isin(keys, list(deleted_keys))):
        position = int(at)
        key, gid = str(keys[position]), str(gids[position])
        if operations[position] == Operation.REJECT:
            continue
        if settings.on_task_deleted is TaskDeletedPolicy.RELEASE:
            releases.append(Release(key, gid, "deleted in Asana"))
            reject(position, "task_gid", DELETED.format(gid=gid))
        elif not settings.sync_mode.creates:
            reject(position, "task_gid", NOT_CREATED.format(gid=gid, mode=settings.sync_mode.value))
        else:
            operations[position] = Operation.CREATE.value
            task_gids[position] = None
            known[position] = False
            sends[position] = False
            changes.pop(position, None)

    moved = 0
    for gid, task in observation.tasks.items():
        found = position_of.get(gid)
        if found is None or operations[found] == Operation.REJECT:
            continue
        position = found
        key = str(keys[position])
        if not is_in_project(task, ctx):
            moved += 1
            where = ", ".join(f"{project.get('name')!r}" for project in task.get("projects") or []) or "no project"
            if settings.on_asana_edit is EditPolicy.OVERWRITE:
                put_back[position] = (written.get(key) or {}).get("section")
            else:
                releases.append(Release(key, gid, f"moved out of the project ({where})"))
                reject(position, "task_gid", MOVED_OUT.format(gid=gid, where=where))
                continue
        recorded = written.get(key) or {}
        drifted = [name for name, value in recorded.items() if _owned(name) and differs(name, value, task, ctx)]
        for name in drifted:
            edits.append(Edit(key, gid, name, recorded[name], shown(name, task, ctx)))
        if settings.on_asana_edit is not EditPolicy.OVERWRITE:
            continue
        resend = _resends(plan, position, drifted, task, ctx)
        if "completed" not in recorded and task.get("completed") and not bool(table["reopen"].iat[position]):
            resend.append(FieldChange("completed", True, False))
        if resend or position in put_back:
            current = {change.field: change for change in changes.get(position, [])}
            for change in resend:
                current.setdefault(change.field, change)
            changes[position] = list(current.values())
            operations[position] = Operation.UPDATE.value
            sends[position] = True
    table = table.assign(operation=operations, task_gid=task_gids, gid_known=known, sends=sends)
    joined = pd.concat(rejections, ignore_index=True) if len(rejections) > 1 else plan.rejections
    people = PeopleSeen(
        edits, releases, sorted(deleted_keys), len(deleted_keys), moved, observation.reads, observation.events,
        observation.listed, len(observation.unknown), read=True,
    )  # fmt: skip
    return replace(plan, table=table, changes=changes, rejections=joined, people=people, put_back=put_back)


def _resends(plan: Plan, position: int, drifted: list[str], task: Mapping[str, Any], ctx: Context) -> list[FieldChange]:
    """The model's value of each drifted field, to send again (lists: only the items gone)."""
    now = plan.written_values(position)
    resend = []
    for name in drifted:
        if plan.policies.get(name) in (FieldPolicy.ON_CREATE, FieldPolicy.IF_EMPTY):
            continue
        after = now.get(name)
        if after is None and name in NOT_CLEARED:
            continue
        if name in LIST_FIELDS:
            kept = present(name, after, task, ctx)
            resend.append(FieldChange(name, ",".join(kept) or None, after))
        else:
            resend.append(FieldChange(name, shown(name, task, ctx), after))
    return resend

