"""Asana's events API (`GET /events?resource=GID&sync=TOKEN`), for projects and tasks.

Every write the store makes is recorded as the events Asana would deliver, worked out by
comparing the task before and after it: `added`/`removed` (a project, a section, a parent
task; the parent says which), `changed` with `change.field` and `new_value` or
`added_value`/`removed_value` (its parent null; `dependencies` and `dependents` too, on
both tasks of a link), `deleted`, `undeleted`; a story or an attachment `added` to a task
(an attachment also `removed`). A project's stream holds the events of the tasks in it, and
of a task as it leaves it. Each event carries `created_at` and the `user` whose token made
the request (`{gid, resource_type, name}`).

A first call without a sync token, or with one unknown, expired (older than
`token_ttl_seconds`) or made for another resource, is answered 412 with a fresh token
(Asana's body: `errors` and `sync`). With a valid token: the events since it, 100 at most
per call, `has_more` when more wait, and the token to call with next.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:
    from .store import AsanaStore, Task

PAGE = 100
SCALAR_FIELDS = (
    "name", "notes", "completed", "due_on", "due_at", "start_on", "start_at", "assignee", "resource_subtype",
    "approval_status", "liked",
)  # fmt: skip
LIST_FIELDS = {"tags": "tag", "followers": "user", "dependencies": "task", "dependents": "task"}
STALE = (
    "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full "
    "dataset for this query now and use the new sync token for the next sync."
)


class SyncTokenError(ApiError):
    """412: the sync token is missing, unknown or too old; carries a fresh one."""

    def __init__(self, fresh: str):
        super().__init__(412, STALE, beside={"sync": fresh}, help_text=False)
        self.fresh = fresh


@dataclass(frozen=True)
class Event:
    seq: int
    record: dict[str, Any]
    streams: frozenset[str]


@dataclass(frozen=True)
class _Token:
    resource: str
    seq: int
    issued: float


class EventLog:
    """What happened, in order, and the sync tokens handed out to read it."""

    def __init__(self, token_ttl_seconds: float | None = None):
        self.token_ttl_seconds = token_ttl_seconds
        self._events: list[Event] = []
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    # ---- recording -----------------------------------------------------------

    def _add(self, record: dict[str, Any], streams: set[str]) -> None:
        with self._lock:
            self._events.append(Event(len(self._events) + 1, record, frozenset(streams)))

    def record_task(self, store: AsanaStore, before: Task | None, after: Task | None, *, undeleted: bool = False) -> None:
        """The events of one write to a task (`before` None: created; `after` None: deleted)."""
        task = after or before
        assert task is not None
        streams = {task.gid, *(before.projects if before else []), *(after.projects if after else [])}
        moment = store.now()
        resource = {"gid": task.gid, "resource_type": "task", "name": task.name}

        def event(action: str, parent: dict[str, Any] | None = None, change: dict[str, Any] | None = None) -> None:
            record: dict[str, Any] = {
                "user": _user(store), "resource": resource, "type": "task", "action": action,
                "parent": parent, "created_at": moment,
            }  # fmt: skip
            if change is not None:
                record["change"] = change
            self._add(record, streams)

        if after is None:
            event("deleted")
            return
        if undeleted:
            event("undeleted")
        old_projects = before.projects if before else []
        for project in after.projects:
            if project not in old_projects:
                event("added", {"gid": project, "resource_type": "project", "name": store.projects[project]["name"]})
        for project in old_projects:
            if project not in after.projects:
                event("removed", {"gid": project, "resource_type": "project", "name": store.projects[project]["name"]})
        old_sections = set(before.memberships) if before else set()
        for project, section in after.memberships:
            if (project, section) not in old_sections and before is not None and project in before.projects:
                event("added", {"gid": section, "resource_type": "section", "name": store.sections[section]["name"]})
        if before is None:
            if after.parent:
                event("added", {"gid": after.parent, "resource_type": "task", "name": store.tasks[after.parent].name})
            return
        for name in SCALAR_FIELDS:
            old, new = getattr(before, name), getattr(after, name)
            if old != new:
                shown = {"gid": new, "resource_type": "user"} if name == "assignee" and new else new
                event("changed", change={"field": name, "action": "changed", "new_value": shown})
        if before.custom_values != after.custom_values:
            event("changed", change={"field": "custom_fields", "action": "changed", "new_value": None})
        if before.parent != after.parent:
            shown = {"gid": after.parent, "resource_type": "task"} if after.parent else None
            event("changed", change={"field": "parent", "action": "changed", "new_value": shown})
        for name, kind in LIST_FIELDS.items():
            old_items, new_items = getattr(before, name), getattr(after, name)
            for item in new_items:
                if item not in old_items:
                    event("changed", change={"field": name, "action": "added", "added_value": {"gid": item, "resource_type": kind}})
            for item in old_items:
                if item not in new_items:
                    event("changed", change={"field": name, "action": "removed", "removed_value": {"gid": item, "resource_type": kind}})

    def record_story(self, store: AsanaStore, task: Task, story_gid: str) -> None:
        self.record_on_task(store, task, {"gid": story_gid, "resource_type": "story"}, "added")

    def record_on_task(self, store: AsanaStore, task: Task, resource: dict[str, Any], action: str) -> None:
        """Something `added` to a task or `removed` from it (a story, an attachment), in the streams
        of the task and of its projects."""
        record = {
            "user": _user(store), "resource": resource, "type": resource["resource_type"], "action": action,
            "parent": {"gid": task.gid, "resource_type": "task", "name": task.name}, "created_at": store.now(),
        }  # fmt: skip
        self._add(record, {task.gid, *task.projects})

    # ---- reading ---------------------------------------------------------------

    def _fresh(self, resource: str, seq: int) -> str:
        token = secrets.token_hex(16)
        self._tokens[token] = _Token(resource, seq, time.monotonic())
        return token

    def read(self, resource: str, sync: str | None) -> dict[str, Any]:
        """The events of `resource` since `sync`; `SyncTokenError` (412) when it is not a valid token."""
        with self._lock:
            held = self._tokens.get(sync or "")
            expired = (
                held is not None
                and self.token_ttl_seconds is not None
                and time.monotonic() - held.issued > self.token_ttl_seconds
            )
            if held is None or expired or held.resource != resource:
                raise SyncTokenError(self._fresh(resource, len(self._events)))
            found = [event for event in self._events[held.seq :] if resource in event.streams]
            page, more = found[:PAGE], len(found) > PAGE
            last = page[-1].seq if more else len(self._events)
            return {"data": [event.record for event in page], "sync": self._fresh(resource, last), "has_more": more}

    def expire_tokens(self) -> int:
        """Make every sync token handed out so far too old (as Asana does, sometimes sooner than 24 h)."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count


def _user(store: AsanaStore) -> dict[str, Any]:
    """The user whose request caused the event (its token's user)."""
    user = store.users[store.actor]
    return {"gid": user["gid"], "resource_type": "user", "name": user["name"]}
