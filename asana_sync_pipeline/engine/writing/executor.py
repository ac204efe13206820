"""The machinery every write shares: outcomes batched into the state, a worker pool, progress.

Outcomes are written in batches (every `flush_every_rows` outcomes or
`flush_every_seconds`): a commit per row would be the bottleneck. A failure
that concerns the whole run (the token rejected mid-run, Asana unreachable)
stops every worker; what was done before it is flushed first, so nothing
already synced is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from ..errors import AsanaTransportError, AuthenticationError, StateStoreError
from ..log import Log
from ..state import Outcome, StateStore, SyncScope
from .report import SyncReport

Item = TypeVar("Item")
Result = TypeVar("Result")
RUN_FATAL = (AuthenticationError, AsanaTransportError, StateStoreError)
"""Failures that are not about one row: the run stops, the next one continues. A state that cannot
be written (in PostgreSQL: a lost lock) stops the writes to Asana at once, so nothing is written
that the state could not record."""


@dataclass
class SyncOptions:
    """How the writers pace their bookkeeping; not user settings (see `settings` for those)."""

    flush_every_rows: int = 500
    flush_every_seconds: float = 1.0
    progress_every_seconds: float = 10.0
    reconcile_grace_seconds: float = 5.0
    create_rounds: int = 8
    workers: int = 30
    max_concurrent_jobs: int = 5
    """Template instantiation jobs in flight at once (Asana runs a handful per user; reported as 5)."""
    job_timeout_seconds: float = 600.0
    """How long a template job is waited for before its create counts as unclear (reconciled later)."""


class OutcomeRecorder:
    """Collects outcomes and writes them to the state store in batches; counts rejections."""

    def __init__(self, store: StateStore, scope: SyncScope, run_id: str, report: SyncReport, started_at: datetime | None = None):
        self.store = store
        self.scope = scope
        self.run_id = run_id
        self.report = report
        self.started_at = started_at
        self.pending: list[Outcome] = []
        self._flushing = asyncio.Lock()

    def record(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if outcome.reason is not None:
            self.report.rejected += 1
            self.report.rejections.append((outcome.primary_key, outcome.field or "", outcome.reason))

    async def flush(self) -> None:
        """Write what is pending; batches reach the store one at a time, in order. A batch the store
        refuses stays pending (the final flush tries it again) and the error goes up."""
        async with self._flushing:
            batch, self.pending = self.pending, []
            if not batch:
                return
            try:
                await asyncio.to_thread(self.store.apply, self.scope, self.run_id, batch, run_started_at=self.started_at)
            except BaseException:
                self.pending = batch + self.pending
                raise


class WorkerPool:
    """Runs `work(item)` over items with a fixed number of workers; flushes and logs progress."""

    def __init__(self, recorder: OutcomeRecorder, options: SyncOptions, log: Log):
        self.recorder = recorder
        self.options = options
        self.log = log
        self.done = 0
        self.total = 0
        self._fatal: BaseException | None = None

    async def run(self, items: Iterable[Item], work: Callable[[Item], Awaitable[object]]) -> None:
        """`work` over every item; a failure that concerns the run stops every worker and is raised."""
        await self.map(items, work)

    async def map(self, items: Iterable[Item], work: Callable[[Item], Awaitable[Result]]) -> list[Result]:
        """`work` over every item, its results in the items' order."""
        items = list(items)
        queue: Iterator[tuple[int, Item]] = iter(enumerate(items))
        results: dict[int, Result] = {}

        async def worker() -> None:
            for index, item in queue:
                if self._fatal is not None:
                    return
                try:
                    results[index] = await work(item)
                    self.done += 1
                    if len(self.recorder.pending) >= self.options.flush_every_rows:
                        await self.recorder.flush()
                except RUN_FATAL as exc:
                    self._fatal = self._fatal or exc
                    return

        if self._fatal is not None:
            raise self._fatal
        count = max(1, min(self.options.workers, len(items)))
        await asyncio.gather(*(worker() for _ in range(count)))
        if self._fatal is not None:
            if not isinstance(self._fatal, StateStoreError):
                await self.recorder.flush()
            raise self._fatal
        return [results[index] for index in range(len(items))]

    async def flush_periodically(self) -> None:
        """Flush every `flush_every_seconds` and log progress every `progress_every_seconds`; cancel to stop."""
        started = last_progress = time.monotonic()
        while True:
            await asyncio.sleep(self.options.flush_every_seconds)
            try:
                await self.recorder.flush()
            except RUN_FATAL as exc:
                self._fatal = self._fatal or exc
                return
            now = time.monotonic()
            if now - last_progress >= self.options.progress_every_seconds and self.total:
                last_progress = now
                rate = self.done / max(now - started, 1e-9)
                remaining = (self.total - self.done) / rate if rate else float("inf")
                self.log(
                    f"Progress: {self.done:,}/{self.total:,} rows written ({rate:,.1f} rows/s), "
                    f"about {remaining:,.0f} s left"
                )
