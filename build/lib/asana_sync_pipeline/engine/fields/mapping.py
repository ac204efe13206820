"""The mapping from warehouse columns to Asana task fields.

Pure: given the model's columns and the user's settings, decide which column
feeds which field, which column addresses existing tasks, and which columns are
left out (listed once per run, not once per row).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SyncConfigError
from ..settings import SyncSettings
from .value_rules import CUSTOM_FIELD_PREFIX, TASK_FIELDS, TASK_GID


@dataclass(frozen=True)
class ColumnMapping:
    """Which column feeds each Asana field; `ignored` columns are not sent; `notes`
    explain choices the user may not expect (said once per run)."""

    fields: dict[str, str]
    task_gid_column: str | None
    ignored: tuple[str, ...]
    notes: tuple[str, ...] = ()


def _columns_listed(columns: list[str]) -> str:
    return ", ".join(columns) or "(none)"


def resolve_mapping(columns: list[str], settings: SyncSettings) -> ColumnMapping:
    """Apply the explicit mapping, then map columns named like Asana fields to themselves.

    The primary key column is sent too when it is named like a field (`primary_key:
    name`); a mapping target that shadows a column of the same name is said once."""
    known = set(TASK_FIELDS) | {TASK_GID}

    def is_field(name: str) -> bool:
        return name in known or (name.startswith(CUSTOM_FIELD_PREFIX) and bool(name[len(CUSTOM_FIELD_PREFIX) :].strip()))

    if settings.primary_key not in columns:
        raise SyncConfigError(
            f"primary_key {settings.primary_key!r} is not a column of the model; columns are: {_columns_listed(columns)}"
        )
    targets: dict[str, str] = {}
    for column, target in settings.field_mapping.items():
        if column not in columns:
            raise SyncConfigError(
                f"field_mapping maps column {column!r}, which the model does not have; columns are: "
                f"{_columns_listed(columns)}"
            )
        if not is_field(target):
            raise SyncConfigError(
                f"field_mapping maps {column!r} to {target!r}, which is not a writable Asana task field; "
                f"fields are: {', '.join(sorted(known))}, or custom_fields.<name or GID>"
            )
        if target in targets:
            raise SyncConfigError(f"field_mapping maps both {targets[target]!r} and {column!r} to {target!r}")
        targets[target] = column
    notes = [
        f"field_mapping sends column {source!r} as {target}; the model's own {target!r} column is not sent"
        for target, source in targets.items()
        if target in columns and target != source
    ]
    explicit_sources = set(settings.field_mapping)
    for column in columns:
        if is_field(column) and column not in targets and column not in explicit_sources:
            targets[column] = column
    task_gid_column = targets.pop(TASK_GID, None)
    used = set(targets.values()) | {task_gid_column, settings.primary_key}
    ignored = tuple(column for column in columns if column not in used)
    return ColumnMapping(fields=targets, task_gid_column=task_gid_column, ignored=ignored, notes=tuple(notes))
