"""Carry out a plan against Asana, recording every outcome in the state store.

In order: what an interrupted run left unsettled (creates, then comments), the
creates (exactly once, parents first; see `creates`), the updates (`updates`),
the removals of rows that left the model, and the comments that changed
(`comments`) — all through one worker pool paced by the client; outcomes reach
the state in batches (see `executor`).
"""

from __future__ import annotations

import asyncio
import time

from ..asana.client import AsanaClient
from .comments import CommentWriter
from .creates import CreateWriter
from .executor import Log, OutcomeRecorder, SyncOptions, WorkerPool
from ..planning.plan import CREATE, REJECT, UNCHANGED, UPDATE, Plan
from .report import SyncReport
from ..state import StateStore, SyncScope
from .updates import UpdateWriter


class TaskSync:
    """One run's writes: give it a plan, it returns a `SyncReport`."""

    def __init__(
        self,
        client: AsanaClient,
        store: StateStore,
        *,
        scope: SyncScope,
        run_id: str,
        me_gid: str,
        log: Log,
        options: SyncOptions | None = None,
    ):
        self.client = client
        self.store = store
        self.scope = scope
        self.run_id = run_id
        self.me_gid = me_gid
        self.log = log
        self.options = options or SyncOptions()

    async def run(self, plan: Plan) -> SyncReport:
        started = time.monotonic()
        report = SyncReport()
        rows = plan.rows
        operations = rows["operation"].to_numpy()
        report.unchanged = int((operations == UNCHANGED).sum())
        report.rejected = int((operations == REJECT).sum())
        report.rejections.extend(plan.rejections.itertuples(index=False, name=None))
        keys = [key for key in rows["primary_key"] if key is not None]
        await asyncio.to_thread(self.store.start_run, self.scope, self.run_id, keys, plan.rejections)

        recorder = OutcomeRecorder(self.store, self.scope, self.run_id, report)
        pool = WorkerPool(recorder, self.options, self.log)
        creates = CreateWriter(
            self.client, self.store, plan, self.scope, self.run_id, self.me_gid, recorder, pool, self.options, report,
            self.log,
        )
        updates = UpdateWriter(self.client, plan, self.scope.project_gid, self.me_gid, recorder, creates, report, self.log)
        comments = CommentWriter(
            self.client, self.store, self.scope, self.run_id, recorder, pool, self.options, report, self.log
        )

        to_create = [int(position) for position in (operations == CREATE).nonzero()[0]]
        to_update = [int(position) for position in (operations == UPDATE).nonzero()[0]]
        to_remove = list(range(len(plan.removals)))
        to_create = await creates.settle_earlier_intents(to_create)
        already_commented = await comments.settle_earlier_intents()
        pool.total = len(to_create) + len(to_update) + len(to_remove)
        if pool.total:
            self.log(
                f"Writing to Asana: {len(to_create):,} creates, {len(to_update):,} updates, {len(to_remove):,} removals"
            )
        flusher = asyncio.create_task(pool.flush_periodically())
        try:
            await creates.create_all(to_create)
            await pool.run(to_update, updates.update)
            await pool.run(to_remove, updates.remove)
            await comments.post_all(self._comments_due(plan, creates.parents, recorder, already_commented))
        finally:
            flusher.cancel()
            await recorder.flush()
        report.requests = self.client.requests_sent
        report.write_requests = self.client.writes_sent
        report.seconds = time.monotonic() - started
        return report

    @staticmethod
    def _comments_due(
        plan: Plan, tasks: dict[str, str], recorder: OutcomeRecorder, already: dict[str, int]
    ) -> list[tuple[str, str, str, int]]:
        """(key, task GID, text, hash) of each changed comment whose row has a task and was not rejected now."""
        rows = plan.rows
        rejected_now = {key for key, _, _ in recorder.report.rejections}
        due = []
        for position in rows.index[rows["comment_due"]]:
            key = rows["primary_key"].iat[position]
            gid = tasks.get(key)
            text = plan.comment(position)
            comment_hash = int(rows["comment_hash"].iat[position])
            if gid is None or text is None or key in rejected_now or already.get(key) == comment_hash:
                continue
            due.append((key, gid, text, comment_hash))
        return due
