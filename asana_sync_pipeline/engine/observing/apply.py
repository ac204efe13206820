"""What people did, turned into the plan, as `on_task_deleted` and `on_asana_edit` say: pure.

- A task deleted in Asana: `recreate` plans its row as a create (and the rows beneath it by
  `parent_key`, whose tasks Asana deleted with it, created under the new one, parents first);
  `release` forgets the task and rejects the row, saying how to clear the release.
- A task moved out of the project: released (`keep`), or put back (`overwrite`); one moved where
  the token cannot read it (403): released.
- A synced field a person changed: left as the person set it and reported (`keep`, until the
  model's value changes), or the model's value sent again, that field alone (`overwrite`); with
  `overwrite` a completion the row does not say (it has no `completed`) is undone too, and what a
  run could not send again (its row rejected, a write refused) is sent on a later run.
- A row rejected this run still has its task's deletion or move recorded (released, or its
  mapping forgotten so that it gets a task once valid): the events are read only once.
- Of a task read: a field that shows the model's value is nobody's edit (a person who set what the
  model says, or a write of the sync's an older copy of the state did not record); a change it
  already shows is not sent; an `if_empty` field holding a person's value (neither empty nor what
  the sync last wrote) is not sent, and the sync's value stays recorded (`Plan.held`).
- Each edit reported says what the run does with it: `kept`, or `overwritten` (with both values)
  when the run sends the model's value over it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..fields.rule_selection import NAMED_FIELDS
from ..fields.value_rules import CUSTOM_FIELD_PREFIX
from ..planning import KEPT, OVERWRITTEN, Edit, FieldChange, Operation, PeopleSeen, Plan, Release, operation_column
from ..planning.changes import NOT_CLEARED
from ..planning.extras import extras_of
from ..settings import EditPolicy, FieldPolicy, TaskDeletedPolicy
from .adopting import comparable as adoption_value
from .adopting import value_of
from .observe import Observation
from .task_values import (
    COMPARED,
    LIST_FIELDS,
    Context,
    comparable,
    differs,
    entries,
    gid_of,
    is_empty_in,
    is_in_project,
    present,
    shown,
    shows,
    task_labels,
)

DELETED = "its task {gid} was deleted in Asana and on_task_deleted is release: the sync no longer writes this row"
MOVED_OUT = "its task {gid} was moved out of the project by a person ({where}): released, never written again"
NOT_CREATED = "its task {gid} was deleted in Asana and sync_mode {mode} does not create tasks"
HIDDEN = (
    "its task {gid} can no longer be read (403): a person moved it where this token has no access; released, "
    "never written again"
)
REFERRING_FIELDS = NAMED_FIELDS - {"custom_fields"}
"""Fields whose values name things by GID (that column holds JSON, not GIDs)."""
REFERRING_KINDS = ("enum", "multi_enum", "people")
MOVED_OUT_MARK = "moved_out"
"""In the people's edits the state keeps: a task moved out that `overwrite` has yet to put back."""


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


def subtasks_to_confirm(plan: Plan, observation: Observation) -> set[str]:
    """Tasks of the rows beneath a deleted task (by `parent_key`) that the observation says nothing
    of: Asana deleted them with their parent unless a person moved them first; read them to know."""
    gids = dict(zip(plan.table["primary_key"].astype(str), plan.table["task_gid"]))
    deleted = {key for key, gid in gids.items() if gid in observation.gone}
    below = (gids.get(key) for key in _descendants(plan, deleted))
    return {gid for gid in below if isinstance(gid, str) and gid not in observation.tasks and gid not in observation.gone}


def if_empty_to_read(plan: Plan, observation: Observation) -> set[str]:
    """Tasks of updates that would write an `if_empty` field, that the observation did not read: read
    them to know whether the field is empty there, or holds what the sync wrote (else a person's value)."""
    gids = plan.table["task_gid"].to_numpy(dtype=object)
    updates = plan.mask(Operation.UPDATE)
    return {
        str(gids[position])
        for position, changes in plan.changes.items()
        if updates[position] and isinstance(gids[position], str) and str(gids[position]) not in observation.tasks
        and any(change.policy is FieldPolicy.IF_EMPTY for change in changes)
    }  # fmt: skip


def _owned(field_name: str) -> bool:
    return field_name in COMPARED or field_name.startswith(CUSTOM_FIELD_PREFIX)


def _models(plan: Plan, field_name: str) -> bool:
    """Whether the model keeps owning `field_name` once its task exists (not `on_create`, `if_empty`)."""
    return plan.policies.get(field_name) not in (FieldPolicy.ON_CREATE, FieldPolicy.IF_EMPTY)


def _seen(field_name: str, written: Any, task: Mapping[str, Any], ctx: Context) -> Any:
    """What identifies a person's edit of `field_name`, kept to tell it from a later one: Asana's value,
    or for a list the items the sync wrote that are gone (items people add to it are no edit)."""
    if field_name in LIST_FIELDS:
        kept_items = set(present(field_name, written, task, ctx))
        return {"removed": sorted(item for item in str(written or "").split(",") if item and item not in kept_items)}
    return shown(field_name, task, ctx)


def _stored(value: Any) -> Any:
    """`value` as the state keeps it (JSON), so that a value read back compares equal."""
    return json.loads(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


def with_observation(
    plan: Plan,
    observation: Observation,
    written: Mapping[str, Mapping[str, Any]],
    ctx: Context,
    kept: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    creating: Collection[str] = (),
) -> Plan:
    """The plan once what people did is taken into account (`plan.people` says what was seen).

    `written`: the values the sync last wrote to the rows of the tasks seen; `kept`: the edits
    earlier runs saw and left in place (key -> field -> Asana's value), reported again only when
    the person changes the field again. Of each task read: what it already shows is not sent again;
    an `if_empty` field holding a person's value is not sent (`held`); a field a person changed that
    shows the model's value is no edit. `creating`: rows whose create an interrupted run left unsettled
    (their tasks are matched to them, so they are not tasks the state lost)."""
    kept = kept or {}
    ctx.people.learn(observation.tasks.values())
    settings = plan.settings
    table = plan.table
    keys = table["primary_key"].to_numpy(dtype=object)
    gids = table["task_gid"].to_numpy(dtype=object)
    known = table["gid_known"].to_numpy(dtype=bool).copy()
    operations = plan.operation_codes()
    task_gids = gids.copy()
    sends = table["sends"].to_numpy(dtype=bool).copy()
    reopen = table["reopen"].to_numpy(dtype=bool)
    position_of = {str(gid): index for index, gid in enumerate(gids) if known[index] and isinstance(gid, str)}
    changes = {position: list(found) for position, found in plan.changes.items()}
    held = {position: dict(found) for position, found in plan.held.items()}
    rejections = [plan.rejections]
    edits: list[Edit] = []
    releases: list[Release] = []
    put_back: dict[int, str | None] = {}
    drifted_values: dict[str, dict[str, Any]] = {}
    differing: dict[str, dict[str, Any]] = {}

    def reject(position: int, field_name: str, reason: str) -> None:
        operations[position] = Operation.REJECT.code
        rejections.append(pd.DataFrame({"primary_key": [keys[position]], "field": [field_name], "reason": [reason]}))

    forget: list[str] = []
    deleted_keys = sorted(str(keys[position_of[gid]]) for gid in observation.gone if gid in position_of)
    for key in deleted_keys:
        position = int(np.flatnonzero(keys == key)[0])
        gid = str(gids[position])
        rejected = operations[position] == Operation.REJECT.code
        if settings.on_task_deleted is TaskDeletedPolicy.RELEASE:
            releases.append(Release(key, gid, "deleted in Asana"))
            if not rejected:
                reject(position, "task_gid", DELETED.format(gid=gid))
            continue
        forget.append(key)
        if rejected:
            continue
        if not settings.sync_mode.creates:
            reject(position, "task_gid", NOT_CREATED.format(gid=gid, mode=settings.sync_mode.value))
        else:
            operations[position] = Operation.CREATE.code
            task_gids[position] = None
            known[position] = False
            sends[position] = False
            changes.pop(position, None)
            held.pop(position, None)

    def send(position: int, resend: list[FieldChange]) -> None:
        current = {change.field: change for change in changes.get(position, [])}
        for change in resend:
            current.setdefault(change.field, change)
        changes[position] = list(current.values())
        operations[position] = Operation.UPDATE.code
        sends[position] = True

    overwrite = settings.on_asana_edit is EditPolicy.OVERWRITE
    moved = 0
    for gid in sorted(observation.hidden):
        found = position_of.get(gid)
        if found is not None:
            moved += 1
            key = str(keys[found])
            releases.append(Release(key, gid, "moved where this token has no access"))
            if operations[found] != Operation.REJECT.code:
                reject(found, "task_gid", HIDDEN.format(gid=gid))
    for gid, task in observation.tasks.items():
        found = position_of.get(gid)
        if found is None:
            moved += not is_in_project(task, ctx)  # a task whose row left the model: the removal releases it
            continue
        position = found
        key = str(keys[position])
        rejected = operations[position] == Operation.REJECT.code
        recorded = written.get(key) or {}
        if not is_in_project(task, ctx):
            moved += 1
            where = ", ".join(f"{project.get('name')!r}" for project in task.get("projects") or []) or "no project"
            if not overwrite:
                releases.append(Release(key, gid, f"moved out of the project ({where})"))
                if not rejected:
                    reject(position, "task_gid", MOVED_OUT.format(gid=gid, where=where))
                continue
            drifted_values[key] = {MOVED_OUT_MARK: where}
            if rejected:
                differing[key] = dict(drifted_values[key])
                continue
            put_back[position] = recorded.get("section")
        model = plan.written_values(position)
        # A field that shows the model's value is nobody's edit to report or send back: a person who set
        # what the model says, or the sync's own writes that an older copy of the state did not record.
        drifted = [
            name for name, value in recorded.items()
            if _owned(name) and differs(name, value, task, ctx) and not shows(name, model.get(name), task, ctx)
        ]  # fmt: skip
        now = {name: _stored(_seen(name, recorded[name], task, ctx)) for name in drifted}
        seen_before = kept.get(key) or {}
        reported = [name for name in drifted if name not in seen_before or seen_before[name] != now[name]]
        drifted_values[key] = {**drifted_values.get(key, {}), **now}
        if rejected:
            differing[key] = dict(now)
            edits.extend(_edit(plan, key, task, name, model.get(name), shown(name, task, ctx), KEPT) for name in reported)
            continue
        if position in changes:
            changes[position] = _settled(changes[position], task, ctx, held.setdefault(position, {}))
            if not held[position]:
                held.pop(position)
            if operations[position] == Operation.UPDATE.code:
                sends[position] = bool(changes[position]) or bool(reopen[position]) or position in put_back
        undone = False
        if overwrite:
            resend = _resends(plan, position, drifted, task, ctx)
            if "completed" not in recorded and task.get("completed") and not bool(reopen[position]):
                resend.append(FieldChange("completed", True, False, seen=True, in_asana=True))
                undone = True
            if resend or position in put_back:
                send(position, resend)
        sent = {change.field for change in changes.get(position, [])} if sends[position] else set()
        differing[key] = {name: value for name, value in now.items() if name not in sent}
        edits.extend(
            _edit(plan, key, task, name, model.get(name), shown(name, task, ctx), OVERWRITTEN if name in sent else KEPT)
            for name in reported
        )
        if undone:
            edits.append(_edit(plan, key, task, "completed", False, True, OVERWRITTEN))
    if overwrite:
        for key, fields in kept.items():
            at = np.flatnonzero(keys == key)
            position = int(at[0]) if len(at) else -1
            if position < 0 or key in differing or key in deleted_keys or operations[position] == Operation.REJECT.code:
                continue
            recorded = written.get(key) or {}
            if MOVED_OUT_MARK in fields:
                put_back[position] = recorded.get("section")
            resend = _resends_kept(plan, position, fields, recorded)
            if resend or position in put_back:
                send(position, resend)
    table = table.assign(operation=operation_column(operations), task_gid=task_gids, gid_known=known, sends=sends)
    joined = pd.concat(rejections, ignore_index=True) if len(rejections) > 1 else plan.rejections
    people = PeopleSeen(
        edits, releases, deleted_keys, len(deleted_keys), moved, observation.reads, observation.events,
        observation.listed, len(observation.unknown), _unknown_own(plan, operations, observation, ctx, creating), read=True,
        kept_before={key: dict(found) for key, found in kept.items()}, drifted=drifted_values, differing=differing,
        forget=forget,
    )  # fmt: skip
    return replace(plan, table=table, changes=changes, held=held, rejections=joined, people=people, put_back=put_back)


def _edit(plan: Plan, key: str, task: Mapping[str, Any], name: str, model: Any, asana: Any, outcome: str) -> Edit:
    """A person's edit of `name` on `task`, with its values as people read them and the task's address."""
    labels = {**plan.labels, **task_labels(task)}
    shown_as = (_field_label(name, labels), _readable(plan, name, model, labels), _readable(plan, name, asana, labels))
    return Edit(key, str(task["gid"]), name, model, asana, outcome, task.get("permalink_url"), shown_as)


def _settled(changes: list[FieldChange], task: Mapping[str, Any], ctx: Context, held: dict[str, Any]) -> list[FieldChange]:
    """An update's changes once its task was read: those the task already shows are not sent; an
    `if_empty` field holding a person's value is not sent (and `held` keeps what the sync wrote there);
    the others say what Asana holds when it is not what the sync last wrote."""
    settled = []
    for change in changes:
        if _done(change, task, ctx):
            continue
        if change.policy is FieldPolicy.IF_EMPTY and _persons(change, task, ctx):
            held[change.field] = change.before
            continue
        if comparable(change.field, change.before, ctx) and not shows(change.field, change.before, task, ctx):
            change = replace(change, seen=True, in_asana=shown(change.field, task, ctx))
        settled.append(change)
    return settled


def _done(change: FieldChange, task: Mapping[str, Any], ctx: Context) -> bool:
    """Whether the task already shows what `change` would make it show (lists: the items it adds are
    there and those it removes are not)."""
    if change.field in LIST_FIELDS:
        before, after = entries(change.before), entries(change.after)
        added, removed = [item for item in after if item not in before], [item for item in before if item not in after]
        there = set(present(change.field, ",".join(added + removed), task, ctx))
        return set(added) <= there and not there & set(removed)
    return shows(change.field, change.after, task, ctx)


def _persons(change: FieldChange, task: Mapping[str, Any], ctx: Context) -> bool:
    """Whether an `if_empty` field holds a person's value: not empty, and not what the sync last wrote
    (a value the sync never wrote, or that cannot be compared, is taken for a person's)."""
    if is_empty_in(change.field, task, ctx):
        return False
    if change.before is None or not comparable(change.field, change.before, ctx):
        return True
    return differs(change.field, change.before, task, ctx)


def _unknown_own(
    plan: Plan, operations: np.ndarray, observation: Observation, ctx: Context, creating: Collection[str]
) -> int:
    """Tasks of the project no state knows that could be this sync's: created by its user and named like a
    row this run creates (a create an interrupted run left unsettled excepted: its task is matched to its row).
    None with `sync_key_field`, and none that `adopt_existing` would adopt: the run adopts those instead of
    creating their rows again."""
    me = ctx.people.me_gid
    names = plan.values.get("name")
    if plan.settings.sync_key_field or not me or names is None or not observation.unknown:
        return 0
    to_create = (operations == Operation.CREATE.code) & ~np.isin(plan.table["primary_key"].to_numpy(dtype=object), list(creating))
    wanted = {str(name).strip() for name in names[to_create] if isinstance(name, str)}
    adopt, adopt_values = plan.settings.adopt_existing, extras_of(plan).adopt_values
    adoptable = {adoption_value(value) for value in adopt_values[to_create]} - {None} if adopt and adopt_values is not None else set()
    return sum(
        1
        for task in observation.unknown
        if gid_of(task.get("created_by")) == me
        and (task.get("name") or "").strip() in wanted
        and not (adoptable and value_of(task, adopt["match"], plan.labels) in adoptable)
    )


def _field_label(name: str, labels: Mapping[str, str]) -> str:
    """A field as the model names it: a custom field by its name in the project."""
    gid = name.removeprefix(CUSTOM_FIELD_PREFIX)
    return CUSTOM_FIELD_PREFIX + labels[gid] if gid != name and gid in labels else name


def _readable(plan: Plan, name: str, value: Any, labels: Mapping[str, str]) -> str | None:
    """A canonical value as people read it: people by email, tags, sections and options by name, yes/no in words."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    kind = plan.kinds.get(name.removeprefix(CUSTOM_FIELD_PREFIX)) if name.startswith(CUSTOM_FIELD_PREFIX) else None
    if name not in REFERRING_FIELDS and kind not in REFERRING_KINDS:
        return str(value)
    return ", ".join(labels.get(entry, entry) for entry in str(value).split(","))


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
        asana = shown(name, task, ctx)
        if name in LIST_FIELDS:
            kept = present(name, after, task, ctx)
            resend.append(FieldChange(name, ",".join(kept) or None, after, seen=True, in_asana=asana))
        else:
            resend.append(FieldChange(name, asana, after, seen=True, in_asana=asana))
    return resend


def _resends_kept(plan: Plan, position: int, fields: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[FieldChange]:
    """The model's value of each field an earlier run could not send again (`overwrite`), from what
    the state kept of it (the task was not read this run: nothing changed it since)."""
    now = plan.written_values(position)
    resend = []
    for name, seen_value in fields.items():
        if name == MOVED_OUT_MARK or name not in recorded or not _models(plan, name):
            continue
        after = now.get(name)
        if after is None and name in NOT_CLEARED:
            continue
        if name in LIST_FIELDS:
            gone = set((seen_value or {}).get("removed") or [])
            still = [item for item in str(recorded[name] or "").split(",") if item and item not in gone]
            resend.append(FieldChange(name, ",".join(still) or None, after))
        else:
            resend.append(FieldChange(name, seen_value, after))
    return resend


def people_edits_after(plan: Plan, failed: set[str]) -> dict[str, dict[str, Any]]:
    """The edits people made that still differ from what the sync wrote once `plan` ran (key -> field
    -> Asana's value), to keep in the state: what earlier runs saw, replaced by what this run saw
    of the tasks it read, less the fields this run sent (`failed`: keys whose writes failed keep
    all they had), the rows that left the model, and the tasks deleted or released. Fields people own
    once written (`on_create`, `if_empty`) are kept too, so that an edit is reported once; they never
    count as differing from the model (`differing_from_model`)."""
    people = plan.people
    table = plan.table
    keys = table["primary_key"].to_numpy(dtype=object)
    updates = plan.mask(Operation.UPDATE)
    sends = table["sends"].to_numpy(dtype=bool)
    gone = set(people.deleted_keys) | {release.key for release in people.releases}
    after: dict[str, dict[str, Any]] = {}
    for position, key in enumerate(keys):
        key = str(key)
        if key in gone:
            continue
        if key in failed:
            found = {**(people.kept_before.get(key) or {}), **people.drifted.get(key, {})}
        elif key in people.differing:
            found = dict(people.differing[key])
        else:
            found = dict(people.kept_before.get(key) or {})
            if position in plan.put_back:
                found.pop(MOVED_OUT_MARK, None)
            if found and updates[position] and sends[position]:
                changed = plan.changes.get(position)
                sent = {change.field for change in changed or []}
                found = {} if changed is None else {name: value for name, value in found.items() if name not in sent}
        if found:
            after[key] = found
    return after


def differing_from_model(plan: Plan, edits: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Of the edits kept after a run (`people_edits_after`), those that leave a task differing from the
    model: fields the model owns (not `on_create` or `if_empty`), and tasks moved out to be put back."""
    found = {
        key: {name: value for name, value in fields.items() if name == MOVED_OUT_MARK or _models(plan, name)}
        for key, fields in edits.items()
    }
    return {key: fields for key, fields in found.items() if fields}
