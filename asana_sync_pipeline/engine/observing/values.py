"""A synced field as the task shows it now, against what the sync last wrote there: pure.

`differs` answers "did someone change what the sync wrote?" field by field, the way Asana
shows each value (text by its words and lines, instants in UTC, people by GID, email or `me`,
custom field values by type). Lists count as changed when an item the sync wrote is gone;
items people added are theirs. `shown` gives the task's value in the plan's canonical form,
for reports and for sending the model's value again (`overwrite`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..asana.shown import gid_of, moment, number, plain_text, rich_text, task_custom_value
from ..fields.value_rules import CUSTOM_FIELD_PREFIX, PARENT_KEY
from ..planning import SYNC_KEY

LIST_FIELDS = frozenset({"tags", "followers", "projects"})
COMPARED = frozenset(
    {
        "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee", "tags",
        "followers", "projects", "section", PARENT_KEY, "parent", "resource_subtype", "approval_status", "liked",
        SYNC_KEY, "custom_fields",
    }
)  # fmt: skip
"""Plan fields compared with the task (and every `custom_fields.<GID>`); others (memberships, workspace) are not."""


@dataclass(frozen=True)
class Context:
    """What comparing needs beside the task: the project, the token's user, custom field types, the sync
    key field, and each row's task (a `parent_key` names a row)."""

    project_gid: str
    me_gid: str | None
    kinds: Mapping[str, str]
    sync_key_field: str | None
    task_of_key: Mapping[str, str]


def _entries(canonical: Any) -> list[str]:
    return [entry for entry in str(canonical).split(",") if entry] if canonical else []


def _person(reference: str, ctx: Context) -> str:
    return (ctx.me_gid or "me") if reference == "me" else reference.lower()


def _people(task_people: list[Any]) -> set[str]:
    found: set[str] = set()
    for person in task_people:
        if isinstance(person, dict):
            found.add(str(person.get("gid")))
            if person.get("email"):
                found.add(str(person["email"]).lower())
    return found


def present(field: str, written: Any, task: Mapping[str, Any], ctx: Context) -> list[str]:
    """The items of a list field the sync wrote that the task still shows."""
    items = _entries(written)
    if field == "followers":
        shown = _people(task.get("followers") or [])
        return [item for item in items if _person(item, ctx) in shown]
    shown_gids = {gid_of(item) for item in task.get(field) or []}
    return [item for item in items if item in shown_gids]


def _section(task: Mapping[str, Any], ctx: Context) -> str | None:
    for membership in task.get("memberships") or []:
        if gid_of(membership.get("project")) == ctx.project_gid:
            return gid_of(membership.get("section"))
    return None


def _custom(task: Mapping[str, Any], gid: str) -> Any:
    for custom in task.get("custom_fields") or []:
        if custom.get("gid") == gid:
            return task_custom_value(custom)
    return None


def _expected_custom(kind: str, written: Any, ctx: Context) -> Any:
    """A recorded custom field value in the shape `task_custom_value` gives."""
    if written is None:
        return None
    if kind == "number":
        return ("n", number(written))
    if kind in ("multi_enum", "people"):
        entries = frozenset(_person(entry, ctx) if kind == "people" else entry for entry in _entries(written))
        return ("set", entries) if entries else None
    if isinstance(written, dict):
        return ("t", moment(written["date_time"])) if written.get("date_time") else ("s", written.get("date"))
    return ("s", str(written))


def differs(field: str, written: Any, task: Mapping[str, Any], ctx: Context) -> bool:
    """Whether the task no longer shows what the sync wrote to `field`."""
    if field in LIST_FIELDS:
        return len(present(field, written, task, ctx)) < len(_entries(written))
    if field == "assignee":
        people = _people([task.get("assignee")]) if task.get("assignee") else set()
        return _person(str(written), ctx) not in people
    if field == "section":
        return _section(task, ctx) != written
    if field == PARENT_KEY:
        if written and written not in ctx.task_of_key:
            return False
        return gid_of(task.get("parent")) != (ctx.task_of_key.get(written) if written else None)
    if field == "parent":
        return gid_of(task.get("parent")) != (written or None)
    if field == SYNC_KEY:
        shown = _custom(task, ctx.sync_key_field) if ctx.sync_key_field else None
        return shown != ("s", written)
    if field.startswith(CUSTOM_FIELD_PREFIX):
        gid = field[len(CUSTOM_FIELD_PREFIX) :]
        kind = ctx.kinds.get(gid)
        return kind is not None and _custom(task, gid) != _expected_custom(kind, written, ctx)
    if field == "custom_fields":
        return any(
            kind is not None and _custom(task, gid) != _expected_custom(kind, value, ctx)
            for gid, value in json.loads(written).items()
            if (kind := ctx.kinds.get(gid)) is not None
        )
    if field == "notes":
        return plain_text(task.get("notes")) != plain_text(written)
    if field == "html_notes":
        return rich_text(task.get("html_notes")) != rich_text(written)
    if field in ("due_at", "start_at"):
        return moment(task.get(field)) != moment(written)
    if field == "name":
        return (task.get("name") or "").strip() != str(written).strip()
    if field in ("completed", "liked"):
        return bool(task.get(field)) != bool(written)
    return task.get(field) != written


def shown(field: str, task: Mapping[str, Any], ctx: Context) -> Any:
    """The task's value of `field`, for a report (None: empty)."""
    if field in LIST_FIELDS:
        items = task.get(field) or []
        return ",".join(str(gid_of(item)) for item in items) or None
    if field == "assignee":
        return gid_of(task.get("assignee"))
    if field == "section":
        return _section(task, ctx)
    if field in (PARENT_KEY, "parent"):
        return gid_of(task.get("parent"))
    if field == SYNC_KEY:
        value = _custom(task, ctx.sync_key_field) if ctx.sync_key_field else None
        return None if value is None else value[1]
    if field.startswith(CUSTOM_FIELD_PREFIX):
        value = _custom(task, field[len(CUSTOM_FIELD_PREFIX) :])
        if value is None:
            return None
        return ",".join(sorted(str(item) for item in value[1])) if value[0] == "set" else str(value[1])
    if field == "custom_fields":
        return None
    return task.get(field)


def is_in_project(task: Mapping[str, Any], ctx: Context) -> bool:
    return any(gid_of(project) == ctx.project_gid for project in task.get("projects") or [])
