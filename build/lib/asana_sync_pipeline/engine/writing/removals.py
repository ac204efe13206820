"""Removals (`on_row_removed`): the task of a row that left the model is completed once, or
deleted and forgotten, as long as that spares what people did with it.

Each task is read first (one read: its projects and how many subtasks it has):
- a task a person moved out of the configured project is released, never written again;
- with `delete`, a task also filed in another project is removed from this project
  instead (Asana would delete it everywhere);
- with `delete`, a task with subtasks the sync did not make (or that must stay: a
  subtask that is itself kept, or whose row is still in the model) is completed
  instead (Asana would delete them with it); its subtasks cost one more read.
Each case is logged and reported with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import AsanaError, AsanaTransportError, AuthenticationError, NotFoundError
from ..planning import COMPLETE, Plan, Removal
from ..state import COMPLETED, RELEASED, Outcome
from .context import RunContext
from .failures import reason_for

HELD_DELETE = (
    "not deleted: {count} task(s) of rows still in the model sit beneath its task ({gids}), and Asana would delete "
    "them with it; give those rows another parent_key (or none), or use on_row_removed: complete"
)
MOVED_OUT = "a person moved it out of the project ({where}): released, never written again"
ALSO_ELSEWHERE = "it is also in {where}: removed from this project instead of deleted, so it stays there"
SUBTASKS_KEPT = (
    "it has subtasks that must stay ({gids}: made by people, or kept by the sync): completed instead of deleted, "
    "since Asana would delete them with it"
)


@dataclass(frozen=True)
class Seen:
    """A removed row's task as read before acting on it (None: gone from Asana)."""

    projects: dict[str, str]
    subtasks: list[str]


@dataclass
class RemovalWriter:
    run: RunContext
    plan: Plan
    seen: dict[str, Seen | None] = field(default_factory=dict)

    async def remove_all(self, removals: list[Removal]) -> None:
        """Read every removed task, decide what sparing people's work allows, then act."""
        await self.run.pool.run(removals, self._read)
        deletable = self._deletable(removals)
        await self.run.pool.run(removals, lambda removal: self.remove(removal, removal.task_gid in deletable))

    async def _read(self, removal: Removal) -> None:
        client = self.run.client
        try:
            task = await client.get_task(removal.task_gid, ["projects.name", "num_subtasks"])
            subtasks: list[str] = []
            if removal.action != COMPLETE and task.get("num_subtasks"):
                subtasks = [sub["gid"] async for sub in client.paginate(f"/tasks/{removal.task_gid}/subtasks", {"opt_fields": "gid"})]
        except NotFoundError:
            self.seen[removal.task_gid] = None
            return
        projects = {project["gid"]: project.get("name", "") for project in task.get("projects") or []}
        self.seen[removal.task_gid] = Seen(projects, subtasks)

    def _deletable(self, removals: list[Removal]) -> set[str]:
        """Tasks a delete may remove: only in this project, and whose subtasks are all deletable too."""
        candidates = {
            removal.task_gid
            for removal in removals
            if removal.action != COMPLETE and (seen := self.seen.get(removal.task_gid)) is not None
            and set(seen.projects) == {self.run.project_gid}
        }  # fmt: skip
        changed = True
        while changed:
            changed = False
            for gid in list(candidates):
                seen = self.seen[gid]
                assert seen is not None
                if any(sub not in candidates for sub in seen.subtasks):
                    candidates.discard(gid)
                    changed = True
        return candidates

    def _case(self, removal: Removal, case: str, reason: str) -> None:
        self.run.report.removal_cases.append((removal.key, removal.task_gid, case, reason))
        self.run.log(f"Row {removal.key} left the model; its task {removal.task_gid}: {reason}")

    async def remove(self, removal: Removal, deletable: bool) -> None:
        """Act on the task of a row that left the model, as read by `remove_all`."""
        key, gid, client = removal.key, removal.task_gid, self.run.client
        seen = self.seen.get(gid)
        if seen is None:
            self._gone(removal)
            return
        if self.run.project_gid not in seen.projects:
            where = ", ".join(f"{name!r} ({project})" for project, name in seen.projects.items()) or "no project"
            self._case(removal, "released", MOVED_OUT.format(where=where))
            self.run.report.released += 1
            self.run.record(Outcome(key, task_gid=gid, payload_hash=removal.payload_hash, removed=RELEASED))
            return
        others = {project: name for project, name in seen.projects.items() if project != self.run.project_gid}
        try:
            if removal.action == COMPLETE:
                await client.update_task(gid, {"completed": True})
                self._completed(removal)
            elif others:
                await client.post(f"/tasks/{gid}/removeProject", {"project": self.run.project_gid})
                where = ", ".join(f"{name!r} ({project})" for project, name in others.items())
                self._case(removal, "removed_from_project", ALSO_ELSEWHERE.format(where=where))
                self.run.report.removed_from_project += 1
                self.run.record(Outcome(key, forget=True))
            elif deletable:
                await client.delete_task(gid)
                self.run.report.deleted += 1
                self.run.record(Outcome(key, forget=True))
            else:
                await self._spare_subtasks(removal, seen)
        except (AuthenticationError, AsanaTransportError):
            raise
        except NotFoundError:
            self._gone(removal)
        except AsanaError as exc:
            self.run.reject(key, "", f"could not {removal.action} the task of this removed row: {reason_for(exc)}")

    async def _spare_subtasks(self, removal: Removal, seen: Seen) -> None:
        """A delete that would take subtasks along: held while rows of the model sit beneath, else completed."""
        kept = set(self.plan.task_gids().values())
        beneath = [sub for sub in seen.subtasks if sub in kept]
        if beneath:
            self.run.reject(removal.key, "", HELD_DELETE.format(count=len(beneath), gids=", ".join(beneath[:5])))
            return
        await self.run.client.update_task(removal.task_gid, {"completed": True})
        shown = ", ".join(seen.subtasks[:5]) + (", …" if len(seen.subtasks) > 5 else "")
        self._case(removal, "completed_instead", SUBTASKS_KEPT.format(gids=shown))
        self._completed(removal)

    def _completed(self, removal: Removal) -> None:
        self.run.report.completed += 1
        self.run.record(Outcome(removal.key, task_gid=removal.task_gid, payload_hash=removal.payload_hash, removed=COMPLETED))

    def _gone(self, removal: Removal) -> None:
        """A task already gone from Asana is forgotten (and counts as deleted when deleting it was the
        plan: a retried DELETE, or a parent's delete, meets a 404)."""
        self.run.log(f"Task {removal.task_gid} of removed row {removal.key} no longer exists in Asana; forgetting it")
        if removal.action != COMPLETE:
            self.run.report.deleted += 1
        self.run.record(Outcome(removal.key, forget=True))

