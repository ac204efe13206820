"""An update's field changes as the requests that make them: one PUT for the fields Asana takes in
a body (set, or cleared as Asana clears each), then one action per list item or placement that
changed (addTag, removeFollowers, setParent, addTask, ...).

Pure: nothing here reads the task. Lists change by the items the model added or removed since
its last sync, so items people added stay; the configured project is never removed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..fields.names import api_custom_value
from ..fields.value_rules import CUSTOM_FIELD_PREFIX, PARENT_KEY, TASK_FIELDS, to_api_value
from ..planning import SYNC_KEY, FieldChange
from .task_changes import TaskAction

CLEARED_AS = {"notes": "", "html_notes": "<body></body>"}
"""How Asana clears a text (a null is refused there); every other clearable field takes null."""


@dataclass
class FieldRequests:
    """What one update sends: the PUT's body (empty: no PUT) and the actions after it."""

    body: dict[str, Any] = field(default_factory=dict)
    actions: list[TaskAction] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.body) or bool(self.actions)


def _items(canonical: Any) -> list[str]:
    return [entry for entry in str(canonical).split(",") if entry] if canonical else []


def _added_removed(before: Any, after: Any) -> tuple[list[str], list[str]]:
    old, new = _items(before), _items(after)
    return [item for item in new if item not in old], [item for item in old if item not in new]


def _memberships(canonical: Any) -> list[dict[str, str]]:
    return json.loads(canonical) if canonical else []


def requests_for(
    task_gid: str,
    changes: list[FieldChange],
    *,
    project_gid: str,
    kinds: Mapping[str, str],
    sync_key_field: str | None,
    parents: Mapping[str, str],
) -> FieldRequests:
    """The PUT body and actions that carry `changes` to the task."""
    task = f"/tasks/{task_gid}"
    made = FieldRequests()
    custom: dict[str, Any] = {}
    for change in changes:
        name, before, after = change.field, change.before, change.after
        if name == SYNC_KEY:
            if sync_key_field:
                custom[sync_key_field] = after
        elif name.startswith(CUSTOM_FIELD_PREFIX):
            gid = name[len(CUSTOM_FIELD_PREFIX) :]
            if gid in kinds:
                custom[gid] = None if after is None else api_custom_value(kinds[gid], after)
        elif name == "custom_fields":
            old, new = (json.loads(before) if before else {}), (json.loads(after) if after else {})
            custom.update({gid: value for gid, value in new.items() if old.get(gid) != value})
            custom.update({gid: None for gid in old if gid not in new})
        elif name in ("tags",):
            added, removed = _added_removed(before, after)
            made.actions += [TaskAction(f"{task}/addTag", {"tag": tag}) for tag in added]
            made.actions += [TaskAction(f"{task}/removeTag", {"tag": tag}) for tag in removed]
        elif name == "followers":
            added, removed = _added_removed(before, after)
            if added:
                made.actions.append(TaskAction(f"{task}/addFollowers", {"followers": added}))
            if removed:
                made.actions.append(TaskAction(f"{task}/removeFollowers", {"followers": removed}))
        elif name == "projects":
            added, removed = _added_removed(before, after)
            made.actions += [TaskAction(f"{task}/addProject", {"project": project}) for project in added if project != project_gid]
            made.actions += [TaskAction(f"{task}/removeProject", {"project": project}) for project in removed if project != project_gid]
        elif name == "memberships":
            old, new = _memberships(before), _memberships(after)
            made.actions += [TaskAction(f"{task}/addProject", membership) for membership in new if membership not in old]
            kept = {membership["project"] for membership in new} | {project_gid}
            dropped = dict.fromkeys(membership["project"] for membership in old if membership["project"] not in kept)
            made.actions += [TaskAction(f"{task}/removeProject", {"project": project}) for project in dropped]
        elif name == PARENT_KEY:
            made.actions.append(TaskAction(f"{task}/setParent", {"parent": parents.get(after) if after else None}))
        elif name == "parent":
            made.actions.append(TaskAction(f"{task}/setParent", {"parent": after or None}))
        elif name == "section":
            if after:
                made.actions.append(TaskAction(f"/sections/{after}/addTask", {"task": task_gid}))
        elif name in TASK_FIELDS and TASK_FIELDS[name].in_body and not TASK_FIELDS[name].create_only:
            made.body[name] = CLEARED_AS.get(name) if after is None else to_api_value(name, after)
    if custom:
        made.body["custom_fields"] = custom
    return made
