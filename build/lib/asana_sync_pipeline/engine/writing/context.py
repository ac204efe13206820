"""One run's shared parts, handed to every writer as one object (the Singer-sink shape: each
write path is an object with hooks, not a function with a long list of arguments)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..asana.client import AsanaClient
from ..log import Log
from ..planning import Plan, PlannedRow
from ..state import Outcome, StateStore, SyncScope
from .executor import OutcomeRecorder, SyncOptions, WorkerPool
from .report import SyncReport

Result = TypeVar("Result")


@dataclass
class RunContext:
    """The client, the state and the bookkeeping of one run.

    `tasks` maps primary keys to task GIDs for every row that has a task, and
    grows as creates succeed: a child row finds its parent's task there. The
    recorder batches outcomes into the state; the pool runs writes at the
    client's concurrency and stops them all on a failure that concerns the run."""

    client: AsanaClient
    store: StateStore
    scope: SyncScope
    run_id: str
    me_gid: str
    log: Log
    options: SyncOptions = field(default_factory=SyncOptions)
    report: SyncReport = field(default_factory=SyncReport)
    tasks: dict[str, str] = field(default_factory=dict)
    recorder: OutcomeRecorder = field(init=False)
    pool: WorkerPool = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = OutcomeRecorder(self.store, self.scope, self.run_id, self.report)
        self.pool = WorkerPool(self.recorder, self.options, self.log)

    @property
    def project_gid(self) -> str:
        return self.scope.project_gid

    def record(self, outcome: Outcome) -> None:
        self.recorder.record(outcome)

    def reject(self, key: str, field_name: str, reason: str, **outcome: Any) -> None:
        """Record one row's rejection for this run (kept with its reason, retried next run)."""
        self.recorder.record(Outcome(key, field=field_name, reason=reason, **outcome))

    async def flush(self) -> None:
        await self.recorder.flush()

    async def in_state(self, method: Callable[..., Result], *args: Any) -> Result:
        """A state store call for this run's scope, off the event loop."""
        return await asyncio.to_thread(method, self.scope, *args)


@dataclass
class RowWriter:
    """A write path over a plan's rows (creates, updates): the run it belongs to and its plan."""

    run: RunContext
    plan: Plan

    def orphaned(self, row: PlannedRow) -> bool:
        """True, and the row rejected for this run, when its parent row has no task (its create failed)."""
        parent_key = self.plan.payload_fields(row.position).get("parent_key")
        if not parent_key or parent_key in self.run.tasks:
            return False
        self.run.reject(
            row.key,
            "parent_key",
            f"its parent row {parent_key!r} has no task yet (its create did not succeed); retried on the next run",
        )
        return True
