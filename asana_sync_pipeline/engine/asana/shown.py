"""How Asana shows a task's values, reduced to what compares: plain and rich text by their words
and lines, instants in UTC, GIDs of nested objects, numbers exactly, custom field values by type.

Shared by whatever compares a task with what the sync sent or recorded (reconciling an unclear
create, rebuilding a lost state, seeing what people edited).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

TASK_OPT_FIELDS = [
    "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee",
    "assignee.email", "tags", "followers", "followers.email", "parent", "resource_subtype", "approval_status",
    "projects", "memberships.project", "memberships.section", "created_at", "custom_fields.gid",
    "custom_fields.resource_subtype", "custom_fields.text_value", "custom_fields.number_value",
    "custom_fields.enum_value", "custom_fields.multi_enum_values", "custom_fields.date_value",
    "custom_fields.people_value", "custom_fields.people_value.email",
]  # fmt: skip
_TEXT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)


def plain_text(text: str | None) -> str:
    """Plain text as compared: its lines, each with its spaces collapsed, blank ends dropped.
    Two texts that differ in where a line breaks are different texts."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()


def _spaced(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "")


def rich_text(html: str | None) -> str:
    """Rich text as compared: its elements and their text, whitespace runs collapsed, attributes
    aside; `<strong>Call</strong> them` and `Call them` are different texts."""
    if not html:
        return ""
    try:
        root = etree.fromstring(html.encode("utf-8"), _TEXT_PARSER)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        return _spaced(html).strip()

    def inner(element: etree._Element) -> str:
        return _spaced(element.text) + "".join(shape(child) + _spaced(child.tail) for child in element)

    def shape(element: etree._Element) -> str:
        return f"<{element.tag}>{inner(element)}</{element.tag}>"

    return inner(root).strip() if root.tag == "body" else shape(root)


def moment(value: str | None) -> str | None:
    """An ISO 8601 instant as UTC to the second, whatever its offset or fraction."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule(on: str | None, at: str | None) -> tuple[str, str] | None:
    """A due or start: a date-time when one is set (Asana then fills in the date too), else a date."""
    if at:
        return ("at", moment(at) or "")
    return ("on", on) if on else None


def gid_of(reference: Any) -> str | None:
    if isinstance(reference, dict):
        return reference.get("gid")
    return reference


def number(value: int | float | Decimal | str) -> Decimal:
    """A number exactly as written (a float by its shortest repr), so 2**53 and 2**53 + 1 differ."""
    return Decimal(str(value)).normalize()


def task_custom_value(custom: dict[str, Any]) -> Any:
    kind = custom.get("resource_subtype")
    if kind == "text":
        return ("s", custom["text_value"]) if custom.get("text_value") is not None else None
    if kind == "number":
        return ("n", number(custom["number_value"])) if custom.get("number_value") is not None else None
    if kind == "enum":
        return ("s", gid_of(custom["enum_value"])) if custom.get("enum_value") else None
    if kind == "multi_enum":
        options = custom.get("multi_enum_values") or []
        return ("set", frozenset(gid_of(option) for option in options)) if options else None
    if kind == "people":
        people = custom.get("people_value") or []
        return ("set", frozenset(gid_of(person) for person in people)) if people else None
    if kind == "date":
        date_value = custom.get("date_value") or {}
        if date_value.get("date_time"):
            return ("t", moment(date_value["date_time"]))
        return ("s", date_value["date"]) if date_value.get("date") else None
    return None


def sync_key_of(task: dict[str, Any], sync_key_field: str) -> str | None:
    """The row key a task carries in the sync key field, if any."""
    for field in task.get("custom_fields") or []:
        if field.get("gid") == sync_key_field:
            return field.get("text_value")
    return None
