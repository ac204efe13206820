"""Removals (`on_row_removed`): the task of a row that left the model is completed once, or
deleted and forgotten."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import AsanaError, AsanaTransportError, AuthenticationError, NotFoundError
from ..planning import COMPLETE, Plan, Removal
from ..state import COMPLETED, Outcome
from .context import RunContext
from .outcomes import reason_for

HELD_DELETE = (
    "not deleted: {count} task(s) of rows still in the model sit beneath its task ({gids}), and Asana would delete "
    "them with it; give those rows another parent_key (or none), or use on_row_removed: complete"
)
MAX_SUBTASK_LEVELS = 5
"""How far down a delete's subtasks are read, a read per task."""


@dataclass
class RemovalWriter:
    run: RunContext
    plan: Plan
    _kept: set[str] | None = field(default=None, init=False)

    async def remove(self, removal: Removal) -> None:
        """Complete (once) or delete the task of a row that left the model; a task already gone is
        forgotten (and counts as deleted when deleting it was the plan: a retried DELETE meets a 404).

        A task is never deleted while tasks of rows still in the model sit beneath it (Asana
        would delete them with it): the removal waits, as a rejection saying why, until they move."""
        key, gid, client = removal.key, removal.task_gid, self.run.client
        try:
            if removal.action == COMPLETE:
                await client.update_task(gid, {"completed": True})
            else:
                beneath = await self._kept_beneath(gid)
                if beneath:
                    self.run.reject(key, "", HELD_DELETE.format(count=len(beneath), gids=", ".join(beneath[:5])))
                    return
                await client.delete_task(gid)
        except (AuthenticationError, AsanaTransportError):
            raise
        except NotFoundError:
            self.run.log(f"Task {gid} of removed row {key} no longer exists in Asana; forgetting it")
            if removal.action != COMPLETE:
                self.run.report.deleted += 1
            self.run.record(Outcome(key, forget=True))
            return
        except AsanaError as exc:
            self.run.reject(key, "", f"could not {removal.action} the task of this removed row: {reason_for(exc)}")
            return
        if removal.action == COMPLETE:
            self.run.report.completed += 1
            self.run.record(Outcome(key, task_gid=gid, payload_hash=removal.payload_hash, removed=COMPLETED))
        else:
            self.run.report.deleted += 1
            self.run.record(Outcome(key, forget=True))

    async def _kept_beneath(self, gid: str, depth: int = 0) -> list[str]:
        """GIDs of tasks beneath `gid` (subtasks, theirs, …) that rows still in the model hold."""
        if self._kept is None:
            self._kept = set(self.plan.task_gids().values())
        found: list[str] = []
        async for subtask in self.run.client.paginate(f"/tasks/{gid}/subtasks", {"opt_fields": "gid"}):
            if subtask["gid"] in self._kept:
                found.append(subtask["gid"])
            elif depth < MAX_SUBTASK_LEVELS:
                found += await self._kept_beneath(subtask["gid"], depth + 1)
        return found
