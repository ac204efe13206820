"""Sync settings and the mapping from warehouse columns to Asana task fields.

Pure: given the model's columns and the user's settings, decide which column
feeds which field, which column addresses existing tasks, and which columns are
left out (listed once per run, not once per row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SyncConfigError
from .fields import GID_PATTERN, TASK_FIELDS, TASK_GID

SYNC_MODES = ("insert", "update", "upsert")


@dataclass(frozen=True)
class SyncSettings:
    """How rows become tasks. `sync_key_field` is an optional text custom field
    (its GID) that receives each row's primary key, making crash recovery exact."""

    sync_mode: str = "upsert"
    primary_key: str = "id"
    field_mapping: dict[str, str] = field(default_factory=dict)
    sync_key_field: str | None = None

    def __post_init__(self) -> None:
        if self.sync_mode not in SYNC_MODES:
            raise SyncConfigError(
                f"sync_mode {self.sync_mode!r} is not supported for Asana; supported modes: "
                f"{', '.join(SYNC_MODES)}. Asana has no audience or membership sync (tasks are not "
                "members of a list), and mirror (deleting tasks) is not offered."
            )
        if not self.primary_key:
            raise SyncConfigError("primary_key must name a column of the model")
        if self.sync_key_field is not None and not GID_PATTERN.match(self.sync_key_field):
            raise SyncConfigError(
                f"sync_key_field must be the GID of a text custom field (digits only), got {self.sync_key_field!r}"
            )


@dataclass(frozen=True)
class ColumnMapping:
    """Which column feeds each Asana field; `ignored` columns are not sent."""

    fields: dict[str, str]
    task_gid_column: str | None
    ignored: tuple[str, ...]


def resolve_mapping(columns: list[str], settings: SyncSettings) -> ColumnMapping:
    """Apply the explicit mapping, then map columns named like Asana fields to themselves."""
    known = set(TASK_FIELDS) | {TASK_GID}
    if settings.primary_key not in columns:
        raise SyncConfigError(
            f"primary_key {settings.primary_key!r} is not a column of the model; columns are: {', '.join(columns)}"
        )
    targets: dict[str, str] = {}
    for column, target in settings.field_mapping.items():
        if column not in columns:
            raise SyncConfigError(
                f"field_mapping maps column {column!r}, which the model does not have; columns are: {', '.join(columns)}"
            )
        if target not in known:
            raise SyncConfigError(
                f"field_mapping maps {column!r} to {target!r}, which is not a writable Asana task field; "
                f"fields are: {', '.join(sorted(known))}"
            )
        if target in targets:
            raise SyncConfigError(f"field_mapping maps both {targets[target]!r} and {column!r} to {target!r}")
        targets[target] = column
    explicit_sources = set(settings.field_mapping)
    for column in columns:
        if column in known and column not in targets and column not in explicit_sources:
            if column != settings.primary_key:
                targets[column] = column
    task_gid_column = targets.pop(TASK_GID, None)
    used = set(targets.values()) | {task_gid_column, settings.primary_key}
    ignored = tuple(column for column in columns if column not in used)
    return ColumnMapping(fields=targets, task_gid_column=task_gid_column, ignored=ignored)
