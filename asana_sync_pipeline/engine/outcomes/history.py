"""The changes of a task's fields, told by comparing two readings of it, each with who made it and
when (pure: no requests).

A field changed when its value in the model's terms (`task_values.model_terms`) differs between
the task as last recorded and as read now. Who changed it comes from the events that named the
task: the latest event about that field (a section or a project from an `added` event under it),
else the latest event of the task; the token's own user is the sync (`sync`), anyone else their
email (their name when no email is known). A change no event explains (a listing after an expired
events token) keeps Asana's `modified_at` as its time and, for a completion, `completed_by`.

Each change gets an id made of the task, the field, both values and the moment: reading the same
events twice, or the same change from two readers, records it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..fields.value_rules import CUSTOM_FIELD_PREFIX
from ..observing.task_values import CAPTURED, as_text, model_terms, parse_time

SYNC_AUTHOR = "sync"
"""`changed_by` of the sync's own writes."""
EVENT_FIELDS = {"html_notes": "notes", "custom_fields": CUSTOM_FIELD_PREFIX}
"""An event's `change.field` -> the field it tells of, when the names differ (custom fields: any of them)."""
PARENT_FIELDS = {"section": "section", "project": "projects", "tag": "tags", "task": "parent"}
"""The resource type under an `added`/`removed` event -> the field it changed."""


@dataclass(frozen=True)
class Change:
    """One field of one task that changed: its old and new value as text, by whom and when."""

    field: str
    old_value: str | None
    new_value: str | None
    changed_by: str | None
    changed_at: Any

    def change_id(self, task_gid: str) -> str:
        text = "\x00".join([task_gid, self.field, self.old_value or "", self.new_value or "", str(self.changed_at)])
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def captured(task: Mapping[str, Any], project_gid: str) -> dict[str, str | None]:
    """The fields whose changes the history records, as text: `CAPTURED` and each custom field by name."""
    terms = model_terms(task, project_gid)
    found = {name: as_text(terms.get(name)) for name in CAPTURED}
    for custom in task.get("custom_fields") or []:
        if custom.get("name"):
            found[f"{CUSTOM_FIELD_PREFIX}{custom['name']}"] = as_text(terms.get(f"{CUSTOM_FIELD_PREFIX}{custom['name']}"))
    return found


def _event_field(event: Mapping[str, Any]) -> str | None:
    change = event.get("change") or {}
    if change.get("field"):
        name = str(change["field"])
        return EVENT_FIELDS.get(name, name)
    parent = event.get("parent") or {}
    if event.get("action") in ("added", "removed") and parent.get("resource_type") in PARENT_FIELDS:
        return PARENT_FIELDS[parent["resource_type"]]
    return None


def _tells_of(event_field: str | None, field: str) -> bool:
    if event_field is None:
        return False
    return field.startswith(CUSTOM_FIELD_PREFIX) if event_field == CUSTOM_FIELD_PREFIX else event_field == field


def changes(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    *,
    project_gid: str,
    me_gid: str | None,
    email_of: Callable[[str], str | None],
    by_sync: bool = False,
) -> list[Change]:
    """What changed from `old` to `new` (None: never read before: nothing to compare, no change), told
    by `events` (the task's, oldest first). `by_sync`: the new reading is a write's own answer."""
    if old is None:
        return []
    before, after = captured(old, project_gid), captured(new, project_gid)
    found = []
    for field in sorted(set(before) | set(after)):
        if before.get(field) == after.get(field):
            continue
        author, moment = _author(field, events, me_gid, email_of)
        if by_sync and author is None:
            author = SYNC_AUTHOR
        if author is None and field == "completed" and after.get("completed") == "true":
            completer = new.get("completed_by") or {}
            author = completer.get("email") or completer.get("name") if isinstance(completer, dict) else None
        if moment is None:
            moment = parse_time(new.get("modified_at")) or parse_time(new.get("completed_at"))
        found.append(Change(field, before.get(field), after.get(field), author, moment))
    return found


def _author(
    field: str, events: Sequence[Mapping[str, Any]], me_gid: str | None, email_of: Callable[[str], str | None]
) -> tuple[str | None, Any]:
    """Who made the latest event about `field` (else the task's latest event), and when."""
    about = [event for event in events if _tells_of(_event_field(event), field)] or list(events)
    if not about:
        return None, None
    event = about[-1]
    user = event.get("user") if isinstance(event.get("user"), dict) else None
    moment = parse_time(event.get("created_at"))
    if not user or not user.get("gid"):
        return None, moment
    if me_gid and str(user["gid"]) == me_gid:
        return SYNC_AUTHOR, moment
    return email_of(str(user["gid"])) or user.get("name") or str(user["gid"]), moment


def history_rows(key: str, task_gid: str, found: list[Change], run_id: str | None) -> list[dict[str, Any]]:
    """`task_history` rows of one task's changes."""
    return [
        {
            "change_id": change.change_id(task_gid), "primary_key": key, "task_gid": task_gid, "field": change.field,
            "old_value": change.old_value, "new_value": change.new_value, "changed_by": change.changed_by,
            "changed_at": change.changed_at, "run_id": run_id,
        }  # fmt: skip
        for change in found
    ]
