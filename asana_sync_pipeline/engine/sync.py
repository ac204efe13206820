"""Carry out a plan against Asana, recording every outcome in the state store.

Order of work, chosen so that no task is ever created twice:
1. Creates left unsettled by an earlier run (a crash) are reconciled first.
2. Every create's intent is committed before its request is sent.
3. Creates and updates run concurrently, paced by the client; outcomes are
   written to DuckDB in batches (a commit per row would be the bottleneck).
4. Creates whose answer was lost are reconciled against the project's tasks
   and only the ones that made no task are sent again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .client import AsanaClient
from .errors import (
    AsanaAPIError,
    AsanaError,
    AsanaTransportError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from .fields import TASK_FIELDS
from .planning import CREATE, REJECT, UNCHANGED, UPDATE, Plan, api_payload
from .reconcile import MATCH_OPT_FIELDS, earliest_attempt, match_intents
from .state import Intent, Outcome, StateStore

Log = Callable[[str], None]


@dataclass
class SyncReport:
    """What a run did, for metadata and the command line."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    adopted: int = 0
    recreated: int = 0
    requests: int = 0
    write_requests: int = 0
    seconds: float = 0.0
    created_gids: list[str] = field(default_factory=list)
    rejections: list[tuple[str | None, str, str]] = field(default_factory=list)


@dataclass
class SyncOptions:
    flush_every_rows: int = 500
    flush_every_seconds: float = 1.0
    progress_every_seconds: float = 10.0
    reconcile_grace_seconds: float = 5.0
    create_rounds: int = 8
    workers: int = 30


def _ambiguous(exc: AsanaError) -> bool:
    """True when a failed create may nevertheless have made the task."""
    if isinstance(exc, AsanaTransportError):
        return exc.maybe_processed
    return isinstance(exc, ServerError)


class TaskSync:
    """One run's writes: give it a plan, it returns a `SyncReport`."""

    def __init__(
        self,
        client: AsanaClient,
        store: StateStore,
        *,
        project_gid: str,
        run_id: str,
        me_gid: str,
        log: Log,
        options: SyncOptions | None = None,
    ):
        self.client = client
        self.store = store
        self.project_gid = project_gid
        self.run_id = run_id
        self.me_gid = me_gid
        self.log = log
        self.options = options or SyncOptions()
        self.report = SyncReport()
        self._pending: list[Outcome] = []
        self._done = 0
        self._total = 0
        self._fatal: BaseException | None = None

    # ---- bookkeeping -----------------------------------------------------

    def _record(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        if outcome.reason is not None:
            self.report.rejected += 1
            self.report.rejections.append((outcome.primary_key, outcome.field or "", outcome.reason))

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            await asyncio.to_thread(self.store.apply, self.project_gid, self.run_id, batch)

    async def _flusher(self) -> None:
        last_progress = time.monotonic()
        started = last_progress
        while True:
            await asyncio.sleep(self.options.flush_every_seconds)
            await self._flush()
            now = time.monotonic()
            if now - last_progress >= self.options.progress_every_seconds and self._total:
                last_progress = now
                rate = self._done / max(now - started, 1e-9)
                remaining = (self._total - self._done) / rate if rate else float("inf")
                self.log(
                    f"Progress: {self._done:,}/{self._total:,} rows written ({rate:,.1f} rows/s), "
                    f"about {remaining:,.0f} s left"
                )

    async def _run_workers(self, positions: list[int], work: Callable[[int], Any]) -> None:
        queue: Iterator[int] = iter(positions)

        async def worker() -> None:
            for position in queue:
                if self._fatal is not None:
                    return
                try:
                    await work(position)
                except AuthenticationError as exc:
                    self._fatal = exc
                    return
                self._done += 1
                if len(self._pending) >= self.options.flush_every_rows:
                    await self._flush()

        count = max(1, min(self.options.workers, len(positions)))
        await asyncio.gather(*(worker() for _ in range(count)))
        if self._fatal is not None:
            await self._flush()
            raise self._fatal

    # ---- the run ------------------------------------------------------------

    async def run(self, plan: Plan) -> SyncReport:
        started = time.monotonic()
        rows = plan.rows
        operations = rows["operation"].to_numpy()
        self.report.unchanged = int((operations == UNCHANGED).sum())
        self.report.rejections.extend(plan.rejections.itertuples(index=False, name=None))
        self.report.rejected = int((operations == REJECT).sum())
        keys = [key for key in rows["primary_key"] if key is not None]
        await asyncio.to_thread(self.store.start_run, self.project_gid, self.run_id, keys, plan.rejections)

        creates = [int(position) for position in (operations == CREATE).nonzero()[0]]
        updates = [int(position) for position in (operations == UPDATE).nonzero()[0]]
        self._plan = plan
        self._payloads = {
            position: api_payload(
                plan.payload_fields(position),
                project_gid=self.project_gid,
                sync_key_field=plan.settings.sync_key_field,
                for_update=False,
            )
            for position in creates
        }
        creates = await self._settle_earlier_intents(creates)
        self._total = len(creates) + len(updates)
        if self._total:
            self.log(f"Writing to Asana: {len(creates):,} creates, {len(updates):,} updates")
        flusher = asyncio.create_task(self._flusher())
        try:
            await self._create_all(creates)
            await self._run_workers(updates, self._update)
        finally:
            flusher.cancel()
            await self._flush()
        self.report.requests = self.client.requests_sent
        self.report.write_requests = self.client.writes_sent
        self.report.seconds = time.monotonic() - started
        return self.report

    # ---- creates -------------------------------------------------------------

    def _key(self, position: int) -> str:
        return self._plan.rows["primary_key"].iat[position]

    def _hash(self, position: int) -> int:
        return int(self._plan.rows["payload_hash"].iat[position])

    async def _settle_earlier_intents(self, creates: list[int]) -> list[int]:
        """Adopt tasks that an interrupted earlier run created; return the creates still needed.

        An intent that made no task and whose row is no longer to be created is dropped."""
        intents = await asyncio.to_thread(self.store.open_intents, self.project_gid)
        if not intents:
            return creates
        self.log(f"Reconciling {len(intents):,} creates left unsettled by an earlier run")
        adopted = await self._reconcile(intents)
        by_key = {self._key(position): position for position in creates}
        remaining = set(creates)
        for intent in intents:
            gid = adopted.get(intent.primary_key)
            position = by_key.get(intent.primary_key)
            if gid is None:
                if position is None:
                    self._record(Outcome(intent.primary_key, clear_intent=True))
                continue
            self.report.adopted += 1
            if position is None:
                self._record(Outcome(intent.primary_key, task_gid=gid, payload_hash=None, clear_intent=True))
                continue
            remaining.discard(position)
            if json.dumps(intent.payload, sort_keys=True) == json.dumps(self._payloads[position], sort_keys=True):
                self._record(Outcome(intent.primary_key, task_gid=gid, payload_hash=self._hash(position), clear_intent=True))
            else:
                self._record(Outcome(intent.primary_key, task_gid=gid, payload_hash=None, clear_intent=True))
        await self._flush()
        return [position for position in creates if position in remaining]

    async def _reconcile(self, intents: list[Intent]) -> dict[str, str]:
        since = earliest_attempt(intents).isoformat().replace("+00:00", "Z")
        tasks = [
            task
            async for task in self.client.project_tasks(
                self.project_gid, modified_since=since, opt_fields=MATCH_OPT_FIELDS
            )
        ]
        known = await asyncio.to_thread(self.store.task_gids, self.project_gid)
        return match_intents(intents, tasks, known, self._plan.settings.sync_key_field)

    async def _create_all(self, creates: list[int]) -> None:
        """Send the creates; reconcile the ambiguous ones and resend only those that made nothing."""
        for _ in range(self.options.create_rounds):
            if not creates:
                return
            intents = [(self._key(position), self._payloads[position]) for position in creates]
            attempted_at = await asyncio.to_thread(self.store.record_intents, self.project_gid, self.run_id, intents)
            unsettled: list[int] = []

            async def create(position: int) -> None:
                if await self._create(position):
                    unsettled.append(position)

            await self._run_workers(creates, create)
            if not unsettled:
                return
            await self._flush()
            self.log(f"{len(unsettled):,} creates got no clear answer; checking Asana before resending")
            await asyncio.sleep(self.options.reconcile_grace_seconds)
            pending = [Intent(self._key(position), self._payloads[position], attempted_at) for position in unsettled]
            adopted = await self._reconcile(pending)
            creates = []
            for position in unsettled:
                gid = adopted.get(self._key(position))
                if gid is None:
                    creates.append(position)
                    continue
                self.report.adopted += 1
                self._created(position, gid)
            self._done -= len(creates)
        for position in creates:
            self._record(
                Outcome(
                    self._key(position),
                    field="",
                    reason=f"the create got no clear answer after {self.options.create_rounds} attempts; "
                    "it is reconciled (never duplicated) on the next run",
                )
            )

    def _created(self, position: int, gid: str) -> None:
        self.report.created += 1
        if len(self.report.created_gids) < 50:
            self.report.created_gids.append(gid)
        self._record(Outcome(self._key(position), task_gid=gid, payload_hash=self._hash(position), clear_intent=True))

    async def _create(self, position: int) -> bool:
        """Create one task; True when the outcome is unknown and needs reconciling."""
        try:
            task = await self.client.create_task(self._payloads[position])
        except AuthenticationError:
            raise
        except AsanaError as exc:
            if _ambiguous(exc):
                return True
            self._record(Outcome(self._key(position), field=_field_of(exc), reason=_reason(exc), clear_intent=True))
            return False
        self._created(position, task["gid"])
        return False

    # ---- updates -------------------------------------------------------------

    async def _update(self, position: int) -> None:
        rows = self._plan.rows
        key = self._key(position)
        gid = rows["task_gid"].iat[position]
        canonical = self._plan.payload_fields(position)
        body = api_payload(canonical, project_gid=self.project_gid, sync_key_field=self._plan.settings.sync_key_field, for_update=True)
        create_only = {name: value for name, value in canonical.items() if name in TASK_FIELDS and TASK_FIELDS[name].create_only}
        try:
            if body:
                await self.client.update_task(gid, body)
            if create_only:
                await self._apply_create_only(gid, create_only)
        except AuthenticationError:
            raise
        except NotFoundError as exc:
            await self._task_missing(position, gid, exc)
            return
        except AsanaError as exc:
            self._record(Outcome(key, field=_field_of(exc), reason=_reason(exc)))
            return
        self.report.updated += 1
        self._record(Outcome(key, task_gid=gid, payload_hash=self._hash(position)))

    async def _task_missing(self, position: int, gid: str, exc: NotFoundError) -> None:
        """A 404 on update: recreate a task we made (upsert), reject one the model addressed."""
        key = self._key(position)
        from_column = bool(self._plan.rows["gid_from_column"].iat[position])
        if from_column or self._plan.settings.sync_mode != "upsert":
            where = "the model's task_gid" if from_column else "the task this row was synced to"
            self._record(Outcome(key, field="task_gid", reason=f"{where} ({gid}) was not found in Asana: {exc.reason}"))
            return
        self.log(f"Task {gid} of row {key} no longer exists in Asana; creating it again")
        await asyncio.to_thread(self.store.forget_task, self.project_gid, key)
        payload = api_payload(
            self._plan.payload_fields(position),
            project_gid=self.project_gid,
            sync_key_field=self._plan.settings.sync_key_field,
            for_update=False,
        )
        self._payloads[position] = payload
        await asyncio.to_thread(self.store.record_intents, self.project_gid, self.run_id, [(key, payload)])
        if await self._create(position):
            self._record(
                Outcome(key, field="", reason="re-creating the deleted task got no clear answer; reconciled on the next run")
            )
            return
        self.report.recreated += 1

    async def _apply_create_only(self, gid: str, wanted: dict[str, str]) -> None:
        """Fields Asana sets only at creation change through their own endpoints, from the task's current values."""
        opt_fields = []
        if "tags" in wanted:
            opt_fields.append("tags")
        if "followers" in wanted:
            opt_fields += ["followers", "followers.email"]
        if "projects" in wanted or "memberships" in wanted:
            opt_fields += ["projects", "memberships.project", "memberships.section"]
        if "parent" in wanted:
            opt_fields.append("parent")
        current = await self.client.get_task(gid, opt_fields) if opt_fields else {}
        if "tags" in wanted:
            have = {tag["gid"] for tag in current.get("tags") or []}
            want = [tag for tag in wanted["tags"].split(",") if tag]
            for tag in want:
                if tag not in have:
                    await self.client.task_action(gid, "addTag", {"tag": tag})
            for tag in sorted(have - set(want)):
                await self.client.task_action(gid, "removeTag", {"tag": tag})
        if "followers" in wanted:
            await self._sync_followers(gid, current.get("followers") or [], wanted["followers"])
        if "projects" in wanted:
            have_projects = {project["gid"] for project in current.get("projects") or []}
            for project in wanted["projects"].split(","):
                if project and project not in have_projects:
                    await self.client.task_action(gid, "addProject", {"project": project})
        if "memberships" in wanted:
            have_sections = {
                ((membership.get("project") or {}).get("gid"), (membership.get("section") or {}).get("gid"))
                for membership in current.get("memberships") or []
            }
            for membership in json.loads(wanted["memberships"]):
                if (membership["project"], membership.get("section")) not in have_sections:
                    await self.client.task_action(gid, "addProject", membership)
        if "parent" in wanted and (current.get("parent") or {}).get("gid") != wanted["parent"]:
            await self.client.task_action(gid, "setParent", {"parent": wanted["parent"]})

    async def _sync_followers(self, gid: str, current: list[dict[str, Any]], wanted: str) -> None:
        want = [self.me_gid if follower == "me" else follower for follower in wanted.split(",") if follower]
        want_lower = {follower.lower() for follower in want}

        def is_wanted(user: dict[str, Any]) -> bool:
            return user["gid"] in want_lower or (user.get("email") or "").lower() in want_lower

        have_ids = {user["gid"] for user in current} | {(user.get("email") or "").lower() for user in current}
        missing = [follower for follower in want if follower.lower() not in have_ids]
        extra = [user["gid"] for user in current if not is_wanted(user)]
        if missing:
            await self.client.task_action(gid, "addFollowers", {"followers": missing})
        if extra:
            await self.client.task_action(gid, "removeFollowers", {"followers": extra})


def _reason(exc: AsanaError) -> str:
    if isinstance(exc, AsanaAPIError):
        if isinstance(exc, RateLimitError):
            return "Asana kept answering 429 (rate limit) after every retry; the row is retried on the next run"
        if isinstance(exc, ServerError):
            return f"Asana failed ({exc.status_code}) after every retry: {exc.reason}; retried on the next run"
        return f"Asana refused the task ({exc.status_code}): {exc.reason}"
    return f"{exc}; retried on the next run"


def _field_of(exc: AsanaError) -> str:
    """The field an Asana message names (`due_on: ...`), if any."""
    if isinstance(exc, AsanaAPIError) and exc.messages:
        head, separator, _ = exc.messages[0].partition(":")
        if separator and head and " " not in head.strip():
            return head.strip()
    return ""
