"""Exactly-once creation: find the tasks that creates of unknown outcome did make.

A create whose answer never arrived (timeout, reset, 5xx, crash) may or may not
have made a task. Before creating again, the sync lists the project's tasks
modified since the attempt and adopts the one that each intent made.

With a sync-key custom field (a text field receiving the row's primary key),
matching is exact. Without it, a task matches an intent when its name and dates
agree with what was sent; candidates and intents with the same signature are
paired one to one in creation order, so a retry never adds a second task.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from .state import Intent

CLOCK_SKEW = timedelta(minutes=2)
MATCH_OPT_FIELDS = ["name", "due_on", "due_at", "start_on", "start_at", "created_at", "custom_fields.gid", "custom_fields.text_value"]


def _signature(name: Any, due_on: Any, due_at: Any, start_on: Any) -> tuple[str, str, str, str]:
    return (name or "", due_on or "", (due_at or "")[:19], start_on or "")


def _sent_signature(payload: dict[str, Any]) -> tuple[str, str, str, str]:
    return _signature(payload.get("name"), payload.get("due_on"), payload.get("due_at"), payload.get("start_on"))


def _task_signature(task: dict[str, Any]) -> tuple[str, str, str, str]:
    """Asana fills due_on from due_at and start_on from start_at; a row sends one of each pair."""
    due_on = None if task.get("due_at") else task.get("due_on")
    start_on = None if task.get("start_at") else task.get("start_on")
    return _signature(task.get("name"), due_on, task.get("due_at"), start_on)


def _sync_key(task: dict[str, Any], sync_key_field: str) -> str | None:
    for field in task.get("custom_fields") or []:
        if field.get("gid") == sync_key_field:
            return field.get("text_value")
    return None


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
            key = _sync_key(task, sync_key_field)
            if key is not None:
                by_key.setdefault(key, task["gid"])
        return {intent.primary_key: by_key[intent.primary_key] for intent in intents if intent.primary_key in by_key}
    waiting: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for intent in sorted(intents, key=lambda intent: (intent.attempted_at, intent.primary_key)):
        waiting[_sent_signature(intent.payload)].append(intent.primary_key)
    matched: dict[str, str] = {}
    for task in candidates:
        keys = waiting.get(_task_signature(task))
        if keys:
            matched[keys.pop(0)] = task["gid"]
    return matched
