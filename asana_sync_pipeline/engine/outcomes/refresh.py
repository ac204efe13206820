"""Keeping the outcomes fresh: each task as last read, the changes of its fields, and what became of
it, from as few reads as Asana allows. Never writes to Asana.

Two ways in, one record (`StateStore.save_refresh`, in one transaction with the outcomes' events
cursor, so a reading killed half-way records nothing and the next one reads the same again):

- `refresh_outcomes`, the outcomes job alone: the project's events since the outcomes' cursor (one
  request when nothing changed), then the tasks they name in pages (`GET /tasks?project=…&
  modified_since=…`), never one read per task; without a valid events token, one such listing
  since the last refresh (the first refresh lists the project once). A task whose events all come
  from the token's own user and that its snapshot already shows (a write's answer) is not read.
- `record_run_outcomes`, at the end of a sync run, under its lock: the tasks the run read and the
  answers of its writes are the snapshots; the events since the run read them (its own writes,
  and what people did meanwhile) say which tasks changed after that, and only those are read. The
  next run's events then start after this run's own writes, unless people changed something
  meanwhile: then the next run reads those events again, to see what they did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ..asana.client import AsanaClient
from ..errors import ForbiddenError, NotFoundError
from ..log import Log, counted
from ..observing.observe import Events, Observation, read_events
from ..observing.task_values import OUTCOME_OPT_FIELDS, People, gid_of, parse_time
from ..state import DELETED_IN_ASANA, LIVE, MOVED_OUT, EventCursor, Refresh, StateStore, SyncScope, utc_now
from .history import changes as changes_of
from .history import history_rows

READ_ONE_BY_ONE = 25
"""Up to this many tasks are read one by one at the end of a run; more, through one listing."""
LISTING_MARGIN = timedelta(seconds=1)
"""A listing by `modified_since` starts this much before the first event, for rounding."""
LISTING_SKEW = timedelta(minutes=2)
OWN_ECHO = timedelta(seconds=2)
"""How long after a write of the sync's its own event may be stamped and still be that write's echo."""
"""Without event times: since the last reading by this machine's clock, less this for clock skew."""


@dataclass
class OutcomeReading:
    """What a reading for the outcomes cost and found."""

    requests: int = 0
    events: int = 0
    tasks_read: int = 0
    changes: int = 0
    listed: bool = False
    """A listing stood in for the events (first reading, or an expired events token)."""

    def summary(self) -> str:
        how = "a listing of the project's changed tasks" if self.listed else f"{counted(self.events, 'event')}"
        return (
            f"{counted(self.tasks_read, 'task')} read, {counted(self.changes, 'change')} recorded, from {how} "
            f"({counted(self.requests, 'request')})"
        )


class _Held(dict[str, Any]):
    """What the state holds of one task: its key and status, and (`task`) the task as last read, parsed
    from its JSON only when asked for: a refresh reads few of a project's tasks, and parsing them all
    was most of its time on a large project."""

    def __missing__(self, name: str) -> Any:
        if name != "task":
            raise KeyError(name)
        text = self.get("text")
        self["task"] = task = json.loads(text) if isinstance(text, str) else None
        return task


def _known(snapshots: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Task GID -> what the state holds of it (`_Held`)."""
    columns = (snapshots[name] for name in ("task_gid", "primary_key", "status", "task"))
    return {str(gid): _Held(primary_key=key, status=status, text=text) for gid, key, status, text in zip(*columns, strict=True)}


def _author(event: Mapping[str, Any]) -> str | None:
    user = event.get("user")
    return str(user.get("gid")) if isinstance(user, dict) and user.get("gid") else None


def _latest(events: Sequence[Mapping[str, Any]]) -> datetime | None:
    moments = [moment for event in events if (moment := parse_time(event.get("created_at"))) is not None]
    return max(moments) if moments else None


def _shows(task: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]], me_gid: str | None) -> bool:
    """Whether `task` (as last read) already shows every change `events` tell of: it was modified at or
    after the latest of them; for the sync's own writes (the token's user made every event since the
    task was read), up to `OWN_ECHO` after, since Asana stamps the event a moment after the write it answered."""
    if not task:
        return False
    modified = parse_time(task.get("modified_at"))
    if modified is None:
        return False
    people = [event for event in events if _author(event) != me_gid or not me_gid]
    own = [event for event in events if me_gid and _author(event) == me_gid]
    latest_people, latest_own = _latest(people), _latest(own)
    if latest_people is not None and modified < latest_people:
        return False
    return latest_own is None or modified >= latest_own - OWN_ECHO


def _since(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _read(
    client: AsanaClient, project_gid: str, gids: set[str], since: datetime | None, *, one_by_one: bool
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """The tasks of `gids` as Asana shows them now (through one listing by `modified_since`, or one by
    one), and those Asana no longer shows (deleted, or moved where the token cannot read them)."""
    found: dict[str, dict[str, Any]] = {}
    if not one_by_one and since is not None:
        async for task in client.project_tasks(project_gid, modified_since=_since(since), opt_fields=OUTCOME_OPT_FIELDS):
            if task["gid"] in gids:
                found[task["gid"]] = task
    gone: set[str] = set()
    for gid in sorted(gids - set(found)):
        try:
            found[gid] = await client.get_task(gid, OUTCOME_OPT_FIELDS)
        except (NotFoundError, ForbiddenError):
            gone.add(gid)
    return found, gone


async def _emails(client: AsanaClient, people: People, events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The email of each person who made one of `events`: from the tasks read, else asked once each
    (the sync's own user is the sync, never asked)."""
    emails = dict(people.email_of)
    wanted = {author for event in events if (author := _author(event)) and author not in emails and author != people.me_gid}
    for gid in sorted(wanted):
        try:
            user = await client.request("GET", f"/users/{gid}", params={"opt_fields": "email,name"})
        except (NotFoundError, ForbiddenError):
            continue
        if user.get("email"):
            emails[gid] = str(user["email"]).lower()
    return emails


async def _record(
    client: AsanaClient,
    store: StateStore,
    scope: SyncScope,
    known: dict[str, dict[str, Any]],
    read: dict[str, dict[str, Any]],
    by_sync: set[str],
    events: Mapping[str, Sequence[Mapping[str, Any]]],
    statuses: dict[str, str],
    cursor: EventCursor | None,
    *,
    me_gid: str | None,
    run_id: str | None,
) -> int:
    """Save what was read: snapshots, statuses, history (each task's changes against what the state
    held), and the cursor, at once. Returns how many changes were recorded."""
    now = utc_now()
    read = {gid: task for gid, task in read.items() if gid in known}
    for gid, task in read.items():
        if known[gid]["status"] == LIVE and not any(gid_of(project) == scope.project_gid for project in task.get("projects") or []):
            if not task.get("parent"):  # a subtask sits in no project: it is where the sync put it
                statuses[gid] = MOVED_OUT
    people = People(me_gid, read.values())
    emails = await _emails(client, people, [event for gid in read for event in events.get(gid, [])])
    rows: list[dict[str, Any]] = []
    for gid, task in read.items():
        found = changes_of(
            known[gid]["task"], task, list(events.get(gid, [])), project_gid=scope.project_gid, me_gid=me_gid,
            email_of=emails.get, by_sync=gid in by_sync,
        )  # fmt: skip
        rows += history_rows(str(known[gid]["primary_key"]), gid, found, run_id)
    for row in rows:
        row["changed_at"] = row["changed_at"] or now
    store.save_refresh(scope, Refresh(read, statuses, rows, cursor, now))
    return len(rows)


async def refresh_outcomes(
    client: AsanaClient, store: StateStore, scope: SyncScope, *, me_gid: str | None, run_id: str, log: Log
) -> OutcomeReading:
    """Read what changed in the project since the outcomes' cursor and record it (see the module doc)."""
    reading = OutcomeReading()
    before = client.requests_sent
    state = store.outcome_cursor(scope)
    known = _known(store.snapshots(scope))
    if not known:
        log(f"The outcomes of {scope} hold no task yet: nothing to read (a sync run records its tasks first)")
        return reading
    cursor = EventCursor(state.token, state.read_at) if state.token and state.read_at else None
    found, fresh = await read_events(client, scope.project_gid, cursor)
    reading.events = found.events
    statuses: dict[str, str] = {}
    if found.cursor is None:
        reading.listed = True
        live = {gid for gid, held in known.items() if held["status"] == LIVE}
        since = state.read_at - LISTING_SKEW if state.read_at else None
        why = "its events token expired" if state.token else "a first reading"
        log(f"Outcomes of {scope}: {why}: listing the project's tasks modified since {since or 'ever'}")
        listed: dict[str, dict[str, Any]] = {}
        params_since = _since(since) if since else None
        async for task in client.project_tasks(scope.project_gid, modified_since=params_since, opt_fields=OUTCOME_OPT_FIELDS):
            listed[task["gid"]] = task
        read = {gid: task for gid, task in listed.items() if gid in known}
        if since is None:  # a first reading: the live tasks the listing did not show have left the project
            missing, gone = await _read(client, scope.project_gid, live - set(listed), None, one_by_one=True)
            read.update(missing)
            statuses.update(dict.fromkeys(gone, DELETED_IN_ASANA))
        events: Mapping[str, Sequence[Mapping[str, Any]]] = {}
    else:
        read, events, gone = await _changed_tasks(client, scope, known, found, me_gid=me_gid, one_by_one=False)
        statuses.update({gid: DELETED_IN_ASANA for gid in gone if known[gid]["status"] == LIVE})
    reading.tasks_read = len(read)
    reading.changes = await _record(
        client, store, scope, known, read, set(), events, statuses, fresh, me_gid=me_gid, run_id=run_id
    )
    reading.requests = client.requests_sent - before
    log(f"Outcomes of {scope}: {reading.summary()}")
    return reading


async def _changed_tasks(
    client: AsanaClient,
    scope: SyncScope,
    known: dict[str, dict[str, Any]],
    found: Events,
    *,
    me_gid: str | None,
    one_by_one: bool,
    fresher: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, dict[str, Any]], Mapping[str, Sequence[Mapping[str, Any]]], set[str]]:
    """The sync's tasks that `found` events say changed, read, and those deleted. A task whose snapshot
    (or what `fresher` holds: a write's answer) is as new as its latest event is not read again: the
    sync's own writes come back as events it already holds the answer of."""
    fresher = fresher or {}
    ours = set(known)
    deleted = found.deleted & ours
    stale = set()
    for gid in (set(found.by_task) & ours) - deleted:
        if not _shows(fresher.get(gid) or known[gid]["task"], found.by_task[gid], me_gid):
            stale.add(gid)
    since = min((moment for gid in stale if (moment := _earliest(found.by_task[gid])) is not None), default=None)
    many = len(stale) > READ_ONE_BY_ONE
    read, gone = (
        await _read(client, scope.project_gid, stale, since - LISTING_MARGIN if since else None, one_by_one=one_by_one and not many)
        if stale
        else ({}, set())
    )
    return read, found.by_task, deleted | gone


def _earliest(events: Sequence[Mapping[str, Any]]) -> datetime | None:
    moments = [moment for event in events if (moment := parse_time(event.get("created_at"))) is not None]
    return min(moments) if moments else None


async def record_run_outcomes(
    client: AsanaClient,
    store: StateStore,
    scope: SyncScope,
    observation: Observation,
    written: Mapping[str, dict[str, Any]],
    *,
    me_gid: str | None,
    run_id: str,
    log: Log,
    wrote_any: bool = True,
) -> EventCursor:
    """At the end of a sync run (see the module doc): record the tasks it read and the answers of its
    writes, read what changed since (when it wrote anything: a run that wrote nothing costs no read
    more), and return the events cursor the next run starts from."""
    before = client.requests_sent
    known = _known(store.snapshots(scope))
    seen = {gid: task for gid, task in observation.tasks.items()}
    for gid, task in written.items():
        if str(task.get("modified_at") or "") >= str((seen.get(gid) or {}).get("modified_at") or ""):
            seen[gid] = task
    if not wrote_any:
        # Nothing written: the events up to the run's own reading are all it saw, and what it read is recorded.
        await _record(
            client, store, scope, known, seen, set(), observation.task_events, {}, observation.cursor, me_gid=me_gid, run_id=run_id
        )
        return observation.cursor
    found, fresh = await read_events(client, scope.project_gid, observation.cursor)
    if found.cursor is None:  # the run's own token expired meanwhile: the next run lists, as after any expiry
        await _record(client, store, scope, known, seen, set(written), observation.task_events, {}, None, me_gid=me_gid, run_id=run_id)
        return fresh
    read, window, gone = await _changed_tasks(client, scope, known, found, me_gid=me_gid, one_by_one=True, fresher=seen)
    seen.update(read)
    events = {gid: [*observation.task_events.get(gid, []), *window.get(gid, [])] for gid in set(seen) | set(window)}
    statuses = {gid: DELETED_IN_ASANA for gid in gone if gid in known and known[gid]["status"] == LIVE}
    by_sync = {gid for gid in written if gid not in read}
    changes = await _record(
        client, store, scope, known, seen, by_sync, events, statuses,
        EventCursor(fresh.token, fresh.read_at), me_gid=me_gid, run_id=run_id,
    )  # fmt: skip
    people_meanwhile = any(
        _author(event) != me_gid for gid, events_of in window.items() if gid in known for event in events_of
    )
    log(
        f"Outcomes recorded: {counted(len(seen), 'task')} as this run read or wrote them, {counted(changes, 'change')}, "
        f"{counted(client.requests_sent - before, 'request')} to read what changed meanwhile"
    )
    return observation.cursor if people_meanwhile else fresh
