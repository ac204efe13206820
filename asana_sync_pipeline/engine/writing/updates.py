"""Updates: a PUT with the fields Asana allows to change, then the create-only fields
through their own endpoints; a task that vanished is created again (upsert) or
reported (a `task_gid` from the model).

A `task_gid` the model names is checked once (one read; for a subtask outside any
project, one more per level up to the nearest ancestor in a project) to be in the
configured project before it is written, unless `allow_tasks_outside_project` is set; once
synced, the state remembers it and later runs skip the read.

Removals (`on_row_removed`) are written here too: a task completed once, or
deleted and forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..asana.client import AsanaClient
from .creates import CreateWriter
from ..errors import AsanaError, AsanaTransportError, AuthenticationError, NotFoundError, TaskOutsideProject
from .executor import Log, OutcomeRecorder
from ..fields.rules import TASK_FIELDS
from .outcomes import field_of, reason_for
from ..planning.plan import Plan
from .report import SyncReport
from ..settings import SyncMode
from ..planning.lifecycle import COMPLETE
from ..state import COMPLETED, Outcome
from .task_changes import create_only_actions, opt_fields_for


HELD_DELETE = (
    "not deleted: {count} task(s) of rows still in the model sit beneath its task ({gids}), and Asana would delete "
    "them with it; give those rows another parent_key (or none), or use on_row_removed: complete"
)
MAX_PARENT_LEVELS = 5
"""How far up (the project check) or down (a delete's subtasks) the hierarchy is read, a read per level."""


def _projects_of(task: dict[str, Any]) -> str:
    return ", ".join(f"{project.get('name')!r} ({project.get('gid')})" for project in task.get("projects") or []) or "no project"


@dataclass
class UpdateWriter:
    client: AsanaClient
    plan: Plan
    project_gid: str
    me_gid: str
    recorder: OutcomeRecorder
    creates: CreateWriter
    report: SyncReport
    log: Log
    _kept: set[str] | None = field(default=None, init=False)

    async def update(self, position: int) -> None:
        rows = self.plan.rows
        key = rows["primary_key"].iat[position]
        gid = rows["task_gid"].iat[position]
        canonical = self.plan.wanted(position, self.creates.parents)
        body = self.plan.request_body(position, self.project_gid, for_update=True, parents=self.creates.parents)
        create_only = {name: value for name, value in canonical.items() if name in TASK_FIELDS and TASK_FIELDS[name].create_only}
        if self.creates.orphaned(position):
            return
        try:
            if self._needs_project_check(position):
                await self._check_in_project(gid)
            if body:
                await self.client.update_task(gid, body)
            current = await self.client.get_task(gid, opt_fields_for(create_only)) if create_only else {}
        except (AuthenticationError, AsanaTransportError):
            raise
        except TaskOutsideProject as exc:
            self.recorder.record(Outcome(key, field="task_gid", reason=str(exc)))
            return
        except NotFoundError as exc:
            await self._task_missing(position, gid, exc)
            return
        except AsanaError as exc:
            self.recorder.record(Outcome(key, field=field_of(exc), reason=reason_for(exc)))
            return
        for action in create_only_actions(gid, current, create_only, project_gid=self.project_gid, me_gid=self.me_gid):
            try:
                await self.client.post(action.path, action.data)
            except (AuthenticationError, AsanaTransportError):
                raise
            except AsanaError as exc:
                # The task exists (it was just read): a 404 here names the tag, section or parent, not the task.
                self.recorder.record(Outcome(key, field=field_of(exc) or action.field, reason=reason_for(exc)))
                return
        self.report.updated += 1
        if bool(rows["reopen"].iat[position]):
            self.report.reopened += 1
        self.recorder.record(Outcome(key, task_gid=gid, payload_hash=int(rows["payload_hash"].iat[position])))

    async def remove(self, position: int) -> None:
        """Complete (once) or delete the task of a row that left the model; a task already gone is
        forgotten (and counts as deleted when deleting it was the plan: a retried DELETE meets a 404).

        A task is never deleted while tasks of rows still in the model sit beneath it (Asana
        would delete them with it): the removal waits, as a rejection saying why, until they move."""
        removal = self.plan.removals.iloc[position]
        key, gid = removal["primary_key"], removal["task_gid"]
        try:
            if removal["action"] == COMPLETE:
                await self.client.update_task(gid, {"completed": True})
            else:
                beneath = await self._kept_beneath(gid)
                if beneath:
                    self.recorder.record(Outcome(key, field="", reason=HELD_DELETE.format(count=len(beneath), gids=", ".join(beneath[:5]))))
                    return
                await self.client.delete_task(gid)
        except (AuthenticationError, AsanaTransportError):
            raise
        except NotFoundError:
            self.log(f"Task {gid} of removed row {key} no longer exists in Asana; forgetting it")
            if removal["action"] != COMPLETE:
                self.report.deleted += 1
            self.recorder.record(Outcome(key, forget=True))
            return
        except AsanaError as exc:
            self.recorder.record(Outcome(key, field="", reason=f"could not {removal['action']} the task of this removed row: {reason_for(exc)}"))
            return
        if removal["action"] == COMPLETE:
            self.report.completed += 1
            hash_value = removal.get("payload_hash")
            recorded = None if hash_value is None or pd.isna(hash_value) else int(hash_value)
            self.recorder.record(Outcome(key, task_gid=gid, payload_hash=recorded, removed=COMPLETED))
        else:
            self.report.deleted += 1
            self.recorder.record(Outcome(key, forget=True))

    async def _kept_beneath(self, gid: str, depth: int = 0) -> list[str]:
        """GIDs of tasks beneath `gid` (subtasks, theirs, …) that rows still in the model hold."""
        if self._kept is None:
            self._kept = set(self.plan.rows["task_gid"].dropna().astype(str))
        found: list[str] = []
        async for subtask in self.client.paginate(f"/tasks/{gid}/subtasks", {"opt_fields": "gid"}):
            if subtask["gid"] in self._kept:
                found.append(subtask["gid"])
            elif depth < MAX_PARENT_LEVELS:
                found += await self._kept_beneath(subtask["gid"], depth + 1)
        return found

    def _needs_project_check(self, position: int) -> bool:
        rows = self.plan.rows
        return (
            not self.plan.settings.allow_tasks_outside_project
            and bool(rows["gid_from_column"].iat[position])
            and not bool(rows["gid_known"].iat[position])
        )

    async def _check_in_project(self, gid: str) -> None:
        """The task, or for a subtask outside any project the nearest ancestor in one, must be in the
        project (a read per level, at most MAX_PARENT_LEVELS)."""
        task = await self.client.get_task(gid, ["projects.name", "parent"])
        ancestor, levels = task, 0
        while not (ancestor.get("projects") or []) and ancestor.get("parent") and levels < MAX_PARENT_LEVELS:
            ancestor = await self.client.get_task(ancestor["parent"]["gid"], ["projects.name", "parent"])
            levels += 1
        if any(project.get("gid") == self.project_gid for project in ancestor.get("projects") or []):
            return
        where = _projects_of(task)
        if levels:
            where += f" (a subtask; its nearest ancestor in a project is in {_projects_of(ancestor)})"
        raise TaskOutsideProject(
            f"task {gid} is in {where}, not in the configured project {self.project_gid}; fix the row's task_gid, "
            "or set allow_tasks_outside_project: true to update tasks outside the project"
        )

    async def _task_missing(self, position: int, gid: str, exc: NotFoundError) -> None:
        """A 404: recreate a task this sync made (upsert), reject one the model addressed."""
        key = self.plan.rows["primary_key"].iat[position]
        from_column = bool(self.plan.rows["gid_from_column"].iat[position])
        if from_column or self.plan.settings.sync_mode is not SyncMode.UPSERT:
            where = "the model's task_gid" if from_column else "the task this row was synced to"
            self.recorder.record(Outcome(key, field="task_gid", reason=f"{where} ({gid}) was not found in Asana: {exc.reason}"))
            return
        self.log(f"Task {gid} of row {key} no longer exists in Asana; creating it again")
        if await self.creates.recreate(position):
            self.report.recreated += 1
