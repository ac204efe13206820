"""What the sync remembers, whatever holds it: which task each row became, what is in
flight, what was rejected, and what each run did.

Everything is kept per `SyncScope` (sync name, project GID): two syncs into one
project, with overlapping primary keys, never touch each other's tasks.

- synced tasks: primary key -> task GID, the hash of the payload last synced, the
  model's value of each field at that sync (`written`, JSON: what the sync owns, so an
  update sends only what changed since), whether the task was completed because its
  row left the model or released to people (`removed`), and the hash of the comment
  last posted.
- create intents: a create about to be sent. Written (and committed) before the
  request, removed once its GID is recorded; one left behind marks a create
  whose outcome is unknown (crash, timeout) and is reconciled before creating
  again.
- comment intents: a comment about to be posted, kept until its story is known to
  exist, so a lost answer never posts it twice.
- rejections: rows that could not sync, with field, reason, run and time; a row
  leaves them when it syncs.
- sync runs: one line per run with its counts.
- event cursors: per (sync, project), the events API's sync token to read people's
  changes from, saved only once a run's outcome is recorded (a crashed run's events
  are read again).
- people's edits: the synced fields a person changed that the sync left as they set
  them (`on_asana_edit: keep`), saved with the cursor: what still differs from the
  model, and what tells a new edit from one already reported.
- what became of each task (the outcomes): every task the sync ever gave a row, with its
  status (`live`, `released`, `removed`, `deleted_in_asana`, `moved_out`) and the task as
  last read; each change of its fields seen (`task_history`, appended, never twice);
  every action of every run (`sync_log`, kept `sync_log_days`); and where the outcomes'
  reading of the project's events stands, with the columns they are laid out in.

The state is a cache of what Asana holds: with `sync_key_field` set it can be
rebuilt from the project's tasks, so losing it never duplicates a task.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..asana.budget import TokenBudget
from ..log import Log
from ..settings import check_project_gid

SYNCED_COLUMNS = ("primary_key", "task_gid", "payload_hash", "removed", "comment_hash")
"""What `StateStore.synced` returns for planning, per row."""
REJECTION_FIELDS = ("primary_key", "field", "reason")
"""A rejection: which row, which field, what was wrong (a plan's `rejections` table)."""
REJECTION_COLUMNS = (*REJECTION_FIELDS, "run_id", "rejected_at")
"""A stored rejection: the same, with the run that made it and when."""
RUN_COUNTS = (
    "created", "updated", "unchanged", "rejected", "adopted", "recreated", "completed", "deleted", "reopened", "comments",
    "released",
)  # fmt: skip
COMPLETED = "completed"
"""`removed` of a task completed because its row left the model."""
RELEASED = "released"
"""`removed` of a task released to people (moved out of the project by hand): never written again."""
DEFAULT_SYNC = "default"
LIVE, REMOVED, DELETED_IN_ASANA, MOVED_OUT = "live", "removed", "deleted_in_asana", "moved_out"
"""What became of a task (`sync_status` of the outcomes), beside `RELEASED`."""
SYNC_LOG_ACTIONS = (
    "create", "update", "complete", "delete", "remove_from_project", "release", "recreate", "comment", "adopt", "reject",
)  # fmt: skip
WRITE_ACTIONS = frozenset({"create", "update", "complete", "delete", "remove_from_project", "recreate", "comment"})


@dataclass(frozen=True)
class SyncScope:
    """Whose state: one sync's rows in one project. The project GID is checked here, once:
    everything that receives a scope can trust it."""

    sync: str
    project_gid: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "project_gid", check_project_gid(self.project_gid))

    def __str__(self) -> str:
        return f"sync {self.sync!r} in project {self.project_gid}"


@dataclass(frozen=True)
class Intent:
    """A create that was about to be sent: enough to recognise its task later (`job_gid`: the job
    instantiating a task template for it, once Asana answered with one)."""

    primary_key: str
    payload: dict[str, Any]
    attempted_at: datetime
    job_gid: str | None = None


DEPENDENCY, ATTACHMENT = "dependency", "attachment"
"""Kinds of `TaskLink`."""


@dataclass(frozen=True)
class TaskLink:
    """Something the sync set on a row's task beside its fields, so that it removes only what it set: a
    dependency (`target`: the task depended on) or an attachment (`target`: its URL; `link_gid`: the
    attachment, None while its POST is not known to have succeeded, `attempted_at` when it was sent)."""

    primary_key: str
    kind: str
    target: str
    task_gid: str
    link_gid: str | None = None
    name: str | None = None
    attempted_at: datetime | None = None

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.primary_key, self.kind, self.target)


@dataclass(frozen=True)
class CommentIntent:
    """A comment about to be posted on a task: enough to find its story later."""

    primary_key: str
    task_gid: str
    text: str
    comment_hash: int
    attempted_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What happened to one row; the store applies many of these in one transaction.

    `task_gid` set: the row now has this task (created, adopted or updated) and
    `payload_hash` is what it holds, `written` the field values it was synced with (None:
    keep what the state has); `removed` says whether it was completed because the row
    left, or released. `forget`: the task is gone (deleted); the row's mapping goes.
    `field`/`reason` set: rejected. `clear_intent`: the create's outcome is settled.
    `comment_hash` set: that comment is on the task (and its intent goes).
    """

    primary_key: str
    task_gid: str | None = None
    payload_hash: int | None = None
    removed: str | None = None
    forget: bool = False
    field: str | None = None
    reason: str | None = None
    clear_intent: bool = False
    comment_hash: int | None = None
    written: dict[str, Any] | None = None
    action: str | None = None
    """What the run did to the row's task, for the sync log (`create`, `update`, `complete`, ...)."""
    failed: bool = False
    """With `reason`: the action failed (no clear answer, 5xx) rather than being refused."""
    http_status: int | None = None
    changes: dict[str, dict[str, Any]] | None = None
    """Of an update: each field's value before and after, for the sync log."""
    about: str | None = None
    """The task a forgotten row had (the sync log names it; `task_gid` would record the row anew)."""
    task_status: str | None = None
    """What became of the task, when the outcome says more than `removed` does (`deleted_in_asana`, `moved_out`, `removed`)."""

    def written_json(self) -> str | None:
        return None if self.written is None else json.dumps(self.written, sort_keys=True, ensure_ascii=False)

    @property
    def wrote(self) -> bool:
        """Whether the run wrote to the task (a create, an update, a removal), as opposed to recording it."""
        return self.action in WRITE_ACTIONS and self.reason is None


@dataclass(frozen=True)
class EventCursor:
    """Where the next run reads the project's events from: the sync token, and when it was handed out."""

    token: str
    read_at: datetime


@dataclass(frozen=True)
class OutcomeBatch:
    """A batch of outcomes sorted by what each table receives; for a key recorded twice in one
    batch, the later outcome wins."""

    synced: dict[str, Outcome]
    """Rows that have a task now: primary key -> outcome."""
    rejected: list[Outcome]
    settled: list[str]
    """Keys whose create intent is settled."""
    forgotten: list[str]
    """Keys whose task is gone."""
    commented: dict[str, int]
    """Keys whose comment is on the task: primary key -> comment hash."""

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> OutcomeBatch:
        return cls(
            synced={outcome.primary_key: outcome for outcome in outcomes if outcome.task_gid is not None},
            rejected=[outcome for outcome in outcomes if outcome.reason is not None],
            settled=sorted({outcome.primary_key for outcome in outcomes if outcome.clear_intent}),
            forgotten=sorted({outcome.primary_key for outcome in outcomes if outcome.forget}),
            commented={
                outcome.primary_key: outcome.comment_hash for outcome in outcomes if outcome.comment_hash is not None
            },
        )


@dataclass(frozen=True)
class OutcomeCursor:
    """Where the outcomes' reading of the project's events stands (`token` None: never read; the
    next refresh lists what changed since `read_at`), and the columns they are laid out in."""

    token: str | None
    read_at: datetime | None
    layout: dict[str, Any] | None


@dataclass(frozen=True)
class Refresh:
    """What a reading of Asana found for the outcomes, saved at once: each task as now read (GID ->
    the task), tasks whose fate changed (GID -> status), the changes of their fields (`task_history`
    rows, as dicts), and the events cursor to read from next (None: leave it)."""

    tasks: dict[str, dict[str, Any]]
    statuses: dict[str, str]
    history: list[dict[str, Any]]
    cursor: EventCursor | None
    read_at: datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def people_edit_rows(scope: SyncScope, people_edits: Mapping[str, Mapping[str, Any]], at: datetime) -> list[tuple]:
    """The `people_edits` table's rows for `people_edits` (key -> field -> Asana's value, as JSON)."""
    return [
        (scope.sync, scope.project_gid, key, name, json.dumps(value, sort_keys=True, ensure_ascii=False, default=str), at)
        for key, fields in people_edits.items()
        for name, value in fields.items()
    ]


def people_edits_from(rows: list[tuple]) -> dict[str, dict[str, Any]]:
    """Rows of (primary key, field, Asana's value as JSON) back as key -> field -> value."""
    found: dict[str, dict[str, Any]] = {}
    for key, name, value in rows:
        found.setdefault(key, {})[name] = json.loads(value)
    return found


def empty_synced() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in SYNCED_COLUMNS})


class StateStore(ABC):
    """All reads and writes of the sync state. Implementations keep connections short:
    every method opens, does its work in one transaction, and closes."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the state lives, for messages (never a password)."""

    @abstractmethod
    def exclusive(self, scope: SyncScope, log: Log) -> AbstractContextManager[None]:
        """Hold the sync lock of `scope`: one run of a sync writes at a time, across processes."""

    @abstractmethod
    def synced(self, scope: SyncScope) -> pd.DataFrame:
        """Primary key -> task GID and payload hash, for planning; a dry run leaves no trace."""

    @abstractmethod
    def task_gids(self, scope: SyncScope) -> set[str]:
        """Every task GID the sync knows, to tell its own tasks from new ones."""

    @abstractmethod
    def project_task_gids(self, scope: SyncScope) -> set[str]:
        """The tasks of the scope's project that other syncs of this store know: never this sync's to count
        or adopt."""

    @abstractmethod
    def last_finished_at(self, scope: SyncScope) -> datetime | None:
        """When the last run the state recorded for `scope` finished (None: none): its writes, and every
        write before, are in the state."""

    @abstractmethod
    def open_intents(self, scope: SyncScope) -> list[Intent]:
        """Creates whose outcome is not settled, oldest first."""

    @abstractmethod
    def record_intents(self, scope: SyncScope, run_id: str, intents: list[tuple[str, dict[str, Any]]]) -> datetime:
        """Commit the intents of creates about to be sent; returns their timestamp."""

    @abstractmethod
    def note_job(self, scope: SyncScope, primary_key: str, job_gid: str) -> None:
        """Keep, beside a create's intent, the job Asana answered for it (a task template's instantiation)."""

    @abstractmethod
    def links(self, scope: SyncScope) -> list[TaskLink]:
        """Every dependency and attachment the sync set (or is setting) on its tasks."""

    @abstractmethod
    def record_links(self, scope: SyncScope, run_id: str, kept: list[TaskLink], dropped: list[tuple[str, str, str]]) -> None:
        """Record links the sync set or is about to set (`kept`, replacing any of the same row, kind and target)
        and forget those it removed (`dropped`: (primary key, kind, target)), at once."""

    @abstractmethod
    def record_comment_intents(self, scope: SyncScope, run_id: str, intents: list[CommentIntent]) -> None:
        """Commit comments about to be posted (one per row at most)."""

    @abstractmethod
    def open_comment_intents(self, scope: SyncScope) -> list[CommentIntent]:
        """Comments whose posting is not known to have succeeded, oldest first."""

    @abstractmethod
    def start_run(
        self, scope: SyncScope, run_id: str, keys: list[str], rejections: pd.DataFrame, *, run_started_at: datetime | None = None
    ) -> None:
        """Replace the rejections of the rows this run plans with the planning's own (each one a line of
        the sync log too)."""

    @abstractmethod
    def apply(self, scope: SyncScope, run_id: str, outcomes: list[Outcome], *, run_started_at: datetime | None = None) -> None:
        """Record a batch of outcomes atomically: GIDs, hashes, settled intents, rejections, what became
        of each task, and the sync log's line of each outcome that carries an action."""

    @abstractmethod
    def written(self, scope: SyncScope, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The field values each of `keys` was last synced with (keys synced before fields were
        recorded, or unknown, are absent)."""

    @abstractmethod
    def rekey(self, scope: SyncScope, renames: dict[str, str]) -> None:
        """Rename rows' primary keys (old -> new) without touching their tasks."""

    @abstractmethod
    def clear_releases(self, scope: SyncScope, keys: list[str] | None = None) -> list[str]:
        """Forget released tasks (all, or those of `keys`), so their rows get a task again; returns their keys."""

    @abstractmethod
    def event_cursor(self, scope: SyncScope) -> EventCursor | None:
        """The sync token the last finished run left for reading the project's events (None: none yet)."""

    @abstractmethod
    def people_edits(self, scope: SyncScope) -> dict[str, dict[str, Any]]:
        """Per row key, the synced fields whose value a person changed and the sync left as they set
        it (field -> Asana's value when last seen; for a list, `{"removed": [the items the sync wrote
        that are gone]}`): what still differs from the model."""

    @abstractmethod
    def save_observation(self, scope: SyncScope, cursor: EventCursor, people_edits: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep `cursor` for the next run and replace the people's edits still in place, at once
        (called once a run's outcome is recorded: a crash before reads the same events again)."""

    @abstractmethod
    def token_budget(self) -> TokenBudget:
        """Where the clients of one Asana token meet to share its limits: as far as this store reaches
        (this machine for a DuckDB file; every machine for PostgreSQL)."""

    @abstractmethod
    def forget_task(self, scope: SyncScope, primary_key: str) -> None:
        """Drop a mapping whose task no longer exists in Asana."""

    @abstractmethod
    def rejections(self, scope: SyncScope) -> pd.DataFrame:
        """The rows currently rejected, with field, reason, run and time."""

    @abstractmethod
    def record_run(self, scope: SyncScope, summary: dict[str, Any]) -> None:
        """One line of run history: run id, mode, times and the counts of `RUN_COUNTS`."""

    @abstractmethod
    def runs(self, scope: SyncScope) -> pd.DataFrame:
        """The run history of `scope`, oldest first."""

    # ---- what became of each task (the outcomes) ----------------------------------

    @abstractmethod
    def snapshots(self, scope: SyncScope) -> pd.DataFrame:
        """Every task the sync ever gave a row: task_gid, primary_key, status, task (JSON as last read,
        or None), read_at, first_synced_at, last_written_at, last_run_id."""

    @abstractmethod
    def save_refresh(self, scope: SyncScope, refresh: Refresh) -> None:
        """Record a reading of Asana for the outcomes at once: the tasks read (for the tasks the sync
        knows), their statuses, the history rows (a change already recorded is not recorded again)
        and the outcomes' events cursor."""

    @abstractmethod
    def outcome_cursor(self, scope: SyncScope) -> OutcomeCursor:
        """Where the outcomes' reading of events stands, and their layout."""

    @abstractmethod
    def save_outcome_layout(self, scope: SyncScope, layout: dict[str, Any]) -> None:
        """The columns the outcomes are laid out in (the primary key's column, the mapped columns),
        as the sync's last run had them."""

    @abstractmethod
    def history(self, scope: SyncScope) -> pd.DataFrame:
        """Every change of a task's field the sync saw, oldest first."""

    @abstractmethod
    def sync_log(self, scope: SyncScope, since: datetime) -> pd.DataFrame:
        """Every action of every run since `since`, oldest first; older entries are dropped from the state."""
