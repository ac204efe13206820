"""Field-level changes: what an update sends is what the model changed since the row's last
successful sync, field by field, as each field's policy allows.

Pure. `before` is what the state recorded of the row's fields at its last sync (the
model's canonical values then), `after` what the model holds now. A field whose value
is the same is not sent; a field the model no longer gives (NULL, or its column gone)
is cleared, unless its policy or its nature says otherwise. People's edits between
runs are left alone: only what the model changed is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SyncConfigError
from ..fields.value_rules import COMMENT, CUSTOM_FIELD_PREFIX, PARENT_KEY, TASK_FIELDS
from ..settings import FieldPolicy
from .bodies import SYNC_KEY

NOT_CLEARED = frozenset({"name", "completed", "resource_subtype", "approval_status", "liked", "section", "workspace", SYNC_KEY})
"""Fields a NULL leaves as they are: required (name), yes/no or kind (a NULL says nothing), or a place
a task always has (its section)."""
IF_EMPTY_FIELDS = frozenset({"notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "assignee", "tags", "followers"})
"""Fields `if_empty` applies to (and every `custom_fields.<field>`): those Asana can show empty."""
POLICY_FIELDS = frozenset(name for name, field in TASK_FIELDS.items() if name != COMMENT) | {"custom_fields"}


@dataclass(frozen=True)
class FieldChange:
    """One field an update sends: its value at the last sync (`before`, None when none) and now
    (`after`, None: the field is cleared)."""

    field: str
    before: Any
    after: Any
    policy: FieldPolicy = FieldPolicy.SYNC
    seen: bool = False
    """True when this run read the task and it no longer shows `before`: `in_asana` is what it shows."""
    in_asana: Any = None

    @property
    def clears(self) -> bool:
        return self.after is None

    @property
    def shown_before(self) -> Any:
        """What the task holds before the change, as far as the run knows: what it read, else what the sync wrote."""
        return self.in_asana if self.seen else self.before


def check_policies(policies: Mapping[str, FieldPolicy]) -> None:
    """Each policy names a field a sync can write and suits it; a configuration error otherwise."""
    for name, policy in policies.items():
        custom = name.startswith(CUSTOM_FIELD_PREFIX) and name[len(CUSTOM_FIELD_PREFIX) :].strip()
        if name not in POLICY_FIELDS and not custom:
            raise SyncConfigError(
                f"field_policies names {name!r}, which is not a field the sync writes; fields are: "
                f"{', '.join(sorted(POLICY_FIELDS))}, or custom_fields.<name or GID>"
            )
        if policy is FieldPolicy.IF_EMPTY and not (custom or name in IF_EMPTY_FIELDS):
            raise SyncConfigError(
                f"field_policies: if_empty does not apply to {name!r}: Asana never shows it empty. if_empty applies to "
                f"{', '.join(sorted(IF_EMPTY_FIELDS))} and custom_fields.<name or GID>; use on_create to write {name} "
                "only when the task is created"
            )


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any], policies: Mapping[str, FieldPolicy]) -> list[FieldChange]:
    """The changes an update sends, in a stable order: fields whose value differs, each as its
    policy allows (`on_create`: never; `skip_nulls`: never cleared). The comment is not a field."""
    return changes_and_held(before, after, policies)[0]


def changes_and_held(
    before: Mapping[str, Any], after: Mapping[str, Any], policies: Mapping[str, FieldPolicy]
) -> tuple[list[FieldChange], dict[str, Any]]:
    """`field_changes`, and the fields whose model value changed but is not sent (`on_create`, a NULL
    that `skip_nulls` or the field's nature does not clear): field -> the value the sync last wrote
    there (None: none), which is what the state keeps recording for it, since Asana still holds it."""
    changes, held = [], {}
    for name in sorted(set(before) | set(after)):
        if name == COMMENT:
            continue
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        policy = policies.get(name, FieldPolicy.SYNC)
        if policy is FieldPolicy.ON_CREATE or (new is None and (policy is FieldPolicy.SKIP_NULLS or name in NOT_CLEARED)):
            held[name] = old
            continue
        if name == PARENT_KEY and (old or "") == (new or ""):
            continue
        changes.append(FieldChange(name, old, new, policy))
    return changes, held
