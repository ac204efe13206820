"""Tasks that exist, paired with rows that would create one (`adopt_existing`): pure, no requests.

A row about to be created adopts the task of the project whose field (`match`: `name`, `notes` or
`custom_fields.<name or GID>`) equals the row's value in `column`, among the tasks the sync does not
know. Two tasks matching one row, or one task matching two rows, pair nothing: those rows are
rejected, naming the tasks, and a person decides (a `task_gid` column, or a unique value). Values
compare as text with surrounding spaces trimmed (`007` is not `7`), a number field and a number column
by value (42 and 42.0), an enum field by its option's name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..fields.value_rules import CUSTOM_FIELD_PREFIX, is_null, number_text
from ..planning.extras import Adoption
from .task_values import plain_text

SHOWN_TASKS = 5


def listing_fields(match: str) -> list[str]:
    """What to read of each task of the project to compare it, and to give it the row's fields after."""
    base = ["name", "tags", "followers", "followers.email", "projects", "memberships.project", "memberships.section", "parent"]
    if match == "notes":
        return [*base, "notes"]
    if match.startswith(CUSTOM_FIELD_PREFIX):
        return [
            *base, "custom_fields.gid", "custom_fields.name", "custom_fields.resource_subtype", "custom_fields.text_value",
            "custom_fields.number_value", "custom_fields.enum_value.name", "custom_fields.display_value",
        ]  # fmt: skip
    return base


def comparable(value: Any) -> str | None:
    """A value as compared: numbers by value, text trimmed; None for nothing to match."""
    if is_null(value):
        return None
    if not isinstance(value, str):
        text = number_text(value)
        if text is not None:
            return text
        value = str(value)
    text = value.strip()
    return text or None


def _custom_value(task: dict[str, Any], reference: str, labels: Mapping[str, str]) -> Any:
    fields = task.get("custom_fields") or []
    named = [(custom, custom.get("name") or labels.get(str(custom.get("gid")), "")) for custom in fields]
    chosen = [custom for custom in fields if custom.get("gid") == reference]
    chosen = chosen or [custom for custom, name in named if name == reference]
    chosen = chosen or [custom for custom, name in named if name.casefold() == reference.casefold()]
    if not chosen:
        return None
    custom = chosen[0]
    kind = custom.get("resource_subtype")
    if kind == "text":
        return custom.get("text_value")
    if kind == "number":
        return custom.get("number_value")
    if kind == "enum":
        return (custom.get("enum_value") or {}).get("name")
    return custom.get("display_value")


def value_of(task: dict[str, Any], match: str, labels: Mapping[str, str] | None = None) -> str | None:
    """The task's value of the matched field, comparable (`labels`: custom fields' names by GID, for a
    task read without them)."""
    if match == "name":
        return comparable(task.get("name"))
    if match == "notes":
        return comparable(plain_text(task.get("notes")))
    return comparable(_custom_value(task, match[len(CUSTOM_FIELD_PREFIX) :].strip(), labels or {}))


def _named(tasks: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"{task['gid']} ({(task.get('name') or '').strip()!r})" for task in tasks[:SHOWN_TASKS])
    return shown + (f", and {len(tasks) - SHOWN_TASKS} more" if len(tasks) > SHOWN_TASKS else "")


def match_existing(
    rows: Iterable[tuple[str, Any]], tasks: list[dict[str, Any]], match: str, column: str, known: set[str]
) -> list[Adoption]:
    """For each row (key, its value in `column`) whose value some task shows: the task it adopts, or the
    reason it adopts none. Tasks in `known` (the sync's, adopted or made) are never candidates."""
    by_value: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in sorted(tasks, key=lambda task: int(task["gid"]) if str(task["gid"]).isdigit() else 0):
        if task["gid"] in known:
            continue
        value = value_of(task, match)
        if value is not None:
            by_value[value].append(task)
    found: list[Adoption] = []
    rows_of_task: dict[str, list[int]] = defaultdict(list)
    for key, raw in rows:
        value = comparable(raw)
        if value is None or value not in by_value:
            continue
        matching = by_value[value]
        if len(matching) > 1:
            reason = (
                f"adopt_existing: {len(matching)} tasks of the project have {match} {value!r}: {_named(matching)}; adopt one "
                f"by giving the row a task_gid, or make {match} unique in Asana"
            )
            found.append(Adoption(key, None, value, reason=reason))
            continue
        task = matching[0]
        rows_of_task[task["gid"]].append(len(found))
        found.append(Adoption(key, task["gid"], value, (task.get("name") or "").strip()))
    for gid, at in rows_of_task.items():
        if len(at) < 2:
            continue
        keys = ", ".join(repr(found[index].key) for index in at)
        for index in at:
            adoption = found[index]
            reason = (
                f"adopt_existing: task {gid} ({adoption.task_name!r}) has {match} {adoption.value!r} like rows {keys} "
                f"(their {column}): none adopts it; give one of them a task_gid, or make {column} unique in the model"
            )
            found[index] = Adoption(adoption.key, None, adoption.value, adoption.task_name, reason)
    return found
