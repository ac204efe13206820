"""Creates, exactly once: an intent before every request, reconciliation before any resend.

1. Creates left unsettled by an earlier run (a crash) are reconciled first.
2. Every create's intent is committed before its request is sent.
3. Creates whose answer was lost (timeout, reset, 5xx) are reconciled against
   the project's tasks, and only the ones that made no task are sent again.

Rows nested with `parent_key` are created level by level, parents first (each
level at full concurrency), so a child is created under its parent's task; the
rows a row `depends_on` are created before it the same way.

With `task_template`, each create instantiates the template and gives the new
task the row's fields (`templates`), exactly once the same way.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import AsanaError
from ..json_text import dumps
from ..observing.matching import earliest_attempt, match_intents
from ..observing.task_values import OUTCOME_OPT_FIELDS, TASK_OPT_FIELDS
from ..planning import PlannedRow
from ..planning.extras import TemplateRef, extras_of
from ..state import Intent, Outcome
from .context import RowWriter
from .failures import failure, field_of, reason_for, unclear_or_refused
from .templates import TEMPLATE, TemplateCreates, is_template_intent, template_intent

MAX_LINKED_TASKS = 50


@dataclass
class CreateWriter(RowWriter):
    """Sends a plan's creates; `payloads` holds each create's request body, by row position."""

    payloads: dict[int, dict[str, Any]] = field(default_factory=dict)
    created_keys: set[str] = field(default_factory=set)
    recreating: set[str] = field(default_factory=set)
    """Rows whose task vanished when they were updated, created again (`recreate` in the sync log)."""
    templates: TemplateCreates | None = field(default=None, init=False)
    """The template new tasks are made from (`task_template`), if any."""

    def __post_init__(self) -> None:
        template = extras_of(self.plan).template
        if template is not None:
            self.templates = TemplateCreates(self.run, self.plan, template)

    def intent_payload(self, row: PlannedRow) -> dict[str, Any]:
        """What the intent of the row's create keeps: the create's body, or the template and the name asked for."""
        if self.templates is not None:
            return template_intent(self.templates.template, self.templates.name_of(row))
        return self.payload(row)

    def _templates_for(self, intent: Intent) -> TemplateCreates:
        """The instantiations an intent belongs to (a template no longer configured still settles its intents)."""
        if self.templates is None or self.templates.template.gid != intent.payload[TEMPLATE]:
            self.templates = TemplateCreates(self.run, self.plan, TemplateRef(str(intent.payload[TEMPLATE]), ""))
        return self.templates

    def payload(self, row: PlannedRow) -> dict[str, Any]:
        if row.position not in self.payloads:
            self.payloads[row.position] = self.plan.request_body(
                row, self.run.project_gid, for_update=False, parents=self.run.tasks
            )
        return self.payloads[row.position]

    # ---- an earlier run's leftovers ---------------------------------------------

    async def settle_earlier_intents(self, creates: list[PlannedRow]) -> list[PlannedRow]:
        """Adopt tasks that an interrupted earlier run created; return the creates still needed.

        An intent that made no task and whose row is no longer to be created is dropped."""
        intents = await self.run.in_state(self.run.store.open_intents)
        if not intents:
            return creates
        self.run.log(f"Reconciling {len(intents):,} creates left unsettled by an earlier run")
        adopted = await self.reconcile(intents)
        by_key = {row.key: row for row in creates}
        settled: set[str] = set()
        for intent in intents:
            gid = adopted.get(intent.primary_key)
            row = by_key.get(intent.primary_key)
            if gid is None:
                if row is None:
                    self.run.record(Outcome(intent.primary_key, clear_intent=True))
                continue
            self.run.report.adopted += 1
            self.run.tasks[intent.primary_key] = gid
            settled.add(intent.primary_key)
            if is_template_intent(intent):
                await self._given_after_its_job(intent, row, gid)
                continue
            same = row is not None and _same_body(intent.payload, self.payload(row))
            payload_hash = row.payload_hash if same and row is not None else None
            written = self.plan.written_values(row.position) if same and row is not None else None
            self.run.record(
                Outcome(
                    intent.primary_key, task_gid=gid, payload_hash=payload_hash, written=written, clear_intent=True,
                    action="create",
                )  # fmt: skip
            )
        await self.run.flush()
        return [row for row in creates if row.key not in settled]

    async def _given_after_its_job(self, intent: Intent, row: PlannedRow | None, gid: str) -> None:
        """A task an earlier run's template job made: the row's fields given to it, then recorded."""
        if row is None:
            self.run.record(Outcome(intent.primary_key, task_gid=gid, clear_intent=True, action="create"))
            return
        if await self._templates_for(intent).give(row, gid):
            self.run.record(
                Outcome(
                    row.key, task_gid=gid, payload_hash=row.payload_hash, written=self.plan.written_values(row.position),
                    clear_intent=True, action="create",
                )  # fmt: skip
            )

    async def reconcile(self, intents: list[Intent], *, lost: bool = False) -> dict[str, str]:
        """Primary key -> the task each create of unknown outcome made (`lost`: their answers were lost just now)."""
        from_templates = [intent for intent in intents if is_template_intent(intent)]
        found: dict[str, str] = {}
        if from_templates:
            found = await self._templates_for(from_templates[0]).settle(from_templates, lost=lost)
        intents = [intent for intent in intents if not is_template_intent(intent)]
        if not intents:
            return found
        return {**found, **await self._reconcile_bodies(intents)}

    async def _reconcile_bodies(self, intents: list[Intent]) -> dict[str, str]:
        since = earliest_attempt(intents).isoformat().replace("+00:00", "Z")
        tasks = [
            task
            async for task in self.run.client.project_tasks(
                self.run.project_gid, modified_since=since, opt_fields=TASK_OPT_FIELDS
            )
        ]
        known = await self.run.in_state(self.run.store.task_gids)
        return match_intents(intents, tasks, known, self.plan.settings.sync_key_field, me_gid=self.run.me_gid)

    # ---- this run's creates -------------------------------------------------------

    async def create_all(self, creates: list[PlannedRow]) -> None:
        """Create level by level: parents before their children."""
        for level in sorted({row.level for row in creates}):
            await self._create_level([row for row in creates if row.level == level and not self.orphaned(row)])

    async def _create_level(self, creates: list[PlannedRow]) -> None:
        """Send the creates; reconcile the ambiguous ones and resend only those that made nothing."""
        for _ in range(self.run.options.create_rounds):
            if not creates:
                return
            intents = [(row.key, self.intent_payload(row)) for row in creates]
            attempted_at = await self.run.in_state(self.run.store.record_intents, self.run.run_id, intents)
            unclear = await self.run.pool.map(creates, self.create)
            unsettled = [row for row, unknown in zip(creates, unclear) if unknown]
            if not unsettled:
                return
            await self.run.flush()
            self.run.log(f"{len(unsettled):,} creates got no clear answer; checking Asana before resending")
            await asyncio.sleep(self.run.options.reconcile_grace_seconds)
            recorded = {intent.primary_key: intent for intent in await self.run.in_state(self.run.store.open_intents)}
            adopted = await self.reconcile(
                [recorded.get(row.key) or Intent(row.key, self.intent_payload(row), attempted_at) for row in unsettled], lost=True
            )
            creates = []
            for row in unsettled:
                gid = adopted.get(row.key)
                if gid is None:
                    creates.append(row)
                    continue
                self.run.report.adopted += 1
                if self.templates is None:
                    self.created(row, gid)
                elif await self.templates.give(row, gid):
                    self.created(row, gid)
            self.run.pool.done -= len(creates)
        for row in creates:
            self.run.reject(
                row.key,
                "",
                f"the create got no clear answer after {self.run.options.create_rounds} attempts; "
                "it is reconciled (never duplicated) on the next run",
                action="create",
                failed=True,
            )

    def created(self, row: PlannedRow, gid: str, link: str | None = None) -> None:
        recreated = row.key in self.plan.people.deleted_keys or row.key in self.recreating
        self.run.tasks[row.key] = gid
        self.created_keys.add(row.key)
        self.run.report.created += 1
        if len(self.run.report.created_tasks) < MAX_LINKED_TASKS:
            self.run.report.created_tasks.append((gid, link))
        self.run.record(
            Outcome(
                row.key, task_gid=gid, payload_hash=row.payload_hash, written=self.plan.written_values(row.position),
                clear_intent=True, action="recreate" if recreated else "create",
            )
        )

    async def create(self, row: PlannedRow) -> bool:
        """Create one task; True when the outcome is unknown and needs reconciling.

        A request that certainly never reached Asana, after every retry, stops the run."""
        if self.templates is not None:
            gid, unclear = await self.templates.create(row)
            if gid is not None and await self.templates.give(row, gid):
                self.created(row, gid)
            return unclear
        try:
            task = await self.run.client.create_task(self.payload(row), opt_fields=OUTCOME_OPT_FIELDS)
        except AsanaError as exc:
            if unclear_or_refused(exc):
                return True
            self.run.reject(row.key, field_of(exc), reason_for(exc), clear_intent=True, **failure(exc, "create"))
            return False
        self.run.saw(task)
        self.created(row, task["gid"], task.get("permalink_url"))
        return False

    async def recreate_all(self, rows: list[PlannedRow]) -> None:
        """Create again rows whose task was deleted in Asana (found by their updates)."""
        for row in rows:
            self.run.log(f"Task {row.task_gid} of row {row.key} no longer exists in Asana; creating it again")
            self.payloads.pop(row.position, None)
            self.recreating.add(row.key)
            await self.run.in_state(self.run.store.forget_task, row.key)
            await self.run.in_state(self.run.store.record_intents, self.run.run_id, [(row.key, self.intent_payload(row))])
            created_before = self.run.report.created
            if await self.create(row):
                self.run.reject(
                    row.key, "", "re-creating the deleted task got no clear answer; reconciled on the next run",
                    action="recreate", failed=True,
                )  # fmt: skip
            if self.run.report.created > created_before:
                self.run.report.recreated += 1


def _same_body(sent: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """An intent read back (numbers as floats) against the body this run would send."""
    return json.loads(dumps(sent, sort_keys=True)) == json.loads(dumps(wanted, sort_keys=True))
