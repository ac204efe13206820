"""Carry out a plan against Asana, recording every outcome in the state store.

In order: what an interrupted run left unsettled (creates, then comments), tasks of
the project adopted for rows about to be created (`adoption`, with `adopt_existing`),
the creates (exactly once, parents and rows depended on first; from a task template
with `task_template`; see `creates`), the updates (`updates`), the tasks of updated
rows found deleted in Asana (created again), the rows' dependencies and attachments
(`links`), the removals of rows that left the model (`removals`), and the comments
that changed (`comments`):
all through one worker pool paced by the client; outcomes reach the state in
batches (see `executor`).
"""

from __future__ import annotations

import asyncio
import time

from ..planning import Operation, Plan
from ..state import DELETED_IN_ASANA, MOVED_OUT, RELEASED, Outcome
from .adoption import adopt_existing
from .comments import CommentWriter, DueComment
from .context import RunContext
from .creates import CreateWriter
from .links import LinkWriter
from .removals import RemovalWriter
from .report import SyncReport, people_lines
from .updates import UpdateWriter


class TaskSync:
    """One run's writes: give it a plan, it returns the run's `SyncReport`."""

    def __init__(self, run: RunContext):
        self.run = run

    async def run_plan(self, plan: Plan) -> SyncReport:
        run, report = self.run, self.run.report
        started = time.monotonic()
        counts = plan.counts()
        report.unchanged = int(plan.mask(Operation.UNCHANGED).sum())
        report.rejected += counts[Operation.REJECT.value]
        report.rejections.extend(plan.rejections.itertuples(index=False, name=None))
        keys = [key for key in plan.keys() if key is not None]
        await asyncio.to_thread(run.store.start_run, run.scope, run.run_id, keys, plan.rejections, run_started_at=run.started_at)
        run.tasks.update(plan.task_gids())

        creates = CreateWriter(run, plan)
        updates = UpdateWriter(run, plan)
        removals = RemovalWriter(run, plan)
        comments = CommentWriter(run)

        for key in plan.people.forget:
            run.record(Outcome(key, forget=True, task_status=DELETED_IN_ASANA))
        for release in plan.people.releases:
            fate = DELETED_IN_ASANA if release.reason.startswith("deleted") else MOVED_OUT
            run.record(Outcome(release.key, task_gid=release.task_gid, removed=RELEASED, action="release", task_status=fate))
            run.log(f"Row {release.key}: its task {release.task_gid} was {release.reason}; released, never written again")
        report.released += len(plan.people.releases)
        for line in people_lines(plan):
            run.log(line)
        await run.flush()  # before the writes, whose outcomes for the same rows must come after
        to_create = await adopt_existing(run, plan, await creates.settle_earlier_intents(plan.creates()))
        to_update = plan.updates()
        already_commented = await comments.settle_earlier_intents()
        run.pool.total = len(to_create) + len(to_update) + len(plan.removals)
        if run.pool.total:
            run.log(
                f"Writing to Asana: {len(to_create):,} creates, {len(to_update):,} updates, "
                f"{len(plan.removals):,} removals"
            )
        flusher = asyncio.create_task(run.pool.flush_periodically())
        try:
            await creates.create_all(to_create)
            await run.pool.run(to_update, updates.update)
            await creates.recreate_all(updates.vanished)
            await LinkWriter(run).link_all(plan, {key for key, _, _ in report.rejections if key is not None})
            await removals.remove_all(plan.removals)
            await comments.post_all(self._comments_due(plan, already_commented))
        finally:
            flusher.cancel()
            await run.flush()
        self._people(plan, creates.created_keys)
        report.template_jobs = creates.templates.jobs if creates.templates is not None else 0
        report.requests = run.client.requests_sent
        report.write_requests = run.client.writes_sent
        report.seconds = time.monotonic() - started
        return report

    def _people(self, plan: Plan, created: set[str]) -> None:
        """What people did, in the report: counts and each edit seen since the last run."""
        report, people = self.run.report, plan.people
        edited = {edit.key for edit in people.edits}
        report.edited_in_asana = len(edited)
        report.deleted_in_asana = people.deleted
        report.moved_out_of_project = people.moved_out
        report.recreated += sum(1 for key in people.deleted_keys if key in created)
        report.asana_reads = people.reads
        report.asana_edits = list(people.edits)

    def _comments_due(self, plan: Plan, already: dict[str, int]) -> list[DueComment]:
        """Each changed comment whose row has a task and was not rejected in this run."""
        rejected_now = {key for key, _, _ in self.run.report.rejections}
        due = []
        for row in plan.comments_due():
            gid = self.run.tasks.get(row.key)
            text = plan.comment(row.position)
            if gid is None or text is None or row.key in rejected_now or already.get(row.key) == row.comment_hash:
                continue
            due.append(DueComment(row.key, gid, text, row.comment_hash))
        return due
