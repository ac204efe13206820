"""New tasks made from a task template (`task_template`), exactly once.

Asana makes a task from a template asynchronously: `instantiateTask` answers a job, and the job,
polled, names the new task once it exists (with the template's subtasks, description and fields).
The row's own fields are then given to it (`given_tasks`). As for any create:

1. the intent is committed before the request (its payload names the template and the name asked for);
2. the job Asana answers is kept beside the intent at once (`StateStore.note_job`), so a crash while it
   runs, or before the row's fields are given, is recovered through the job;
3. an instantiation whose answer was lost (timeout, reset, 5xx) left a job the sync never heard of: its
   task is looked for in the project (made by the token's user since the attempt, unknown to the state,
   carrying the row's key in the sync key field or the name asked for), after waiting long enough for a
   job to finish, and only a row whose task is not there is instantiated again. Tasks a template makes
   for rows of one name are alike until the rows' fields are given them, so any of them serves any of
   those rows.

Asana runs a handful of a user's jobs at once (reported as 5, `SyncOptions.max_concurrent_jobs`): at
most that many are in flight, each slot held from the request until its job ends, and a 429 for one
more (another client of the user's) waits that request alone, never the rest of the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..errors import AsanaError, NotFoundError
from ..observing.matching import CLOCK_SKEW, matched_by_key
from ..observing.task_values import parse_time, sync_key_of
from ..planning import Plan, PlannedRow
from ..planning.extras import TemplateRef
from ..state import Intent, utc_now
from .context import RunContext
from .failures import failure, field_of, reason_for, unclear_or_refused
from .given_tasks import give_fields

TEMPLATE = "task_template"
"""The key, in a create intent's payload, of the template the create instantiates."""
RUNNING = ("not_started", "in_progress")
FIRST_ESTIMATE_SECONDS = 1.0
"""How long a job is assumed to take before one was seen to finish."""
FINDING_FIELDS = ["name", "created_at", "created_by", "custom_fields.gid", "custom_fields.text_value"]


def template_intent(template: TemplateRef, name: str) -> dict[str, Any]:
    return {TEMPLATE: template.gid, "name": name}


def is_template_intent(intent: Intent) -> bool:
    return TEMPLATE in intent.payload


@dataclass
class TemplateCreates:
    """Instantiations of one template in one run: the job slots, how long jobs take, and their outcomes."""

    run: RunContext
    plan: Plan
    template: TemplateRef
    durations: list[float] = field(default_factory=list)
    jobs: int = 0
    polls: int = 0

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.run.options.max_concurrent_jobs)

    def name_of(self, row: PlannedRow) -> str:
        name = self.plan.payload_fields(row.position).get("name")
        return str(name) if name is not None else self.template.name

    @property
    def estimate(self) -> float:
        """How long a job takes, as seen in this run: the shortest of the last ones (each is seen a poll late)."""
        return min(self.durations[-20:], default=FIRST_ESTIMATE_SECONDS)

    @property
    def longest(self) -> float:
        """The longest job seen lately: how long to wait before looking for what a lost one made."""
        return max(self.durations[-20:], default=FIRST_ESTIMATE_SECONDS)

    # ---- one row ---------------------------------------------------------------------

    async def create(self, row: PlannedRow) -> tuple[str | None, bool]:
        """Instantiate the template for the row and wait for its task: (task GID, unclear). None and
        False: refused (the row is rejected); None and True: the outcome is unknown (reconcile)."""
        async with self.slots:
            try:
                job = await self.run.client.instantiate_template(self.template.gid, self.name_of(row))
            except AsanaError as exc:
                if unclear_or_refused(exc):
                    return None, True
                self.run.reject(row.key, field_of(exc) or "task_template", _refused(exc), clear_intent=True, **failure(exc, "create"))
                return None, False
            answered = time.monotonic()
            self.jobs += 1
            noting = asyncio.ensure_future(self.run.in_state(self.run.store.note_job, row.key, job["gid"]))
            try:
                status, task_gid = await self.wait_for(job)
            except AsanaError:
                return None, True
            finally:
                await noting  # kept beside the intent before anything else is done with its task
        if status == "succeeded" and task_gid:
            self.durations.append(time.monotonic() - answered)
            return task_gid, False
        if status in RUNNING:
            return None, True
        self.run.reject(
            row.key, "task_template", f"Asana's job instantiating task template {self.template.name!r} ended {status}; "
            "retried on the next run", clear_intent=True, action="create", failed=True,
        )  # fmt: skip
        return None, False

    async def wait_for(self, job: dict[str, Any]) -> tuple[str, str | None]:
        """Poll a job until it ends (or `job_timeout_seconds` pass): its last status, and its task."""
        deadline = time.monotonic() + self.run.options.job_timeout_seconds
        status, task = job.get("status") or "not_started", job.get("new_task")
        wait = max(0.05, 0.85 * self.estimate)  # a little early, so that the estimate learns shorter jobs too
        while status in RUNNING and time.monotonic() < deadline:
            await asyncio.sleep(wait)
            wait = min(max(0.05, self.estimate / 8), 2.0)  # then finely: a slot is worth more than a poll
            self.polls += 1
            try:
                job = await self.run.client.get_job(job["gid"])
            except NotFoundError:
                return "unknown", None
            status, task = job.get("status") or status, job.get("new_task")
        return status, (task or {}).get("gid")

    async def give(self, row: PlannedRow, task_gid: str) -> bool:
        """The row's own fields, given to the task its template made (the template's parts stay)."""
        return await give_fields(self.run, self.plan, row, task_gid, {"projects": [{"gid": self.run.project_gid}]}, action="create")

    # ---- finding what jobs made ---------------------------------------------------------

    async def settle(self, intents: list[Intent], *, lost: bool) -> dict[str, str]:
        """Primary key -> the task each template intent's job made, for those that made one. Known jobs are
        asked; for the others (`lost`: their answer was lost in this run) the project is looked through once
        jobs have had time to finish."""
        found: dict[str, str] = {}
        unknown: list[Intent] = []
        for intent in intents:
            if intent.job_gid:
                try:
                    status, task_gid = await self.wait_for({"gid": intent.job_gid, "status": "not_started"})
                except AsanaError:
                    status, task_gid = "unknown", None
                if status == "succeeded" and task_gid:
                    found[intent.primary_key] = task_gid
                    continue
                if status in ("failed",):
                    continue
            unknown.append(intent)
        if unknown:
            settle_seconds = max(self.run.options.reconcile_grace_seconds, 3 * self.longest)
            latest = max(intent.attempted_at for intent in unknown) + timedelta(seconds=settle_seconds)
            pause = (latest - utc_now()).total_seconds() if not lost else settle_seconds
            if pause > 0:
                self.run.log(f"Waiting {pause:,.1f} s for the template jobs of {len(unknown):,} unclear instantiations to finish")
                await asyncio.sleep(pause)
            found.update(await self._look_for(unknown, set(found.values())))
        return found

    async def _look_for(self, intents: list[Intent], taken: set[str]) -> dict[str, str]:
        since = min(intent.attempted_at for intent in intents) - CLOCK_SKEW
        stamp = since.isoformat().replace("+00:00", "Z")
        known = await self.run.in_state(self.run.store.task_gids)
        candidates = [
            task
            async for task in self.run.client.project_tasks(self.run.project_gid, modified_since=stamp, opt_fields=FINDING_FIELDS)
            if task["gid"] not in known and task["gid"] not in taken and task["gid"] not in self.run.tasks.values()
            and ((task.get("created_by") or {}).get("gid") in (None, self.run.me_gid))
            and (parse_time(task.get("created_at")) or since) >= since
        ]  # fmt: skip
        candidates.sort(key=lambda task: (task.get("created_at") or "", task["gid"]))
        found: dict[str, str] = {}
        sync_key_field = self.plan.settings.sync_key_field
        if sync_key_field:
            found.update(matched_by_key(intents, candidates, sync_key_field))
        by_name: dict[str, list[str]] = defaultdict(list)
        for task in candidates:
            if task["gid"] not in found.values() and (not sync_key_field or sync_key_of(task, sync_key_field) is None):
                by_name[(task.get("name") or "").strip()].append(task["gid"])
        for intent in intents:
            if intent.primary_key in found:
                continue
            queue = by_name.get(str(intent.payload.get("name") or "").strip())
            if queue:
                found[intent.primary_key] = queue.pop(0)
        return found


def _refused(exc: AsanaError) -> str:
    return reason_for(exc).replace("refused the task", "refused to instantiate the task template")
