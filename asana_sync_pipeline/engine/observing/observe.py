"""Seeing what people did in the project since the last run: its events since the sync token the
state kept (or, without a valid one, one listing of its tasks), then the tasks that changed read
in their current form.

Events say *which* tasks changed; what changed is found by comparing each task with what the
sync last wrote (`values`), never by who made the event: the token's user may be a person too,
and the sync's own writes come back as events whose values match what it wrote.

Reads: with a valid token and nothing changed, one. Changed tasks are read one by one when
few, else by one listing of the tasks modified since the first event (100 a page). A task that left
the project, or is gone, is read once to tell which.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ..asana.client import AsanaClient
from ..errors import ForbiddenError, NotFoundError, SyncTokenExpired
from ..log import Log
from ..state import EventCursor, utc_now
from .task_values import OUTCOME_OPT_FIELDS, parse_time

READ_ONE_BY_ONE = 25
"""Up to this many changed tasks are read one by one; more, through one listing of the project."""
LISTING_MARGIN = timedelta(seconds=1)
"""Listing the tasks modified since the first event (Asana's clock), less this margin for rounding."""
LISTING_SKEW = timedelta(minutes=2)
"""Without event times: since the last read by this machine's clock, less this for clock skew."""
OPT_FIELDS = OUTCOME_OPT_FIELDS
"""Each task is read with what the outcomes keep of it too: what a run reads, they record."""


@dataclass
class Observation:
    """What the project showed: `tasks` (gid -> the task now) of the sync's tasks that changed or
    were all listed, `gone` (tasks deleted), `hidden` (no longer readable), `unknown` (tasks of the
    project the state does not know: from a listing, or added since the token), and the cursor to
    read from next time."""

    cursor: EventCursor
    listed: bool = False
    events: int = 0
    reads: int = 0
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)
    """Tasks Asana no longer lets the token read (403): moved where it has no access."""
    unknown: list[dict[str, Any]] = field(default_factory=list)
    task_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The events of each task read (GID -> its events, oldest first): who changed what, and when."""
    own_only: set[str] = field(default_factory=set)
    """Tasks whose events all came from the token's own user (the sync's writes): not read, nothing of people's."""


@dataclass
class Events:
    changed: set[str]
    deleted: set[str]
    events: int
    cursor: EventCursor | None
    """None: no valid token (first run, expired, 412)."""
    earliest: datetime | None = None
    """When the first of them happened, by Asana's clock: every changed task was modified since."""
    by_task: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each task's events (those of comments and attachments under their task), oldest first."""


async def read_events(client: AsanaClient, project_gid: str, cursor: EventCursor | None) -> tuple[Events, EventCursor]:
    """Every event since `cursor`, page by page; the cursor to keep for the next run."""
    changed: set[str] = set()
    deleted: set[str] = set()
    by_task: dict[str, list[dict[str, Any]]] = {}
    count, token = 0, cursor.token if cursor else None
    earliest: datetime | None = None
    while True:
        read_at = utc_now()
        try:
            page = await client.events(project_gid, token)
        except SyncTokenExpired as exc:
            return Events(set(), set(), 0, None), EventCursor(exc.fresh, read_at)
        for event in page.get("data") or []:
            count += 1
            resource = event.get("resource") or {}
            parent = event.get("parent") or {}
            if resource.get("resource_type") != "task":
                if parent.get("resource_type") == "task":  # a comment or an attachment: the task changed, no field did
                    by_task.setdefault(str(parent.get("gid")), []).append(event)
                continue
            gid = str(resource.get("gid"))
            by_task.setdefault(gid, []).append(event)
            at = parse_time(event.get("created_at"))
            if at is not None and (earliest is None or at < earliest):
                earliest = at
            if event.get("action") == "deleted":
                deleted.add(gid)
                changed.discard(gid)
            else:
                changed.add(gid)
                deleted.discard(gid)
        token = page["sync"]
        if not page.get("has_more"):
            fresh = EventCursor(token, read_at)
            return Events(changed, deleted, count, fresh, earliest, by_task), fresh


async def _read_tasks(client: AsanaClient, gids: set[str], into: Observation) -> dict[str, dict[str, Any]]:
    """Each task as Asana shows it now, read one by one; those gone or hidden are noted in `into`."""
    found: dict[str, dict[str, Any]] = {}
    for gid in sorted(gids):
        try:
            found[gid] = await client.get_task(gid, OPT_FIELDS)
        except NotFoundError:
            into.gone.add(gid)
        except ForbiddenError:
            into.hidden.add(gid)
    return found


async def confirm(
    client: AsanaClient, observation: Observation, gids: set[str], *, ours: int = 0, project_gid: str | None = None
) -> None:
    """Read `gids` into `observation` (subtasks of a deleted task, tasks whose `if_empty` fields an update
    would write): found, gone or hidden. One by one when few, else in one listing of the project when
    that costs fewer reads (`ours`: about how many tasks it holds)."""
    gids = gids - set(observation.tasks)
    if not gids:
        return
    before = client.requests_sent
    if project_gid is not None and len(gids) > max(READ_ONE_BY_ONE, ours // 100):
        async for task in client.project_tasks(project_gid, opt_fields=OPT_FIELDS):
            if task["gid"] in gids:
                observation.tasks[task["gid"]] = task
        gids = gids - set(observation.tasks)
    observation.tasks.update(await _read_tasks(client, gids, observation))
    observation.reads += client.requests_sent - before


async def observe(
    client: AsanaClient,
    project_gid: str,
    ours: Mapping[str, str],
    cursor: EventCursor | None,
    *,
    want_unknown: bool,
    log: Log,
    listed_already: bool = False,
    known: Collection[str] = (),
    me_gid: str | None = None,
    known_until: datetime | None = None,
    judge_unknown: bool = False,
) -> Observation:
    """What changed in the project since `cursor`, for the sync's tasks (`ours`: task GID -> row key).

    `want_unknown`: also read tasks the state does not know that joined the project (to adopt them by
    their sync key). `judge_unknown` (no sync key): read those the token's user added to the project, and
    list the project even for a state that knows no task, to count the tasks a lost or older state does
    not know. Without a valid cursor and with tasks to compare, lists the project once (unless this run
    has just listed it: `listed_already`, after rebuilding its state). `known`: tasks the state (or
    another sync's in this project) knows beside `ours` (released, or completed when their row left),
    never unknown. `me_gid`: the token's user; a task of the sync's whose every event that user made
    before `known_until` (the end of the last run the state recorded) changed only by the sync's own
    writes the state holds, and is not read (`own_only`); a later one is a write the state does not
    know (an older copy of the state restored), and is read."""
    known = set(ours) | set(known)
    before = client.requests_sent
    events, fresh = await read_events(client, project_gid, cursor)
    seen = Observation(fresh, events=events.events, task_events=events.by_task)
    if events.cursor is None:
        if (ours or judge_unknown) and not listed_already:
            why = "no sync token yet" if cursor is None else "its sync token expired"
            purpose = (
                "to see what people changed since the last run" if ours
                else "to find tasks this sync made that its state does not know (no sync_key_field to recognise them by)"
            )  # fmt: skip
            log(f"Reading every task of the project once ({why}) {purpose}")
            seen.listed = True
            listed = {task["gid"]: task async for task in client.project_tasks(project_gid, opt_fields=OPT_FIELDS)}
            seen.tasks = {gid: task for gid, task in listed.items() if gid in ours}
            seen.unknown = [task for gid, task in listed.items() if gid not in known]
            seen.tasks.update(await _read_tasks(client, set(ours) - set(listed), seen))
        seen.reads = client.requests_sent - before
        return seen
    seen.gone = events.deleted & set(ours)
    changed = events.changed - seen.gone
    mine = changed & set(ours)
    if me_gid and known_until is not None:
        seen.own_only = {gid for gid in mine if _known_writes(events.by_task.get(gid, []), me_gid, known_until)}
        mine -= seen.own_only
    others = changed - known if want_unknown else set()
    if judge_unknown and me_gid and not want_unknown:
        others = {gid for gid in changed - known if _added_by(events.by_task.get(gid, []), me_gid, project_gid)}
    if len(mine) + len(others) > READ_ONE_BY_ONE and cursor is not None:
        start = events.earliest - LISTING_MARGIN if events.earliest else cursor.read_at - LISTING_SKEW
        since = start.astimezone(UTC).isoformat().replace("+00:00", "Z")
        listed = {
            task["gid"]: task
            async for task in client.project_tasks(project_gid, modified_since=since, opt_fields=OPT_FIELDS)
        }
        seen.tasks = {gid: listed[gid] for gid in mine if gid in listed}
        seen.unknown = [listed[gid] for gid in others if gid in listed]
        mine -= set(listed)
        others -= set(listed)
    found = await _read_tasks(client, mine | others, seen)
    seen.gone &= set(ours)
    seen.hidden &= set(ours)
    seen.tasks.update({gid: task for gid, task in found.items() if gid in ours})
    seen.unknown += [task for gid, task in found.items() if gid not in ours]
    seen.reads = client.requests_sent - before
    return seen


def _author(event: Mapping[str, Any]) -> str | None:
    user = event.get("user")
    return str(user.get("gid")) if isinstance(user, dict) and user.get("gid") else None


def _known_writes(events: list[dict[str, Any]], me_gid: str, known_until: datetime) -> bool:
    """Whether every one of a task's events is a write of the sync's that the state holds: made by the
    token's user, by the end of the last run the state recorded (an event without a time is not known)."""
    for event in events:
        at = parse_time(event.get("created_at"))
        if _author(event) != me_gid or at is None or at > known_until:
            return False
    return True


def _added_by(events: list[dict[str, Any]], me_gid: str, project_gid: str) -> bool:
    """Whether the token's user added the task to the project (created it there) among `events`."""
    return any(
        event.get("action") == "added" and _author(event) == me_gid
        and str((event.get("parent") or {}).get("gid")) == project_gid
        for event in events
    )  # fmt: skip


def ours_from(synced: pd.DataFrame) -> dict[str, str]:
    """Task GID -> row key of the sync's tasks that are neither released nor removed."""
    if synced.empty:
        return {}
    live = synced["removed"].isna() if "removed" in synced else pd.Series(True, index=synced.index)
    return dict(zip(synced["task_gid"][live].astype(str), synced["primary_key"][live].astype(str)))
