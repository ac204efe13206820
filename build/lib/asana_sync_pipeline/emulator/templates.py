"""Task templates and the jobs that instantiate them, as Asana runs them: asynchronously.

`POST /task_templates/{gid}/instantiateTask` (`data: {name}`) answers 201 with a *job*
(`resource_subtype: instantiate_task`, `status: not_started`); the job turns `in_progress`
after half of `job_seconds`, then, after the other half, creates the task in the template's
project (its notes, custom field values, assignee and due date from `due_on_offset_days`)
with the template's subtasks as real subtasks, acting as the user who asked, and turns
`succeeded` with `new_task`; or `failed` if that cannot be done (the template was deleted
meanwhile, say). `GET /jobs/{gid}` polls it.

Asana runs only a handful of such jobs at once per user (reported as 5): at most
`max_concurrent_jobs` per user are `not_started` or `in_progress`; one more answers 429 with
`Retry-After` (the seconds until the first of them ends) and Asana's rate-limit body.
A template in the fixture: `{gid, name, project, notes?, subtasks?: [{name}],
custom_fields?: {field GID: value}, assignee?, due_on_offset_days?}`; its values are checked
as a task write would check them when the emulator starts.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .custom_fields import custom_value
from .errors import RATE_LIMIT_MESSAGE, ApiError
from .fixture import FixtureError

if TYPE_CHECKING:
    from .store import AsanaStore

DEFAULT_JOB_SECONDS = 0.2
DEFAULT_MAX_JOBS = 5
RUNNING = ("not_started", "in_progress")


@dataclass
class Job:
    gid: str
    template: str
    name: str
    user: str
    started: float = field(default_factory=time.monotonic)
    status: str = "not_started"
    new_task: str | None = None


class TooManyJobs(ApiError):
    """429: the user has as many instantiations running as Asana allows."""

    def __init__(self, retry_after: int):
        super().__init__(429, RATE_LIMIT_MESSAGE, help_text=False, headers={"Retry-After": str(retry_after)})


class TaskTemplates:
    """The fixture's templates (checked against the workspace), and the jobs instantiating them."""

    def __init__(self, store: AsanaStore, templates: list[dict[str, Any]], job_seconds: float | None, max_per_user: int):
        self.store = store
        self.job_seconds = DEFAULT_JOB_SECONDS if job_seconds is None else job_seconds
        self.max_per_user = max_per_user
        self.templates: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, Job] = {}
        self.created_at = store.now()
        for n, template in enumerate(templates):
            self.templates[template["gid"]] = self._checked(template, f"task_templates[{n}]")

    def _checked(self, template: dict[str, Any], where: str) -> dict[str, Any]:
        store = self.store
        enabled = store.project_fields[template["project"]]
        values = {}
        for gid, value in template["custom_fields"].items():
            if gid not in enabled:
                raise FixtureError(f"fixture: {where}.custom_fields names {gid}, not a custom field of project {template['project']}")
            try:
                values[gid] = custom_value(store.custom_fields[gid], value, store.user)
            except ApiError as exc:
                raise FixtureError(f"fixture: {where}.custom_fields: {exc.message}") from None
        assignee = template["assignee"]
        found = None if assignee is None or assignee == "me" else store.find_user(assignee)
        if assignee is not None and found is None:
            raise FixtureError(f"fixture: {where}.assignee is {assignee!r}, not the GID or email of a user")
        return {**template, "values": values, "assignee": found}

    # ---- reading -----------------------------------------------------------------

    def template(self, gid: str) -> dict[str, Any]:
        """A template named in a path: 400 if the GID is not numeric, 404 if unknown or deleted."""
        if not gid.isdigit():
            raise ApiError(400, f"task_template: Not a valid GID: {gid}")
        if gid not in self.templates:
            raise ApiError(404, f"task_template: Not a recognized ID: {gid}")
        return self.templates[gid]

    def of_project(self, project: str) -> list[dict[str, Any]]:
        return [template for template in self.templates.values() if template["project"] == project]

    def job(self, gid: str) -> Job:
        if not gid.isdigit():
            raise ApiError(400, f"job: Not a valid GID: {gid}")
        if gid not in self.jobs:
            raise ApiError(404, f"job: Not a recognized ID: {gid}")
        return self.jobs[gid]

    # ---- writing -----------------------------------------------------------------

    def delete(self, gid: str) -> None:
        """`DELETE /task_templates/{gid}`: gone; a job instantiating it that has not finished fails."""
        with self.store.lock:
            self.template(gid)
            del self.templates[gid]

    def instantiate(self, gid: str, data: Any) -> Job:
        """A new job for the acting user (not started: `run` starts it once the answer is made)."""
        store = self.store
        with store.lock:
            template = self.template(gid)
            store.project(template["project"])
            if not isinstance(data, dict):
                raise ApiError(400, "data: Must be an object")
            for key in data:
                if key != "name":
                    raise ApiError(400, f"{key}: Unknown property")
            name = data.get("name", template["name"])
            if not isinstance(name, str):
                raise ApiError(400, "name: Must be a string")
            user = store.actor
            running = [job for job in self.jobs.values() if job.user == user and job.status in RUNNING]
            if len(running) >= self.max_per_user:
                now = time.monotonic()
                first_done = min(job.started + self.job_seconds for job in running)
                raise TooManyJobs(max(1, math.ceil(first_done - now)))
            job = Job(gid=store._new_gid(), template=gid, name=name, user=user)
            self.jobs[job.gid] = job
            return job

    def run(self, job: Job) -> None:
        """Start the job's clock: `in_progress` after half of `job_seconds`, done after all of it."""
        half = self.job_seconds / 2
        timer = threading.Timer(half, self._begin, (job, half))
        timer.daemon = True
        timer.start()

    def _begin(self, job: Job, rest: float) -> None:
        with self.store.lock:
            job.status = "in_progress"
        timer = threading.Timer(rest, self._finish, (job,))
        timer.daemon = True
        timer.start()

    def _finish(self, job: Job) -> None:
        store = self.store
        with store.lock, store.acting_as(job.user):
            template = self.templates.get(job.template)
            if template is None:
                job.status = "failed"
                return
            data: dict[str, Any] = {"name": job.name, "projects": [template["project"]], "notes": template["notes"]}
            if template["custom_fields"]:
                data["custom_fields"] = template["custom_fields"]
            if template["assignee"] is not None:
                data["assignee"] = template["assignee"]
            if template["due_on_offset_days"] is not None:
                data["due_on"] = (datetime.now(UTC).date() + timedelta(days=template["due_on_offset_days"])).isoformat()
            try:
                task = store.create_task(data)
                for subtask in template["subtasks"]:
                    store.create_subtask(task.gid, {"name": subtask["name"]})
            except ApiError:
                job.status = "failed"
                return
            job.new_task, job.status = task.gid, "succeeded"
