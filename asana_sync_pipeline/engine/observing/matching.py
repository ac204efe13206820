"""Pairing what Asana holds with what the sync meant, by comparing tasks (pure: no requests).

- `match_intents`: the tasks that creates of unknown outcome made. A create whose answer never
  arrived (timeout, reset, 5xx, crash) may or may not have made a task; before creating again, the
  sync lists the project's tasks modified since the attempt and pairs each intent with the task it
  made. With a sync-key custom field (a text field receiving the row's primary key), matching is
  exact. Without one, a task matches an intent only when everything the create sent agrees with the
  task, read the way Asana shows it (`task_values.Appearance`), with the defaults of a new task for
  what was not sent; a task whose text is character for character the one a create sent pairs with
  that create first. Intents whose payloads are identical are interchangeable; everything else pairs
  one to one.
- `match_tasks_to_rows`: the tasks of the project carrying the rows' keys in the sync key field, to
  adopt when the state lost them (a rebuild, an older state restored); a dry run previews the same.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..planning import SYNC_KEY, Operation, Plan, PlannedRow, api_payload
from ..state import Intent, Outcome
from .task_values import Appearance, People, appearance_of_payload, appearance_of_task, gid_of, parse_time, sync_key_of

CLOCK_SKEW = timedelta(minutes=2)


COMPARED_FIELDS = frozenset(
    {
        "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee",
        "custom_fields", "resource_subtype", "approval_status", "tags", "followers", "projects", "memberships",
        "parent", "workspace",
    }
)  # fmt: skip
"""Payload fields that `appearance_of_payload` compares; a row sending any other field is updated, never assumed unchanged."""


@dataclass(frozen=True)
class Adoptions:
    """What listing the project found: the outcomes to record, and how they split."""

    outcomes: list[Outcome]
    up_to_date: int
    duplicates: int
    by_content: int = 0
    """Of the outcomes: tasks without a key that show their row exactly (the key is written into them)."""


def _oldest_first(task: dict[str, Any]) -> tuple[str, int]:
    return (task.get("created_at") or "", int(task["gid"]) if str(task["gid"]).isdigit() else 0)


def _shows_row(
    task: dict[str, Any], plan: Plan, row: PlannedRow, project_gid: str, people: People, *, with_key: bool = True
) -> bool:
    sync_key_field = plan.settings.sync_key_field if with_key else None
    payload = api_payload(plan.payload_fields(row.position), project_gid=project_gid, sync_key_field=sync_key_field, for_update=False)
    if not set(payload) <= COMPARED_FIELDS:
        return False
    return appearance_of_task(task, people).shows(appearance_of_payload(payload, people))


def match_tasks_to_rows(plan: Plan, tasks: list[dict[str, Any]], project_gid: str, me_gid: str | None) -> Adoptions:
    """Pair each row without a task of its own with the oldest listed task carrying its key; then each
    row still without one with a task of the sync's user that carries no key and shows exactly what the
    row would send (made before `sync_key_field` was set): adopted, its key to be written into it."""
    sync_key_field = plan.settings.sync_key_field or ""
    by_key: dict[str, list[PlannedRow]] = {}
    for row in plan.rows():
        if not row.gid_from_column:
            by_key.setdefault(row.key, []).append(row)
    people = People(me_gid, tasks)
    adopted: dict[str, dict[str, Any]] = {}
    duplicates = 0
    keyless = []
    for task in sorted(tasks, key=_oldest_first):
        key = sync_key_of(task, sync_key_field)
        if not key and me_gid and gid_of(task.get("created_by")) == me_gid:
            keyless.append(task)
        if key is None or key not in by_key:
            continue
        if key in adopted:
            duplicates += 1
            continue
        adopted[key] = task
    outcomes = []
    up_to_date = 0
    for key, task in adopted.items():
        [*others, row] = by_key[key]
        current = not others and row.operation is Operation.CREATE and _shows_row(task, plan, row, project_gid, people)
        up_to_date += current
        outcomes.append(
            Outcome(
                key, task_gid=task["gid"], payload_hash=row.payload_hash if current else None,
                written=plan.written_values(row.position) if current else None, action="adopt",
            )
        )
    by_content = _by_content(plan, keyless, [rows[0] for key, rows in by_key.items() if key not in adopted], project_gid, people)
    for row, task in by_content:
        written = plan.written_values(row.position)
        written.pop(SYNC_KEY, None)  # the task lacks its key: the row's update writes it
        outcomes.append(Outcome(row.key, task_gid=task["gid"], written=written, action="adopt"))
    return Adoptions(outcomes, up_to_date, duplicates, len(by_content))


def _by_content(
    plan: Plan, tasks: list[dict[str, Any]], rows: list[PlannedRow], project_gid: str, people: People
) -> list[tuple[PlannedRow, dict[str, Any]]]:
    """Rows paired with the oldest task (of `tasks`) showing exactly what each would send, one to one."""
    rows = [row for row in rows if row.operation is Operation.CREATE]
    if not tasks or not rows:
        return []
    by_name: dict[str, list[PlannedRow]] = defaultdict(list)
    names = plan.values.get("name")
    for row in rows:
        by_name[str(names[row.position]).strip() if names is not None else ""].append(row)
    pairs, taken = [], set()
    for task in tasks:
        for row in by_name.get((task.get("name") or "").strip(), []):
            if row.key not in taken and _shows_row(task, plan, row, project_gid, people, with_key=False):
                pairs.append((row, task))
                taken.add(row.key)
                break
    return pairs


def _created_at(task: Mapping[str, Any]) -> datetime | None:
    return parse_time(task.get("created_at"))


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
        return matched_by_key(intents, candidates, sync_key_field)
    return _match_by_content(intents, candidates, People(me_gid, candidates))


def matched_by_key(intents: list[Intent], candidates: list[dict[str, Any]], sync_key_field: str) -> dict[str, str]:
    """Intents matched to the tasks carrying their row's key in the sync key field (in `candidates`'
    order, the first task with a key wins): primary key -> task GID."""
    by_key: dict[str, str] = {}
    for task in candidates:
        key = sync_key_of(task, sync_key_field)
        if key is not None:
            by_key.setdefault(key, task["gid"])
    return {intent.primary_key: by_key[intent.primary_key] for intent in intents if intent.primary_key in by_key}


def _match_by_content(intents: list[Intent], candidates: list[dict[str, Any]], people: People) -> dict[str, str]:
    """Pair tasks with the intents whose payload they show; identical payloads share a queue."""
    queues: dict[str, list[str]] = defaultdict(list)
    appearances: dict[str, Appearance] = {}
    for intent in sorted(intents, key=lambda intent: (intent.attempted_at, intent.primary_key)):
        payload_key = json.dumps(intent.payload, sort_keys=True, default=str)
        queues[payload_key].append(intent.primary_key)
        appearances.setdefault(payload_key, appearance_of_payload(intent.payload, people))
    by_fields: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for payload_key, appearance in appearances.items():
        by_fields[appearance.fields].append(payload_key)
    for payload_keys in by_fields.values():
        payload_keys.sort(key=lambda payload_key: (-len(appearances[payload_key].sections), payload_key))
    matched: dict[str, str] = {}
    taken: set[str] = set()
    seen = {task["gid"]: appearance_of_task(task, people) for task in candidates}
    payloads = {payload_key: json.loads(payload_key) for payload_key in appearances}
    for exact_text_only in (True, False):
        for task in candidates:
            if task["gid"] in taken:
                continue
            for payload_key in by_fields.get(seen[task["gid"]].fields, []):
                if not queues[payload_key] or not seen[task["gid"]].shows(appearances[payload_key]):
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
