"""Creates, exactly once: an intent before every request, reconciliation before any resend.

1. Creates left unsettled by an earlier run (a crash) are reconciled first.
2. Every create's intent is committed before its request is sent.
3. Creates whose answer was lost (timeout, reset, 5xx) are reconciled against
   the project's tasks, and only the ones that made no task are sent again.

Rows nested with `parent_key` are created level by level, parents first (each
level at full concurrency), so a child is created under its parent's task.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from ..asana.client import AsanaClient
from ..errors import AsanaError, AsanaTransportError, AuthenticationError
from .executor import Log, OutcomeRecorder, SyncOptions, WorkerPool
from ..json_text import dumps
from .outcomes import ambiguous, field_of, reason_for
from ..planning.plan import Plan
from .reconcile import MATCH_OPT_FIELDS, earliest_attempt, match_intents
from .report import SyncReport
from ..state import Intent, Outcome, StateStore, SyncScope

MAX_LINKED_TASKS = 50


@dataclass
class CreateWriter:
    """Sends a plan's creates; `payloads` holds each create position's request body."""

    client: AsanaClient
    store: StateStore
    plan: Plan
    scope: SyncScope
    run_id: str
    me_gid: str
    recorder: OutcomeRecorder
    pool: WorkerPool
    options: SyncOptions
    report: SyncReport
    log: Log

    def __post_init__(self) -> None:
        self.payloads: dict[int, dict[str, Any]] = {}
        self.project_gid = self.scope.project_gid
        rows = self.plan.rows
        self.parents: dict[str, str] = {
            key: gid for key, gid in zip(rows["primary_key"], rows["task_gid"]) if isinstance(key, str) and isinstance(gid, str)
        }
        """Primary key -> task GID of every row with a task, growing as creates succeed."""

    def key(self, position: int) -> str:
        return self.plan.rows["primary_key"].iat[position]

    def payload_hash(self, position: int) -> int:
        return int(self.plan.rows["payload_hash"].iat[position])

    def payload(self, position: int) -> dict[str, Any]:
        if position not in self.payloads:
            self.payloads[position] = self.plan.request_body(
                position, self.project_gid, for_update=False, parents=self.parents
            )
        return self.payloads[position]

    # ---- an earlier run's leftovers ---------------------------------------------

    async def settle_earlier_intents(self, creates: list[int]) -> list[int]:
        """Adopt tasks that an interrupted earlier run created; return the creates still needed.

        An intent that made no task and whose row is no longer to be created is dropped."""
        intents = await asyncio.to_thread(self.store.open_intents, self.scope)
        if not intents:
            return creates
        self.log(f"Reconciling {len(intents):,} creates left unsettled by an earlier run")
        adopted = await self.reconcile(intents)
        by_key = {self.key(position): position for position in creates}
        remaining = set(creates)
        for intent in intents:
            gid = adopted.get(intent.primary_key)
            position = by_key.get(intent.primary_key)
            if gid is None:
                if position is None:
                    self.recorder.record(Outcome(intent.primary_key, clear_intent=True))
                continue
            self.report.adopted += 1
            self.parents[intent.primary_key] = gid
            remaining.discard(position)
            same = position is not None and _same_body(intent.payload, self.payload(position))
            payload_hash = self.payload_hash(position) if same else None
            self.recorder.record(Outcome(intent.primary_key, task_gid=gid, payload_hash=payload_hash, clear_intent=True))
        await self.recorder.flush()
        return [position for position in creates if position in remaining]

    async def reconcile(self, intents: list[Intent]) -> dict[str, str]:
        since = earliest_attempt(intents).isoformat().replace("+00:00", "Z")
        tasks = [
            task
            async for task in self.client.project_tasks(self.project_gid, modified_since=since, opt_fields=MATCH_OPT_FIELDS)
        ]
        known = await asyncio.to_thread(self.store.task_gids, self.scope)
        return match_intents(intents, tasks, known, self.plan.settings.sync_key_field, me_gid=self.me_gid)

    # ---- this run's creates -------------------------------------------------------

    async def create_all(self, creates: list[int]) -> None:
        """Create level by level: parents before their children."""
        levels = self.plan.rows["level"].to_numpy()
        for level in sorted({int(levels[position]) for position in creates}):
            batch = [position for position in creates if levels[position] == level]
            await self._create_level(self._placeable(batch))

    def orphaned(self, position: int) -> bool:
        """True, and the row rejected for this run, when its parent row has no task (its create failed)."""
        parent_key = self.plan.payload_fields(position).get("parent_key")
        if not parent_key or parent_key in self.parents:
            return False
        self.recorder.record(
            Outcome(
                self.key(position),
                field="parent_key",
                reason=f"its parent row {parent_key!r} has no task yet (its create did not succeed); retried on the next run",
            )
        )
        return True

    def _placeable(self, positions: list[int]) -> list[int]:
        """The rows whose parent (if any) has a task by now; the others are rejected for this run."""
        return [position for position in positions if not self.orphaned(position)]

    async def _create_level(self, creates: list[int]) -> None:
        """Send the creates; reconcile the ambiguous ones and resend only those that made nothing."""
        for _ in range(self.options.create_rounds):
            if not creates:
                return
            intents = [(self.key(position), self.payload(position)) for position in creates]
            attempted_at = await asyncio.to_thread(self.store.record_intents, self.scope, self.run_id, intents)
            unsettled: list[int] = []

            async def create(position: int) -> None:
                if await self.create(position):
                    unsettled.append(position)

            await self.pool.run(creates, create)
            if not unsettled:
                return
            await self.recorder.flush()
            self.log(f"{len(unsettled):,} creates got no clear answer; checking Asana before resending")
            await asyncio.sleep(self.options.reconcile_grace_seconds)
            pending = [Intent(self.key(position), self.payload(position), attempted_at) for position in unsettled]
            adopted = await self.reconcile(pending)
            creates = []
            for position in unsettled:
                gid = adopted.get(self.key(position))
                if gid is None:
                    creates.append(position)
                    continue
                self.report.adopted += 1
                self.created(position, gid)
            self.pool.done -= len(creates)
        for position in creates:
            self.recorder.record(
                Outcome(
                    self.key(position),
                    field="",
                    reason=f"the create got no clear answer after {self.options.create_rounds} attempts; "
                    "it is reconciled (never duplicated) on the next run",
                )
            )

    def created(self, position: int, gid: str) -> None:
        self.parents[self.key(position)] = gid
        self.report.created += 1
        if len(self.report.created_gids) < MAX_LINKED_TASKS:
            self.report.created_gids.append(gid)
        self.recorder.record(Outcome(self.key(position), task_gid=gid, payload_hash=self.payload_hash(position), clear_intent=True))

    async def create(self, position: int) -> bool:
        """Create one task; True when the outcome is unknown and needs reconciling.

        A request that certainly never reached Asana, after every retry, stops the run."""
        try:
            task = await self.client.create_task(self.payload(position))
        except AuthenticationError:
            raise
        except AsanaError as exc:
            if ambiguous(exc):
                return True
            if isinstance(exc, AsanaTransportError):
                raise
            self.recorder.record(Outcome(self.key(position), field=field_of(exc), reason=reason_for(exc), clear_intent=True))
            return False
        self.created(position, task["gid"])
        return False

    async def recreate(self, position: int) -> bool:
        """Create again a row whose task was deleted in Asana; True if that create succeeded."""
        key = self.key(position)
        self.payloads.pop(position, None)
        await asyncio.to_thread(self.store.forget_task, self.scope, key)
        await asyncio.to_thread(self.store.record_intents, self.scope, self.run_id, [(key, self.payload(position))])
        created_before = self.report.created
        if await self.create(position):
            self.recorder.record(
                Outcome(key, field="", reason="re-creating the deleted task got no clear answer; reconciled on the next run")
            )
        return self.report.created > created_before


def _same_body(sent: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """An intent read back (numbers as floats) against the body this run would send."""
    return json.loads(dumps(sent, sort_keys=True)) == json.loads(dumps(wanted, sort_keys=True))
