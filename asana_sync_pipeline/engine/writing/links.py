"""Dependencies and attachments: what a row asks for (`depends_on`, `attachments`) set on its task,
once its creates and updates are done, and only what the sync set ever removed.

What the sync set is recorded per row (`state.TaskLink`) and compared with the row every run
(`planning.extras.link_work`), whatever the row's payload did: a run that crashed half-way is
completed by the next, and a row whose fields did not change costs nothing when its links did not.

- Dependencies: one `addDependencies` with every task the row depends on that the sync has not set,
  one `removeDependencies` with those it set that the row dropped (idempotent both). A row depended
  on that has no task yet (its create failed, or it is rejected) waits: the link is set on the run
  that gives it one, and the row is listed with that reason meanwhile.
- Attachments (links, `POST /attachments`), exactly once: each intent is recorded before the POST;
  an unclear answer (timeout, reset, 5xx), or an intent a crash left, is settled by reading the task's
  attachments for that link made since the attempt; only a link that is not there is attached again.
  One dropped from the row is deleted only if the sync attached it (its GID is recorded); a changed
  name is the link attached again under it, the old one deleted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..errors import AsanaError, InvalidRequestError, NotFoundError
from ..fields.value_rules import ATTACHMENTS, DEPENDS_ON
from ..observing.matching import CLOCK_SKEW
from ..observing.task_values import parse_time
from ..planning import Operation, Plan
from ..planning.extras import LinkWork, extras_of, link_work
from ..state import ATTACHMENT, DEPENDENCY, Outcome, TaskLink, utc_now
from .context import RunContext
from .failures import failure, field_of, reason_for, unclear_or_refused

WAITING = (
    "depends on row {keys}, which has no task yet (its create failed, or it is rejected); the dependency is set on "
    "the run that gives it one"
)


@dataclass
class LinkWriter:
    run: RunContext
    kept: list[TaskLink] = field(default_factory=list)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

    async def link_all(self, plan: Plan, rejected_now: set[str]) -> None:
        """Bring every row's links to what it asks for (rows rejected in this run or before are left)."""
        extras = extras_of(plan)
        recorded: dict[str, list[TaskLink]] = {}
        for link in await self.run.in_state(self.run.store.links):
            recorded.setdefault(link.primary_key, []).append(link)
        if not extras.links and not recorded:
            return
        work: list[LinkWork] = []
        for row in plan.rows():
            gid = self.run.tasks.get(row.key)
            if gid is None or row.operation is Operation.REJECT or row.key in rejected_now:
                continue
            found = link_work(extras, row.position, row.key, gid, self.run.tasks, recorded.get(row.key, []))
            if found:
                work.append(found)
        self.dropped += [link.ident for item in work for link in item.stale]
        busy = [item for item in work if item.requests]
        for item in work:
            if item.waiting:
                keys = ", ".join(repr(key) for key in item.waiting)
                self.run.reject(item.key, DEPENDS_ON, WAITING.format(keys=keys), about=item.task_gid)
        if busy:
            self.run.log(f"Setting the dependencies and attachments of {len(busy):,} tasks")
        await self._intents(busy)
        unclear = [pair for found in await self.run.pool.map(busy, self._link) for pair in found]
        await self._settle_unclear(unclear)
        await self._save()

    async def _intents(self, work: list[LinkWork]) -> None:
        """Each attachment about to be posted, recorded first (no GID yet)."""
        now = utc_now()
        self.kept += [
            TaskLink(item.key, ATTACHMENT, url, item.task_gid, None, name, now) for item in work for url, name in item.add_attachments
        ]
        await self._save()

    async def _save(self) -> None:
        kept, dropped, self.kept, self.dropped = self.kept, self.dropped, [], []
        await self.run.in_state(self.run.store.record_links, self.run.run_id, kept, dropped)

    async def _link(self, item: LinkWork) -> list[tuple[LinkWork, TaskLink]]:
        """One task's link work; returns the attachments whose POST got no clear answer."""
        client, task = self.run.client, item.task_gid
        changes: dict[str, Any] = {}
        try:
            if item.remove_dependencies:
                try:
                    await client.post(f"/tasks/{task}/removeDependencies", {"dependencies": item.remove_dependencies})
                except (NotFoundError, InvalidRequestError):
                    pass  # a task Asana no longer knows (deleted): the link went with it
                self.dropped += [(item.key, DEPENDENCY, gid) for gid in item.remove_dependencies]
                changes["depends_on"] = {"removed": item.remove_dependencies}
            if item.add_dependencies:
                await client.post(f"/tasks/{task}/addDependencies", {"dependencies": item.add_dependencies})
                self.kept += [TaskLink(item.key, DEPENDENCY, gid, task) for gid in item.add_dependencies]
                changes.setdefault("depends_on", {})["added"] = item.add_dependencies
                self.run.report.dependencies_set += len(item.add_dependencies)
        except AsanaError as exc:
            if unclear_or_refused(exc):
                raise
            self.run.reject(item.key, field_of(exc) or DEPENDS_ON, _refused(exc, "dependency"), about=task, **failure(exc, "update"))
            return []
        self.run.report.dependencies_removed += len(item.remove_dependencies)
        unclear: list[tuple[LinkWork, TaskLink]] = []
        try:
            for link in item.delete_attachments:
                try:
                    await client.request("DELETE", f"/attachments/{link.link_gid}")
                except NotFoundError:
                    pass
                self.dropped.append(link.ident)
                self.run.report.attachments_deleted += 1
                changes.setdefault("attachments", {}).setdefault("deleted", []).append(link.target)
            settled = await self._settle(item, item.unsettled) if item.unsettled else {}
            for url, name in item.add_attachments:
                if url in settled:
                    continue
                link = TaskLink(item.key, ATTACHMENT, url, task, None, name, utc_now())
                if not await self._attach(item, link):
                    unclear.append((item, link))
                else:
                    changes.setdefault("attachments", {}).setdefault("added", []).append(url)
            for link in item.unsettled:
                if link.target not in settled and link.target not in {url for url, _ in item.add_attachments}:
                    self.dropped.append(link.ident)  # no longer asked for, and never made
        except AsanaError as exc:
            if unclear_or_refused(exc):
                raise
            self.run.reject(item.key, field_of(exc) or ATTACHMENTS, _refused(exc, "attachment"), about=task, **failure(exc, "update"))
        if changes:
            self.run.record(Outcome(item.key, about=task, action="update", changes=changes))
        return unclear

    async def _attach(self, item: LinkWork, link: TaskLink) -> bool:
        """Post one link; False when its outcome is unknown (settled after)."""
        try:
            made = await self.run.client.attach_link(item.task_gid, link.target, link.name or link.target)
        except AsanaError as exc:
            if unclear_or_refused(exc):
                return False
            self.dropped.append(link.ident)
            raise
        self.kept.append(TaskLink(item.key, ATTACHMENT, link.target, item.task_gid, made["gid"], link.name, None))
        self.run.report.attachments_added += 1
        return True

    async def _settle(self, item: LinkWork, links: list[TaskLink]) -> dict[str, str]:
        """URL -> the attachment an earlier attempt made on the task, for the attempts that made one (recorded)."""
        taken = {link.link_gid for link in links if link.link_gid}
        found: dict[str, str] = {}
        attached = [
            attachment
            async for attachment in self.run.client.paginate(
                "/attachments", {"parent": item.task_gid, "opt_fields": "name,view_url,created_at"}
            )
        ]
        for link in links:
            since = (link.attempted_at or utc_now()) - CLOCK_SKEW
            for attachment in attached:
                made = parse_time(attachment.get("created_at"))
                if attachment.get("view_url") == link.target and attachment["gid"] not in taken and (made is None or made >= since):
                    found[link.target] = attachment["gid"]
                    taken.add(attachment["gid"])
                    self.kept.append(TaskLink(item.key, ATTACHMENT, link.target, item.task_gid, attachment["gid"], link.name, None))
                    self.run.report.attachments_added += 1
                    break
        return found

    async def _settle_unclear(self, unclear: list[tuple[LinkWork, TaskLink]]) -> None:
        """Links whose POST got no clear answer: looked for on their tasks, attached again only where absent."""
        for _ in range(self.run.options.create_rounds):
            if not unclear:
                return
            await self._save()
            self.run.log(f"{len(unclear):,} attachments got no clear answer; reading their tasks' attachments before sending again")
            await asyncio.sleep(self.run.options.reconcile_grace_seconds)
            again: list[tuple[LinkWork, TaskLink]] = []
            for item, link in unclear:
                if link.target in await self._settle(item, [link]):
                    continue
                fresh = TaskLink(item.key, ATTACHMENT, link.target, item.task_gid, None, link.name, utc_now())
                self.kept.append(fresh)
                await self._save()
                if not await self._attach(item, fresh):
                    again.append((item, fresh))
            unclear = again
        for item, _ in unclear:
            self.run.reject(
                item.key, ATTACHMENTS, "attaching the link got no clear answer; it is checked (never attached twice) on the next run",
                about=item.task_gid, action="update", failed=True,
            )  # fmt: skip


def _refused(exc: AsanaError, what: str) -> str:
    return reason_for(exc).replace("refused the task", f"refused the {what}")
