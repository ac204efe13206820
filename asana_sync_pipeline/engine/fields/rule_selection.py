"""Which rule reads each mapped field, given what is known of the project.

Without a schema the rules of `rules` apply (GIDs, emails by shape); with one,
names, labels and emails are resolved and checked (`names`). Also decides
which parts of the schema a model needs at all (`schema_needs`), from its
distinct values: a model of GIDs needs none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SyncConfigError
from ..settings import SyncSettings
from . import names
from .mapping import ColumnMapping
from .schema import ProjectSchema, SchemaNeeds
from .value_rules import CUSTOM_FIELD_PREFIX, TASK_FIELDS, FieldValueError, as_items, is_null

Rule = Any


def custom_field_reference(field: str) -> str | None:
    """`custom_fields.<x>` -> `x` (a name or a GID); None for other fields."""
    return field[len(CUSTOM_FIELD_PREFIX) :].strip() if field.startswith(CUSTOM_FIELD_PREFIX) else None


class FieldRules:
    """The rule for each field of one plan."""

    def __init__(self, schema: ProjectSchema | None, settings: SyncSettings):
        self.schema = schema
        self.settings = settings

    def rule(self, field: str) -> Rule:
        schema = self.schema
        reference = custom_field_reference(field)
        if reference is not None:
            if schema is None or schema.fields is None:
                return _unchecked_custom_value
            return names.custom_field_rule(schema.field_named(reference), schema)
        if field == "tags":
            return names.tags_rule(schema, self.settings.create_missing_tags)
        if field == "section":
            return names.section_rule(schema, self.settings.create_missing_sections)
        if field == "projects":
            return names.projects_rule(schema)
        if field == "custom_fields":
            return names.custom_fields_rule(schema)
        if field == "assignee" and schema is not None:
            return names.user_rule(schema)
        if field == "followers" and schema is not None:
            return names.users_rule(schema)
        return TASK_FIELDS[field].rule

    def resolved_field(self, field: str) -> str:
        """The plan's key for a field: custom fields by GID once the schema is known."""
        reference = custom_field_reference(field)
        if reference is None or self.schema is None or self.schema.fields is None:
            return field
        return CUSTOM_FIELD_PREFIX + self.schema.field_named(reference).gid

    def kinds(self) -> dict[str, str]:
        """Custom field GID -> subtype, to shape values for Asana."""
        return {gid: spec.subtype for gid, spec in (self.schema.fields or {}).items()} if self.schema else {}


def _unchecked_custom_value(value: Any) -> str:
    """A custom field value kept as written, when the project's fields are unknown (a dry run without token)."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return names.UNCHECKED_PREFIX + str(value)


def _distinct(column: pd.Series) -> list[Any]:
    """The column's distinct values; a list cell (a LIST column) counts as its tuple of entries."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    cells = column.to_numpy(dtype=object)
    if any(isinstance(cell, (list, tuple, np.ndarray)) for cell in cells):
        hashable = np.empty(len(cells), dtype=object)
        for position, cell in enumerate(cells):
            hashable[position] = tuple(cell) if isinstance(cell, (list, tuple, np.ndarray)) else cell
        cells = hashable
    return [value for value in pd.unique(cells) if not is_null(value)]


def _any_entry(values: list[Any], matches: Callable[[str], bool]) -> bool:
    """Whether an entry of the values (comma-separated or lists) is text that `matches`."""
    for value in values:
        try:
            entries = as_items(value)
        except FieldValueError:
            continue
        if any(isinstance(entry, str) and matches(entry) for entry in entries):
            return True
    return False


def _project_references(values: list[Any]) -> set[str]:
    """Every project a `projects` column names (by name or GID), each once."""
    found: set[str] = set()
    for value in values:
        try:
            entries = as_items(value)
        except FieldValueError:
            continue
        found |= {str(entry).strip() for entry in entries if not is_null(entry) and str(entry).strip()}
    return found


def _has_name(values: list[Any]) -> bool:
    return _any_entry(values, lambda entry: bool(entry) and not names.is_gid(entry))


def _has_email(values: list[Any]) -> bool:
    return _any_entry(values, lambda entry: "@" in entry)


def _json_needs_schema(values: list[Any]) -> bool:
    """True when a custom_fields JSON value names a field or a label (not only GIDs and numbers)."""

    def plain(item: Any) -> bool:
        if item is None or isinstance(item, (int, float)) or (isinstance(item, str) and names.is_gid(item)):
            return True
        if isinstance(item, list):
            return all(isinstance(entry, str) and names.is_gid(entry) for entry in item)
        return isinstance(item, dict) and set(item) <= {"date", "date_time"}

    for value in values:
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            continue
        if isinstance(parsed, dict) and any(not names.is_gid(str(key)) or not plain(item) for key, item in parsed.items()):
            return True
    return False


NAMED_FIELDS = frozenset({"tags", "section", "assignee", "followers", "custom_fields", "projects"})
"""Fields (besides `custom_fields.<x>`) whose values may be names or emails, read through the schema."""


def may_hold_names(field: str) -> bool:
    """Whether a field's values may be names or emails rather than GIDs."""
    return field in NAMED_FIELDS or custom_field_reference(field) is not None


def schema_needs(model: pd.DataFrame, mapping: ColumnMapping) -> SchemaNeeds:
    """The parts of the project's schema that the model's values need to be checked."""
    needs = SchemaNeeds()
    for field, column in mapping.fields.items():
        if not may_hold_names(field):
            continue
        values = _distinct(model[column])
        if not values:
            continue
        if custom_field_reference(field) is not None:
            needs |= SchemaNeeds(custom_fields=True, users=_has_email(values))
        elif field == "tags" and _has_name(values):
            needs |= SchemaNeeds(tags=True)
        elif field == "section" and _has_name(values):
            needs |= SchemaNeeds(sections=True)
        elif field in ("assignee", "followers") and _has_email(values):
            needs |= SchemaNeeds(users=True)
        elif field == "projects":
            needs |= SchemaNeeds(projects=frozenset(_project_references(values)))
        elif field == "custom_fields" and _json_needs_schema(values):
            needs |= SchemaNeeds(custom_fields=True, users=True)
    return needs


def check_custom_field_columns(mapping: ColumnMapping, field_rules: FieldRules) -> None:
    """Two columns feeding one custom field is a configuration error (raised when the schema says so)."""
    seen: dict[str, str] = {}
    for field, column in mapping.fields.items():
        resolved = field_rules.resolved_field(field)
        if resolved in seen and resolved != field:
            raise SyncConfigError(f"columns {seen[resolved]!r} and {column!r} both feed custom field {resolved}")
        seen[resolved] = column
