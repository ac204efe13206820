"""Exactly-once creation: find the tasks that creates of unknown outcome did make.

A create whose answer never arrived (timeout, reset, 5xx, crash) may or may not
have made a task. Before creating again, the sync lists the project's tasks
modified since the attempt and adopts the one each intent made.

With a sync-key custom field (a text field receiving the row's primary key),
matching is exact. Without one, a task matches an intent only when everything
the create sent agrees with the task, read the way Asana shows it: the same
name, text (line breaks and rich text markup count, spacing does not), dates
(instants compared in UTC), completion, assignee, tags, followers, parent, subtype, projects, sections and
custom field values, with the defaults of a new task for what was not sent. So a
task is never adopted by a row whose content it does not hold; a task whose text
is character for character the one a create sent pairs with that create first.
Intents whose payloads are identical are interchangeable; everything else pairs
one to one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..asana.shown import (
    TASK_OPT_FIELDS,
    gid_of,
    moment,
    number,
    plain_text,
    rich_text,
    schedule,
    sync_key_of,
    task_custom_value,
)
from ..state import Intent

CLOCK_SKEW = timedelta(minutes=2)
MATCH_OPT_FIELDS = TASK_OPT_FIELDS
"""What reconciliation reads of each listed task: every field a create may send."""


@dataclass(frozen=True)
class Observation:
    """What a task shows, in a form both a sent payload and a listed task reduce to.

    `fields` must be equal. `texts`: the payload's text (its one entry) must be one
    of the task's (its notes as plain text, and its rich text). `sections`
    (project, section) of the payload must be among the task's, since a task
    placed without a section sits in a default one."""

    fields: tuple[Any, ...]
    texts: frozenset[tuple[str, str]]
    sections: frozenset[tuple[str, str]]

    def shows(self, sent: Observation) -> bool:
        """True when this task observation holds everything of the `sent` one."""
        return self.fields == sent.fields and sent.texts <= self.texts and sent.sections <= self.sections


class People:
    """Users by email, learnt from the listed tasks, so a payload naming a person by email or
    `me` compares with a task that shows GIDs."""

    def __init__(self, tasks: list[dict[str, Any]], me_gid: str | None):
        self.me_gid = me_gid
        self.by_email: dict[str, str] = {}
        for task in tasks:
            people = [task.get("assignee"), *(task.get("followers") or [])]
            for custom in task.get("custom_fields") or []:
                people += custom.get("people_value") or []
            for person in people:
                if isinstance(person, dict) and person.get("email"):
                    self.by_email[person["email"].lower()] = person["gid"]

    def gid(self, reference: Any) -> str | None:
        if reference is None:
            return None
        if isinstance(reference, dict):
            return reference.get("gid")
        text = str(reference).strip()
        if text == "me":
            return self.me_gid or "me"
        if "@" in text:
            return self.by_email.get(text.lower(), f"email:{text.lower()}")
        return text


def _custom_value(value: Any, people: People) -> Any:
    """A custom field value as sent, reduced to what the task will show."""
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
            return ("t", moment(value["date_time"]))
        return ("s", value.get("date"))
    return ("?", json.dumps(value, sort_keys=True, default=str))


def _followers(gids: set[str | None], people: People, assignee: str | None) -> frozenset[str | None]:
    """Asana adds the creator and the assignee as followers: only the others tell tasks apart."""
    return frozenset(gids - {people.me_gid, assignee, None})


def observe_payload(payload: dict[str, Any], people: People) -> Observation:
    """What a new task created with `payload` shows."""
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
        gid: _custom_value(value, people) for gid, value in (payload.get("custom_fields") or {}).items() if value not in (None, [], "")
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
    return Observation(fields, frozenset([text]), sections)


def observe_task(task: dict[str, Any], people: People) -> Observation:
    """What a listed task shows, in the shape of `observe_payload`."""
    assignee = gid_of(task.get("assignee"))
    texts = frozenset([("plain", plain_text(task.get("notes"))), ("rich", rich_text(task.get("html_notes")))])
    subtype = task.get("resource_subtype") or "default_task"
    custom = {}
    for field in task.get("custom_fields") or []:
        value = task_custom_value(field)
        if value is not None:
            custom[field["gid"]] = value
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
    return Observation(fields, texts, sections)


def _created_at(task: dict[str, Any]) -> datetime | None:
    value = task.get("created_at")
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def earliest_attempt(intents: list[Intent]) -> datetime:
    return min(intent.attempted_at for intent in intents) - CLOCK_SKEW


def match_intents(
    intents: list[Intent],
    tasks: list[dict[str, Any]],
    known_task_gids: set[str],
    sync_key_field: str | None = None,
    me_gid: str | None = None,
) -> dict[str, str]:
    """Primary key -> GID of the task each intent made, for those that made one."""
    candidates = [task for task in tasks if task["gid"] not in known_task_gids]
    if not intents or not candidates:
        return {}
    since = earliest_attempt(intents)
    candidates = [task for task in candidates if (_created_at(task) or since) >= since]
    candidates.sort(key=lambda task: (_created_at(task) or since, task["gid"]))
    if sync_key_field:
        by_key: dict[str, str] = {}
        for task in candidates:
            key = sync_key_of(task, sync_key_field)
            if key is not None:
                by_key.setdefault(key, task["gid"])
        return {intent.primary_key: by_key[intent.primary_key] for intent in intents if intent.primary_key in by_key}
    return _match_by_content(intents, candidates, People(candidates, me_gid))


def _match_by_content(intents: list[Intent], candidates: list[dict[str, Any]], people: People) -> dict[str, str]:
    """Pair tasks with the intents whose payload they show; identical payloads share a queue."""
    queues: dict[str, list[str]] = defaultdict(list)
    observations: dict[str, Observation] = {}
    for intent in sorted(intents, key=lambda intent: (intent.attempted_at, intent.primary_key)):
        payload_key = json.dumps(intent.payload, sort_keys=True, default=str)
        queues[payload_key].append(intent.primary_key)
        observations.setdefault(payload_key, observe_payload(intent.payload, people))
    by_fields: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for payload_key, observation in observations.items():
        by_fields[observation.fields].append(payload_key)
    for payload_keys in by_fields.values():
        payload_keys.sort(key=lambda payload_key: (-len(observations[payload_key].sections), payload_key))
    matched: dict[str, str] = {}
    taken: set[str] = set()
    seen = {task["gid"]: observe_task(task, people) for task in candidates}
    payloads = {payload_key: json.loads(payload_key) for payload_key in observations}
    for exact_text_only in (True, False):
        for task in candidates:
            if task["gid"] in taken:
                continue
            for payload_key in by_fields.get(seen[task["gid"]].fields, []):
                if not queues[payload_key] or not seen[task["gid"]].shows(observations[payload_key]):
                    continue
                if exact_text_only and not _same_text_as_sent(task, payloads[payload_key]):
                    continue
                matched[queues[payload_key].pop(0)] = task["gid"]
                taken.add(task["gid"])
                break
    return matched


def _same_text_as_sent(task: dict[str, Any], payload: dict[str, Any]) -> bool:
    """The task's text is the one sent, character for character. Tried first, so that texts alike up
    to spacing pair with their own task; the spacing-blind match stays for what Asana reformats."""
    if payload.get("html_notes"):
        return (task.get("html_notes") or "") == payload["html_notes"]
    return (task.get("notes") or "") == (payload.get("notes") or "")
