"""Updates, field by field: an update sends only what the model changed since the row's last
sync (`planning.changes`), as one PUT and the actions for list items and placements
(`field_requests`), so what people did in Asana to the other fields stays. A field whose
policy is `if_empty` comes here only when Asana shows it empty or holding the sync's own value
(`observing.people` read it); the state records what was sent, and for the fields not sent what
the sync wrote before (`Plan.recorded_values`).

A row synced before fields were recorded is updated in full once (a PUT with every field,
then the create-only fields brought to the model's values through their endpoints), and
field by field from then on. A task that vanished is handed back to be created again
(upsert), or reported (a `task_gid` from the model).

A `task_gid` the model names is checked once (one read; for a subtask outside any
project, one more per level up to the nearest ancestor in a project) to be in the
configured project before it is written, unless `allow_tasks_outside_project` is set; once
synced, the state remembers it and later runs skip the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AsanaError, AsanaTransportError, AuthenticationError, NotFoundError, TaskOutsideProject
from ..fields.value_rules import TASK_FIELDS
from ..observing.task_values import OUTCOME_OPT_FIELDS
from ..planning import FieldChange, PlannedRow
from ..settings import SyncMode
from ..state import Outcome
from .context import RowWriter
from .failures import failure, field_of, reason_for
from .field_requests import requests_for
from .task_changes import TaskAction, create_only_actions, opt_fields_for

MAX_PARENT_LEVELS = 5
"""How far up a task's ancestors the project check reads, a read per level."""


def projects_of(task: dict[str, Any]) -> str:
    """A task's projects, for a message."""
    return ", ".join(f"{project.get('name')!r} ({project.get('gid')})" for project in task.get("projects") or []) or "no project"


@dataclass
class UpdateWriter(RowWriter):
    """Sends a plan's updates; rows whose task is gone in Asana wait in `vanished`, to be created again."""

    vanished: list[PlannedRow] = field(default_factory=list)

    async def update(self, row: PlannedRow) -> None:
        changes = self.plan.changes_of(row)
        if changes is None:
            await self.update_in_full(row)
        else:
            await self.update_fields(row, changes)

    async def update_fields(self, row: PlannedRow, changes: list[FieldChange]) -> None:
        """Send what the model changed since the row's last sync; nothing when nothing did."""
        gid = row.task_gid
        assert gid is not None, "an update always has a task"
        if self.orphaned(row):
            return
        client = self.run.client
        try:
            if self._needs_project_check(row):
                await self._check_in_project(gid)
            requests = requests_for(
                gid, changes, project_gid=self.run.project_gid, kinds=self.plan.kinds,
                sync_key_field=self.plan.settings.sync_key_field, parents=self.run.tasks,
            )  # fmt: skip
            if row.reopen and "completed" not in self.plan.written_values(row.position):
                requests.body["completed"] = False
            put_back = row.position in self.plan.put_back
            if put_back:
                action = self._put_back(gid, self.plan.put_back[row.position])
                await client.post(action.path, action.data)
            if requests.body:
                self.run.saw(await client.update_task(gid, requests.body, opt_fields=OUTCOME_OPT_FIELDS))
        except (AuthenticationError, AsanaTransportError):
            raise
        except (TaskOutsideProject, AsanaError) as exc:
            self._refused(row, exc)
            return
        if not await self._act(row, requests.actions):
            return
        self._updated(row, bool(requests) or put_back, changes)

    def _put_back(self, gid: str, section: str | None) -> TaskAction:
        """A task a person moved out of the project, put back (`on_asana_edit: overwrite`)."""
        self.run.log(f"Putting task {gid} back in project {self.run.project_gid} (on_asana_edit is overwrite)")
        data = {"project": self.run.project_gid, **({"section": section} if section else {})}
        return TaskAction(f"/tasks/{gid}/addProject", data)

    async def _act(self, row: PlannedRow, actions: list[TaskAction]) -> bool:
        """Send the actions in order; False, and the row rejected, at the first Asana refuses."""
        for action in actions:
            try:
                await self.run.client.post(action.path, action.data)
            except (AuthenticationError, AsanaTransportError):
                raise
            except AsanaError as exc:
                # The task exists (it was just written or read): a 404 here names the tag, section or parent, not the task.
                self.run.reject(row.key, field_of(exc) or action.field, reason_for(exc), **failure(exc, "update"))
                return False
        return True

    def _updated(self, row: PlannedRow, sent: bool, changes: list[FieldChange] | None = None) -> None:
        """Record the row as synced with its current values; count it updated when something was sent
        (the sync log keeps each field sent, before and after, when they are known)."""
        if sent:
            self.run.report.updated += 1
            if row.reopen:
                self.run.report.reopened += 1
        else:
            self.run.report.unchanged += 1
        logged = {
            change.field: {"before": self.plan.label(change.before), "after": self.plan.label(change.after)} for change in changes or []
        }
        self.run.record(
            Outcome(
                row.key, task_gid=row.task_gid, payload_hash=row.payload_hash, written=self.plan.recorded_values(row.position),
                action="update" if sent else None, changes=logged or None,
            )  # fmt: skip
        )

    async def update_in_full(self, row: PlannedRow) -> None:
        """A row synced before its fields were recorded: every field, as the model has it."""
        gid = row.task_gid
        assert gid is not None, "an update always has a task"
        canonical = self.plan.wanted(row, self.run.tasks)
        body = self.plan.request_body(row, self.run.project_gid, for_update=True, parents=self.run.tasks)
        create_only = {name: value for name, value in canonical.items() if name in TASK_FIELDS and TASK_FIELDS[name].create_only}
        if self.orphaned(row):
            return
        client = self.run.client
        try:
            if self._needs_project_check(row):
                await self._check_in_project(gid)
            if row.position in self.plan.put_back:
                action = self._put_back(gid, self.plan.put_back[row.position])
                await client.post(action.path, action.data)
            if body:
                self.run.saw(await client.update_task(gid, body, opt_fields=OUTCOME_OPT_FIELDS))
            current = await client.get_task(gid, opt_fields_for(create_only)) if create_only else {}
        except (AuthenticationError, AsanaTransportError):
            raise
        except (TaskOutsideProject, AsanaError) as exc:
            self._refused(row, exc)
            return
        actions = create_only_actions(gid, current, create_only, project_gid=self.run.project_gid, me_gid=self.run.me_gid)
        if await self._act(row, actions):
            self._updated(row, True)

    def _needs_project_check(self, row: PlannedRow) -> bool:
        return not self.plan.settings.allow_tasks_outside_project and row.gid_from_column and not row.gid_known

    async def _check_in_project(self, gid: str) -> None:
        """The task, or for a subtask outside any project the nearest ancestor in one, must be in the
        project (a read per level, at most MAX_PARENT_LEVELS)."""
        client = self.run.client
        task = await client.get_task(gid, ["projects.name", "parent"])
        ancestor, levels = task, 0
        while not (ancestor.get("projects") or []) and ancestor.get("parent") and levels < MAX_PARENT_LEVELS:
            ancestor = await client.get_task(ancestor["parent"]["gid"], ["projects.name", "parent"])
            levels += 1
        if any(project.get("gid") == self.run.project_gid for project in ancestor.get("projects") or []):
            return
        where = projects_of(task)
        if levels:
            where += f" (a subtask; its nearest ancestor in a project is in {projects_of(ancestor)})"
        raise TaskOutsideProject(
            f"task {gid} is in {where}, not in the configured project {self.run.project_gid}; fix the row's task_gid, "
            "or set allow_tasks_outside_project: true to update tasks outside the project"
        )

    def _refused(self, row: PlannedRow, exc: TaskOutsideProject | AsanaError) -> None:
        """A row whose update Asana refused, or whose task is elsewhere or gone: rejected (or recreated)."""
        if isinstance(exc, TaskOutsideProject):
            self.run.reject(row.key, "task_gid", str(exc), action="update")
        elif isinstance(exc, NotFoundError):
            self._task_missing(row, exc)
        else:
            self.run.reject(row.key, field_of(exc), reason_for(exc), **failure(exc, "update"))

    def _task_missing(self, row: PlannedRow, exc: NotFoundError) -> None:
        """A 404: a task this sync made is created again (upsert), one the model addressed is rejected."""
        if row.gid_from_column or self.plan.settings.sync_mode is not SyncMode.UPSERT:
            where = "the model's task_gid" if row.gid_from_column else "the task this row was synced to"
            self.run.reject(
                row.key, "task_gid", f"{where} ({row.task_gid}) was not found in Asana: {exc.reason}", **failure(exc, "update")
            )
            return
        self.vanished.append(row)
