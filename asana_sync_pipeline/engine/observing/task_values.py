"""A task's values made comparable: the one answer to "does this task show what the sync sent?".

Three sources reduce to the same comparable forms:
- a task as Asana shows it (`of_task`, `appearance_of_task`);
- a value the sync wrote, in the plan's canonical form as the state records it (`of_written`);
- the JSON body of a create (`appearance_of_payload`), to find the task a create of unknown
  outcome made.

The forms: text by its words and lines (plain) or by its elements (rich), names trimmed; instants
in UTC to the second, dates as written; people by GID (an email or `me` resolved through `People`);
numbers exactly; enum options, tags, sections, projects and parents by GID; lists as sets; custom
field values by their type. Timestamps are parsed here and nowhere else (`parse_time`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from ..fields.value_rules import CUSTOM_FIELD_PREFIX, PARENT_KEY
from ..planning import SYNC_KEY

TASK_OPT_FIELDS = [
    "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee",
    "assignee.email", "tags", "followers", "followers.email", "parent", "resource_subtype", "approval_status",
    "projects", "memberships.project", "memberships.section", "created_at", "custom_fields.gid",
    "custom_fields.resource_subtype", "custom_fields.text_value", "custom_fields.number_value",
    "custom_fields.enum_value", "custom_fields.multi_enum_values", "custom_fields.date_value",
    "custom_fields.people_value", "custom_fields.people_value.email", "created_by",
]  # fmt: skip
"""What every read of a task asks for: each field a create or an update may send, with the emails of people,
and who created it (a task no state knows may be the sync's, made with a state since lost)."""
OUTCOME_OPT_FIELDS = [
    *TASK_OPT_FIELDS, "liked", "projects.name", "permalink_url", "completed_at", "completed_by.email", "completed_by.name",
    "assignee.name", "tags.name", "followers.name", "memberships.project.name", "memberships.section.name", "parent.name",
    "num_subtasks", "modified_at", "custom_fields.name", "custom_fields.enum_value.name", "custom_fields.multi_enum_values.name",
    "custom_fields.people_value.name",
]  # fmt: skip
"""What a read for the outcomes asks for beside: names, emails, completion, subtasks and times, in the model's terms."""
LIST_FIELDS = frozenset({"tags", "followers", "projects"})
COMPARED = frozenset(
    {
        "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee", "tags",
        "followers", "projects", "section", PARENT_KEY, "parent", "resource_subtype", "approval_status", "liked",
        SYNC_KEY, "custom_fields",
    }
)  # fmt: skip
"""Plan fields compared with the task (and every `custom_fields.<GID>`); others (memberships, workspace) are not."""
_TEXT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)


# ---- the forms ----------------------------------------------------------------


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 timestamp as Asana writes it (`2026-12-03T10:00:00.000Z`), as an aware datetime;
    None when empty or not a timestamp."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def instant(text: str | None) -> str | None:
    """An ISO 8601 instant as UTC to the second, whatever its offset or fraction."""
    moment = parse_time(text)
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def schedule(on: str | None, at: str | None) -> tuple[str, str] | None:
    """A due or start: a date-time when one is set (Asana then fills in the date too), else a date."""
    if at:
        return ("at", instant(at) or "")
    return ("on", on) if on else None


def gid_of(reference: Any) -> str | None:
    if isinstance(reference, dict):
        return reference.get("gid")
    return reference


def number(value: int | float | Decimal | str) -> Decimal:
    """A number exactly as written (a float by its shortest repr), so 2**53 and 2**53 + 1 differ."""
    return Decimal(str(value)).normalize()


def entries(canonical: Any) -> list[str]:
    """The items of a canonical list value (comma-separated GIDs, emails or names)."""
    return [entry for entry in str(canonical).split(",") if entry] if canonical else []


# ---- people -----------------------------------------------------------------------


class People:
    """Who is who: a person's GID from an email or `me`, learnt from the tasks read (their assignee,
    followers and people values carry emails), so that a value naming someone by email compares with
    a task that shows GIDs. An email no task showed stays `email:<address>`."""

    def __init__(self, me_gid: str | None, tasks: Iterable[Mapping[str, Any]] = ()):
        self.me_gid = me_gid
        self.by_email: dict[str, str] = {}
        self.email_of: dict[str, str] = {}
        self.learn(tasks)

    def learn(self, tasks: Iterable[Mapping[str, Any]]) -> None:
        for task in tasks:
            found = [task.get("assignee"), task.get("completed_by"), *(task.get("followers") or [])]
            for custom in task.get("custom_fields") or []:
                found += custom.get("people_value") or []
            for person in found:
                if isinstance(person, dict) and person.get("email") and person.get("gid"):
                    self.by_email[str(person["email"]).lower()] = str(person["gid"])
                    self.email_of[str(person["gid"])] = str(person["email"]).lower()

    def gid(self, reference: Any) -> str | None:
        """The GID a reference names: a user object, a GID, an email (known or not) or `me`."""
        if reference is None:
            return None
        if isinstance(reference, dict):
            return gid_of(reference)
        text = str(reference).strip()
        if text == "me":
            return self.me_gid or "me"
        if "@" in text:
            return self.by_email.get(text.lower(), f"email:{text.lower()}")
        return text


# ---- what comparing needs ------------------------------------------------------------


@dataclass
class Context:
    """What comparing needs beside the task: the project, the people known, custom field types (GID ->
    subtype), the sync key field, and each row's task (a `parent_key` names a row)."""

    project_gid: str
    people: People
    kinds: Mapping[str, str] = field(default_factory=dict)
    sync_key_field: str | None = None
    task_of_key: Mapping[str, str] = field(default_factory=dict)


def custom_value_of_task(custom: Mapping[str, Any]) -> Any:
    """A custom field value as a task shows it, comparable (None: empty)."""
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
            return ("t", instant(date_value["date_time"]))
        return ("s", date_value["date"]) if date_value.get("date") else None
    return None


def custom_value_written(kind: str, written: Any, people: People) -> Any:
    """A custom field value the sync wrote (the plan's canonical form), comparable as the task shows it."""
    if written is None:
        return None
    if kind == "number":
        return ("n", number(written))
    if kind in ("multi_enum", "people"):
        items = frozenset(people.gid(entry) if kind == "people" else entry for entry in entries(written))
        return ("set", items) if items else None
    if isinstance(written, dict):
        return ("t", instant(written["date_time"])) if written.get("date_time") else ("s", written.get("date"))
    return ("s", str(written))


def custom_value_sent(value: Any, people: People) -> Any:
    """A custom field value as a request body sends it (JSON), comparable as the task will show it."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float, Decimal)):
        return ("n", number(value))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("set", frozenset(people.gid(item) for item in value))
    if isinstance(value, dict):
        if value.get("date_time"):
            return ("t", instant(value["date_time"]))
        return ("s", value.get("date"))
    return ("?", json.dumps(value, sort_keys=True, default=str))


def _custom(task: Mapping[str, Any], gid: str) -> Any:
    for custom in task.get("custom_fields") or []:
        if custom.get("gid") == gid:
            return custom_value_of_task(custom)
    return None


def sync_key_of(task: Mapping[str, Any], sync_key_field: str | None) -> str | None:
    """The row key a task carries in the sync key field (its text), if any."""
    for custom in task.get("custom_fields") or []:
        if sync_key_field and custom.get("gid") == sync_key_field:
            return custom.get("text_value")
    return None


def section_of(task: Mapping[str, Any], project_gid: str) -> str | None:
    """The section the task sits in within `project_gid`."""
    for membership in task.get("memberships") or []:
        if gid_of(membership.get("project")) == project_gid:
            return gid_of(membership.get("section"))
    return None


def is_in_project(task: Mapping[str, Any], ctx: Context) -> bool:
    return any(gid_of(project) == ctx.project_gid for project in task.get("projects") or [])


# ---- one field: written vs shown --------------------------------------------------


def _people_of_task(task_people: list[Any]) -> set[str]:
    return {str(gid_of(person)) for person in task_people if isinstance(person, dict)}


def present(field_name: str, written: Any, task: Mapping[str, Any], ctx: Context) -> list[str]:
    """The items of a list field the sync wrote that the task still shows."""
    items = entries(written)
    if field_name == "followers":
        ctx.people.learn((task,))
        shown_people = _people_of_task(task.get("followers") or [])
        return [item for item in items if ctx.people.gid(item) in shown_people]
    shown_gids = {gid_of(item) for item in task.get(field_name) or []}
    return [item for item in items if item in shown_gids]


def of_task(field_name: str, task: Mapping[str, Any], ctx: Context) -> Any:
    """The task's value of one plan field, comparable (lists: the set of GIDs)."""
    if field_name in LIST_FIELDS:
        return frozenset(str(gid_of(item)) for item in task.get(field_name) or [])
    if field_name == "assignee":
        return gid_of(task.get("assignee"))
    if field_name == "section":
        return section_of(task, ctx.project_gid)
    if field_name in (PARENT_KEY, "parent"):
        return gid_of(task.get("parent"))
    if field_name == SYNC_KEY:
        return _custom(task, ctx.sync_key_field) if ctx.sync_key_field else None
    if field_name.startswith(CUSTOM_FIELD_PREFIX):
        return _custom(task, field_name[len(CUSTOM_FIELD_PREFIX) :])
    if field_name == "notes":
        return plain_text(task.get("notes"))
    if field_name == "html_notes":
        return rich_text(task.get("html_notes"))
    if field_name in ("due_at", "start_at"):
        return instant(task.get(field_name))
    if field_name == "name":
        return (task.get("name") or "").strip()
    if field_name in ("completed", "liked"):
        return bool(task.get(field_name))
    return task.get(field_name)


def of_written(field_name: str, written: Any, ctx: Context) -> Any:
    """A value the sync wrote to one plan field, comparable as `of_task` gives the task's."""
    if field_name in LIST_FIELDS:
        return frozenset(str(ctx.people.gid(item)) if field_name == "followers" else item for item in entries(written))
    if field_name == "assignee":
        return ctx.people.gid(written) if written else None
    if field_name == PARENT_KEY:
        return ctx.task_of_key.get(written) if written else None
    if field_name == "parent":
        return written or None
    if field_name == SYNC_KEY:
        return ("s", written)
    if field_name.startswith(CUSTOM_FIELD_PREFIX):
        kind = ctx.kinds.get(field_name[len(CUSTOM_FIELD_PREFIX) :])
        return None if kind is None else custom_value_written(kind, written, ctx.people)
    if field_name == "notes":
        return plain_text(written)
    if field_name == "html_notes":
        return rich_text(written)
    if field_name in ("due_at", "start_at"):
        return instant(written)
    if field_name == "name":
        return str(written).strip()
    if field_name in ("completed", "liked"):
        return bool(written)
    return written


def differs(field_name: str, written: Any, task: Mapping[str, Any], ctx: Context) -> bool:
    """Whether the task no longer shows what the sync wrote to `field_name`. A list differs when an
    item the sync wrote is gone (items people added are theirs); a field whose comparison cannot be
    known (a custom field of unknown type, a parent row without a task) does not differ."""
    if field_name in LIST_FIELDS:
        return len(present(field_name, written, task, ctx)) < len(entries(written))
    ctx.people.learn((task,))  # the emails the task shows, for a value written as an email
    if field_name == PARENT_KEY and written and written not in ctx.task_of_key:
        return False
    if field_name.startswith(CUSTOM_FIELD_PREFIX) and field_name[len(CUSTOM_FIELD_PREFIX) :] not in ctx.kinds:
        return False
    if field_name == "custom_fields":
        return any(
            _custom(task, gid) != custom_value_written(kind, value, ctx.people)
            for gid, value in json.loads(written).items()
            if (kind := ctx.kinds.get(gid)) is not None
        )
    return of_task(field_name, task, ctx) != of_written(field_name, written, ctx)


def is_empty_in(field_name: str, task: Mapping[str, Any], ctx: Context) -> bool:
    """Whether the task shows `field_name` empty (no text, no date, nobody, no item, no custom value)."""
    return of_task(field_name, task, ctx) in (None, "", frozenset())


def comparable(field_name: str, value: Any, ctx: Context) -> bool:
    """Whether a value of `field_name` can be compared with a task (a custom field of known type, a
    parent row that has its task)."""
    if field_name.startswith(CUSTOM_FIELD_PREFIX):
        return field_name[len(CUSTOM_FIELD_PREFIX) :] in ctx.kinds
    if field_name == PARENT_KEY:
        return not value or value in ctx.task_of_key
    if field_name == "custom_fields":
        return value is not None and all(gid in ctx.kinds for gid in json.loads(value))
    return True


def shows(field_name: str, value: Any, task: Mapping[str, Any], ctx: Context) -> bool:
    """Whether the task shows exactly `value` (None: the field empty), the way the sync would write it;
    False when that cannot be known. A list shows its items and no other."""
    if value is None:
        return field_name != "custom_fields" and is_empty_in(field_name, task, ctx)
    if not comparable(field_name, value, ctx):
        return False
    if field_name in LIST_FIELDS:
        ctx.people.learn((task,))
        return of_task(field_name, task, ctx) == of_written(field_name, value, ctx)
    return not differs(field_name, value, task, ctx)


def task_labels(task: Mapping[str, Any]) -> dict[str, str]:
    """GID -> what people call it, of what a task read with names shows: its custom fields, their options
    and people, tags, sections, projects, its assignee and followers (people by email)."""
    found: dict[str, str] = {}

    def person(user: Any) -> None:
        if isinstance(user, dict) and user.get("gid") and (user.get("email") or user.get("name")):
            found[str(user["gid"])] = str(user.get("email") or user.get("name"))

    def named(item: Any) -> None:
        if isinstance(item, dict) and item.get("gid") and item.get("name"):
            found[str(item["gid"])] = str(item["name"])

    for custom in task.get("custom_fields") or []:
        named(custom)
        named(custom.get("enum_value"))
        for option in custom.get("multi_enum_values") or []:
            named(option)
        for user in custom.get("people_value") or []:
            person(user)
    for item in [*(task.get("tags") or []), *(task.get("projects") or [])]:
        named(item)
    for membership in task.get("memberships") or []:
        named(membership.get("section"))
    person(task.get("assignee"))
    for user in task.get("followers") or []:
        person(user)
    return found


def shown(field_name: str, task: Mapping[str, Any], ctx: Context) -> Any:
    """The task's value of `field_name` in the plan's canonical form (None: empty): what a report
    shows, and what `overwrite` compares against when it sends the model's value again."""
    if field_name in LIST_FIELDS:
        return ",".join(str(gid_of(item)) for item in task.get(field_name) or []) or None
    if field_name in (SYNC_KEY, "custom_fields") or field_name.startswith(CUSTOM_FIELD_PREFIX):
        value = None if field_name == "custom_fields" else of_task(field_name, task, ctx)
        if value is None:
            return None
        return ",".join(sorted(str(item) for item in value[1])) if value[0] == "set" else str(value[1])
    if field_name in ("assignee", "section", PARENT_KEY, "parent"):
        return of_task(field_name, task, ctx)
    return task.get(field_name)


# ---- a whole task: what a create sent vs what a task shows ----------------------------


@dataclass(frozen=True)
class Appearance:
    """How a task appears, in a form both a create's body and a listed task reduce to.

    `fields` must be equal. `texts`: the body's text (its one entry) must be one of the task's (its
    notes as plain text, and its rich text). `sections` (project, section) of the body must be among
    the task's, since a task placed without a section sits in a default one."""

    fields: tuple[Any, ...]
    texts: frozenset[tuple[str, str]]
    sections: frozenset[tuple[str, str]]

    def shows(self, sent: Appearance) -> bool:
        """True when this task's appearance holds everything of the `sent` one."""
        return self.fields == sent.fields and sent.texts <= self.texts and sent.sections <= self.sections


def _followers(gids: set[str | None], people: People, assignee: str | None) -> frozenset[str | None]:
    """Asana adds the creator and the assignee as followers: only the others tell tasks apart."""
    return frozenset(gids - {people.me_gid, assignee, None})


def appearance_of_payload(payload: Mapping[str, Any], people: People) -> Appearance:
    """How a new task created with `payload` appears."""
    assignee = people.gid(payload.get("assignee"))
    if payload.get("html_notes"):
        text = ("rich", rich_text(payload["html_notes"]))
    else:
        text = ("plain", plain_text(payload.get("notes")))
    subtype = payload.get("resource_subtype") or "default_task"
    completed = bool(payload.get("completed", False))
    approval = (payload.get("approval_status") or ("approved" if completed else "pending")) if subtype == "approval" else None
    memberships = payload.get("memberships") or []
    projects = frozenset([*(payload.get("projects") or []), *(membership["project"] for membership in memberships)])
    custom = {
        gid: custom_value_sent(value, people)
        for gid, value in (payload.get("custom_fields") or {}).items()
        if value not in (None, [], "")
    }
    fields = (
        (payload.get("name") or "").strip(),
        schedule(payload.get("due_on"), payload.get("due_at")),
        schedule(payload.get("start_on"), payload.get("start_at")),
        completed,
        assignee,
        frozenset(payload.get("tags") or []),
        _followers({people.gid(follower) for follower in payload.get("followers") or []}, people, assignee),
        payload.get("parent"),
        subtype,
        approval,
        projects,
        frozenset(custom.items()),
    )
    sections = frozenset((membership["project"], membership["section"]) for membership in memberships if membership.get("section"))
    return Appearance(fields, frozenset([text]), sections)


def appearance_of_task(task: Mapping[str, Any], people: People) -> Appearance:
    """How a listed task appears, in the shape of `appearance_of_payload`."""
    assignee = gid_of(task.get("assignee"))
    texts = frozenset([("plain", plain_text(task.get("notes"))), ("rich", rich_text(task.get("html_notes")))])
    subtype = task.get("resource_subtype") or "default_task"
    custom = {}
    for custom_field in task.get("custom_fields") or []:
        value = custom_value_of_task(custom_field)
        if value is not None:
            custom[custom_field["gid"]] = value
    fields = (
        (task.get("name") or "").strip(),
        schedule(task.get("due_on"), task.get("due_at")),
        schedule(task.get("start_on"), task.get("start_at")),
        bool(task.get("completed", False)),
        assignee,
        frozenset(gid_of(tag) for tag in task.get("tags") or []),
        _followers({gid_of(user) for user in task.get("followers") or []}, people, assignee),
        gid_of(task.get("parent")),
        subtype,
        task.get("approval_status") if subtype == "approval" else None,
        frozenset(gid_of(project) for project in task.get("projects") or []),
        frozenset(custom.items()),
    )
    sections = frozenset(
        (str(gid_of(membership.get("project"))), str(gid_of(membership.get("section"))))
        for membership in task.get("memberships") or []
        if membership.get("section")
    )
    return Appearance(fields, texts, sections)


# ---- a task in the model's terms (for the outcomes) ---------------------------------

CAPTURED = (
    "name", "notes", "completed", "assignee", "section", "due_on", "due_at", "start_on", "start_at", "tags", "followers",
    "projects", "parent",
)  # fmt: skip
"""The fields whose changes the outcomes' history records (and every `custom_fields.<name>` of the task)."""


def _person_term(person: Any) -> str | None:
    if not isinstance(person, dict):
        return None
    return person.get("email") or person.get("name") or person.get("gid")


def custom_term(custom: Mapping[str, Any]) -> Any:
    """A custom field's value in the model's terms: text, a number, an option's name, names of
    several options, a date (or date-time), emails of people; None when empty."""
    kind = custom.get("resource_subtype")
    if kind == "text":
        return custom.get("text_value")
    if kind == "number":
        value = custom.get("number_value")
        return None if value is None else (int(value) if float(value).is_integer() else float(value))
    if kind == "enum":
        option = custom.get("enum_value")
        return (option.get("name") or option.get("gid")) if isinstance(option, dict) else None
    if kind == "multi_enum":
        names = sorted(str(option.get("name") or option.get("gid")) for option in custom.get("multi_enum_values") or [])
        return names or None
    if kind == "people":
        emails = sorted(filter(None, (_person_term(person) for person in custom.get("people_value") or [])))
        return emails or None
    if kind == "date":
        date_value = custom.get("date_value") or {}
        return date_value.get("date_time") or date_value.get("date")
    return custom.get("display_value")


def model_terms(task: Mapping[str, Any], project_gid: str) -> dict[str, Any]:
    """A task as Asana shows it, field by field, in the model's terms: people by email, sections,
    tags, projects and options by name, dates as written, instants as ISO text; lists sorted.
    Custom fields appear as `custom_fields.<name>` (and `custom_fields.<GID>`)."""
    section = None
    for membership in task.get("memberships") or []:
        if gid_of(membership.get("project")) == project_gid:
            found = membership.get("section") or {}
            section = found.get("name") or found.get("gid")
    terms: dict[str, Any] = {
        "name": task.get("name"),
        "notes": task.get("notes"),
        "completed": bool(task.get("completed")),
        "completed_at": task.get("completed_at"),
        "completed_by": _person_term(task.get("completed_by")),
        "assignee": _person_term(task.get("assignee")),
        "section": section,
        "due_on": task.get("due_on"),
        "due_at": task.get("due_at"),
        "start_on": task.get("start_on"),
        "start_at": task.get("start_at"),
        "tags": sorted(str(tag.get("name") or tag.get("gid")) for tag in task.get("tags") or []),
        "followers": sorted(filter(None, (_person_term(person) for person in task.get("followers") or []))),
        "projects": sorted(str(project.get("name") or project.get("gid")) for project in task.get("projects") or []),
        "parent": gid_of(task.get("parent")),
        "resource_subtype": task.get("resource_subtype"),
        "approval_status": task.get("approval_status"),
        "liked": task.get("liked"),
        "html_notes": task.get("html_notes"),
    }
    for custom in task.get("custom_fields") or []:
        value = custom_term(custom)
        terms[f"{CUSTOM_FIELD_PREFIX}{custom.get('gid')}"] = value
        if custom.get("name"):
            terms[f"{CUSTOM_FIELD_PREFIX}{custom['name']}"] = value
    return terms


def as_text(value: Any) -> str | None:
    """A value in the model's terms as the history's text: lists joined by ", ", booleans in lower case."""
    if value is None or value == []:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
