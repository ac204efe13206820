"""Field rules for values people write by name: tags, sections, people, custom field values.

Each builder takes the project's schema and returns a rule in the shape of
`rules` (one value in; a canonical value out, or `FieldValueError` with a
reason that names the value and lists valid choices). Canonical values are GIDs,
so renaming an option in Asana changes nothing, while changing a label in the
model does. A name that does not exist yet becomes a *pending* value
(`PENDING_PREFIX` + name) when its sync may create it; the run creates it once
and puts its GID in place before writing.

Without a schema (a dry run without a token), names are kept as they are and
reported as unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np

from ..errors import SyncConfigError
from ..settings import GID_PATTERN
from .schema import Ambiguous, CustomField, NotFound, ProjectSchema
from .value_rules import (
    FieldValueError,
    as_items,
    as_text,
    calendar_date,
    canonical_json,
    is_null,
    json_value,
    show,
    user,
)

Rule = Callable[[Any], Any]
TEXT_FIELD_LIMIT = 1024
"""The most characters a text custom field holds."""
PENDING_PREFIX = "new:"
"""Canonical entry of a tag or section that the run will create (followed by its name)."""
UNCHECKED_PREFIX = "name:"
"""Canonical entry of a name that could not be checked (no schema was read)."""


def is_gid(text: str) -> bool:
    return bool(GID_PATTERN.match(text.strip()))


def _entries(value: Any) -> list[str]:
    entries = []
    for item in as_items(value):
        if is_null(item) or item == "":
            continue
        text = as_text(item).strip()
        if text and text not in entries:
            entries.append(text)
    return entries


def _find(catalog: Any, text: str, create_missing: bool, label: str, *, ambiguity_stops_the_sync: bool = False) -> str:
    """A GID from `catalog`; two entries named alike stop the sync (tags) or reject the row (sections).
    A missing name is created when allowed; a missing GID (digits) never is: it is a stale or mistyped one."""
    try:
        found = catalog.find(text)
    except Ambiguous as exc:
        if ambiguity_stops_the_sync:
            raise SyncConfigError(str(exc)) from None
        raise FieldValueError(f"{label}: {exc}") from None
    except NotFound as exc:
        if create_missing and not is_gid(text.strip()):
            return PENDING_PREFIX + text.strip()
        if is_gid(text.strip()):
            what = getattr(catalog, "what", label)
            raise FieldValueError(
                f"{label}: no {what} has GID {text.strip()}, and digits are taken for a GID, never created as a name"
            ) from None
        raise FieldValueError(f"{label}: {exc}") from None
    if not found.enabled:
        raise FieldValueError(f"{label}: {found.name!r} is disabled; choose another: {', '.join(catalog.names()[:10])}")
    return found.gid


def tags_rule(schema: ProjectSchema | None, create_missing: bool = False) -> Rule:
    """Tag names or GIDs, comma-separated or a list; canonical: their GIDs, comma-joined."""

    def rule(value: Any) -> str:
        resolved = []
        for entry in _entries(value):
            if schema is None or schema.tags is None:
                resolved.append(entry if is_gid(entry) else UNCHECKED_PREFIX + entry)
            else:
                resolved.append(_find(schema.tags, entry, create_missing, "tags", ambiguity_stops_the_sync=True))
        return ",".join(dict.fromkeys(resolved))

    return rule


def section_rule(schema: ProjectSchema | None, create_missing: bool = False) -> Rule:
    """A section of the configured project, by name or GID; canonical: its GID."""

    def rule(value: Any) -> str:
        text = as_text(value).strip()
        if not text:
            raise FieldValueError("a section name or GID cannot be empty")
        if schema is None or schema.sections is None:
            return text if is_gid(text) else UNCHECKED_PREFIX + text
        return _find(schema.sections, text, create_missing, "section")

    return rule


def projects_rule(schema: ProjectSchema | None) -> Rule:
    """More projects for the task (`projects`), by name or GID, each one the token can see; canonical: their
    GIDs, comma-joined. Without the projects read (no token), GIDs pass and names are kept unchecked."""

    def rule(value: Any) -> str:
        resolved = []
        for entry in _entries(value):
            if schema is None or schema.projects is None:
                resolved.append(entry if is_gid(entry) else UNCHECKED_PREFIX + entry)
                continue
            try:
                resolved.append(schema.projects.find(entry).gid)
            except Ambiguous as exc:
                raise FieldValueError(f"projects: {exc}") from None
            except NotFound:
                if is_gid(entry):
                    raise FieldValueError(
                        f"projects: project {entry.strip()} cannot be seen by the sync's token (Asana answers 403 or 404): "
                        "share the project with the token's user, or take it out of the row"
                    ) from None
                raise FieldValueError(
                    f"projects: no project {entry.strip()!r} that the sync's token can see; projects: "
                    f"{', '.join(schema.projects.names()[:10]) or 'none'}"
                ) from None
        return ",".join(dict.fromkeys(resolved))

    return rule


def user_rule(schema: ProjectSchema | None) -> Rule:
    """`me`, a GID or the email of a workspace user (checked when the users were read)."""

    def rule(value: Any) -> str:
        shaped = user(value)
        if schema is None or shaped == "me":
            return shaped
        try:
            return schema.user(shaped)
        except NotFound as exc:
            raise FieldValueError(str(exc)) from None

    return rule


def users_rule(schema: ProjectSchema | None) -> Rule:
    one = user_rule(schema)

    def rule(value: Any) -> str:
        people = []
        for entry in as_items(value):
            if is_null(entry) or entry == "":
                continue
            try:
                resolved = one(entry)
            except FieldValueError as exc:
                raise FieldValueError(f"{show(entry)}: {exc}") from None
            if resolved not in people:
                people.append(resolved)
        return ",".join(people)

    return rule


def _number(value: Any, spec: CustomField) -> Decimal:
    if isinstance(value, (bool, np.bool_)):
        raise FieldValueError(f"{spec.name}: expected a number, got the boolean {value}")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise FieldValueError(f"{spec.name}: expected a number, got {show(value)}") from None
    if not number.is_finite():
        raise FieldValueError(f"{spec.name}: expected a finite number, got {show(value)}")
    exponent = number.as_tuple().exponent
    if spec.precision is not None and isinstance(exponent, int) and exponent < -spec.precision:
        number = number.quantize(Decimal(1).scaleb(-spec.precision), rounding=ROUND_HALF_UP)
    return number


def _option(spec: CustomField, value: Any) -> str:
    text = as_text(value).strip()
    assert spec.options is not None
    try:
        option = spec.options.find(text)
    except Ambiguous as exc:
        raise FieldValueError(f"{spec.name}: {exc}") from None
    except NotFound:
        raise FieldValueError(f"{spec.name}: no option {text!r}; options: {', '.join(spec.options.names()[:10])}") from None
    if not option.enabled:
        raise FieldValueError(
            f"{spec.name}: option {option.name!r} is disabled; options: {', '.join(spec.options.names()[:10])}"
        )
    return option.gid


def custom_value(spec: CustomField, value: Any, schema: ProjectSchema) -> str:
    """One custom field's value from the model, canonical: text, a number's digits, GIDs, a date."""
    if not spec.writable:
        raise SyncConfigError(f"custom field {spec.name!r} is computed by Asana (formula or read-only); it cannot be written")
    kind = spec.subtype
    if kind == "text":
        text = as_text(value)
        if len(text) > TEXT_FIELD_LIMIT:
            raise FieldValueError(f"{spec.name}: text fields hold at most {TEXT_FIELD_LIMIT:,} characters, got {len(text):,}")
        return text
    if kind == "number":
        return str(_number(value, spec))
    if kind == "enum":
        return _option(spec, value)
    if kind == "multi_enum":
        return ",".join(dict.fromkeys(_option(spec, entry) for entry in _entries(value)))
    if kind == "date":
        if isinstance(value, dict):
            value = value.get("date")
        try:
            return calendar_date(value)
        except FieldValueError as exc:
            raise FieldValueError(f"{spec.name}: {exc}") from None
    if kind == "people":
        try:
            return users_rule(schema)(value)
        except FieldValueError as exc:
            raise FieldValueError(f"{spec.name}: {exc}") from None
    raise SyncConfigError(f"custom field {spec.name!r} is of type {kind!r}, which the sync cannot write")


def custom_field_rule(spec: CustomField, schema: ProjectSchema) -> Rule:
    return lambda value: custom_value(spec, value, schema)


def api_custom_value(kind: str, canonical: str) -> Any:
    """The JSON Asana expects for a canonical custom field value of `kind`."""
    if kind == "number":
        return Decimal(canonical)
    if kind in ("multi_enum", "people"):
        return [entry for entry in canonical.split(",") if entry]
    if kind == "date":
        return {"date": canonical}
    return canonical


def _json_number(canonical: str) -> Any:
    number = Decimal(canonical)
    return int(number) if number == number.to_integral_value() else float(number)


def custom_fields_rule(schema: ProjectSchema | None) -> Rule:
    """The `custom_fields` column: a JSON object keyed by field GID or name, values by GID or label.

    Without a schema, keys must be GIDs and values pass as they are (the first release's rule)."""

    def rule(value: Any) -> str:
        parsed = json_value(value, dict, "a JSON object keyed by custom-field GID or name")
        if schema is None or schema.fields is None:
            for key in parsed:
                if not is_gid(str(key)):
                    raise FieldValueError(f"key {show(key)} is a name; it can be checked only against the project (set the token)")
            return canonical_json({str(key): item for key, item in parsed.items()})
        resolved: dict[str, Any] = {}
        for key, item in parsed.items():
            try:
                spec = schema.field_named(str(key))
                if item is None:
                    resolved[spec.gid] = None
                    continue
                canonical = custom_value(spec, item, schema)
            except SyncConfigError as exc:
                raise FieldValueError(f"custom_fields: {exc}") from None
            api = api_custom_value(spec.subtype, canonical)
            resolved[spec.gid] = _json_number(canonical) if spec.subtype == "number" else api
        return canonical_json(resolved)

    return rule


def pending_names(canonical: str) -> list[str]:
    """The names of tags or sections a canonical value waits for."""
    return [entry[len(PENDING_PREFIX) :] for entry in canonical.split(",") if entry.startswith(PENDING_PREFIX)]


def unchecked_names(canonical: str) -> list[str]:
    return [entry[len(UNCHECKED_PREFIX) :] for entry in canonical.split(",") if entry.startswith(UNCHECKED_PREFIX)]
