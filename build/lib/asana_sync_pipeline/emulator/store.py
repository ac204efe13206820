"""The emulator's in-memory Asana (workspace, users, tags, projects, sections,
custom fields, tasks, stories) and the rules Asana applies to its writes.

Written from Asana's documentation, independently of the sync's own field rules,
so that a test passing against the emulator is evidence rather than an echo of
the client's assumptions. Every write validates completely before it changes
anything: a rejected request leaves no trace, as in Asana.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any
from urllib.parse import urlsplit

from .custom_fields import custom_value
from .dates import apply_dates
from .errors import ApiError
from .events import EventLog
from .fixture import add_default_sections, parse_fixture
from .settings import default_fixture
from .stories import Story, comment_fields, history
from .templates import DEFAULT_MAX_JOBS, TaskTemplates
from .values import Clock, check_rich_text, gid_text, html_from_text, plain_text

APP_URL = "https://app.asana.com/0"
"""Where Asana's links point (`permalink_url`), until a served emulator points them at itself."""

CREATE_ONLY = {
    "projects": "Use addProject / removeProject.",
    "tags": "Use addTag / removeTag.",
    "followers": "Use addFollowers / removeFollowers.",
    "memberships": "Use addProject with a section.",
    "parent": "Use setParent.",
    "workspace": "A task cannot move to another workspace.",
}
WRITABLE = frozenset(
    {
        "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee",
        "assignee_status", "assignee_section", "custom_fields", "resource_subtype", "approval_status",
        "liked", "hearted", "external",
    }
)
READ_ONLY = frozenset(
    {
        "gid", "resource_type", "created_at", "modified_at", "completed_at", "completed_by", "created_by",
        "permalink_url", "num_subtasks", "num_likes", "num_hearts", "likes", "hearts", "dependencies",
        "dependents", "actual_time_minutes", "is_rendered_as_separator", "assigned_by",
    }
)
ATTACHMENT_FIELDS = frozenset({"parent", "resource_subtype", "url", "name", "file", "connect_to_app"})
MAX_DEPENDENCY_LINKS = 30
"""Asana: 'A task can have at most 30 dependents and dependencies combined'."""
SUBTYPES = ("default_task", "milestone", "approval")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "changes_requested")
ASSIGNEE_STATUSES = ("today", "upcoming", "later", "new", "inbox")
ACTION_KEYS = {
    "addTag": {"tag"},
    "removeTag": {"tag"},
    "addFollowers": {"followers"},
    "removeFollowers": {"followers"},
    "addProject": {"project", "section", "insert_before", "insert_after"},
    "removeProject": {"project"},
    "setParent": {"parent", "insert_before", "insert_after"},
}
FIRST_TASK_GID = 1210000000000001
FIRST_OBJECT_GID = 1220000000000001
TAG_COLORS = (
    "dark-pink", "dark-green", "dark-blue", "dark-red", "dark-teal", "dark-brown", "dark-orange", "dark-purple",
    "dark-warm-gray", "light-pink", "light-green", "light-blue", "light-red", "light-teal", "light-brown",
    "light-orange", "light-purple", "light-warm-gray",
)


@dataclass
class Task:
    gid: str
    workspace: str
    created_at: str
    modified_at: str
    created_by: str | None = None
    name: str = ""
    notes: str = ""
    html_notes: str = "<body></body>"
    resource_subtype: str = "default_task"
    completed: bool = False
    completed_at: str | None = None
    completed_by: str | None = None
    due_on: str | None = None
    due_at: str | None = None
    start_on: str | None = None
    start_at: str | None = None
    assignee: str | None = None
    assignee_status: str | None = None
    approval_status: str | None = None
    liked: bool = False
    parent: str | None = None
    projects: list[str] = field(default_factory=list)
    memberships: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    followers: list[str] = field(default_factory=list)
    custom_values: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)

    def copy(self) -> Task:
        """A copy to validate a change on, so that a rejected write leaves the task untouched."""
        return replace(
            self,
            projects=list(self.projects),
            memberships=list(self.memberships),
            tags=list(self.tags),
            followers=list(self.followers),
            custom_values=dict(self.custom_values),
            dependencies=list(self.dependencies),
            dependents=list(self.dependents),
        )


def _attachment_resource(attachment: dict[str, Any]) -> dict[str, Any]:
    return {"gid": attachment["gid"], "resource_type": "attachment", "name": attachment["name"]}


def _require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(400, "data: Must be an object")
    return data


class AsanaStore:
    """Everything the emulator knows. Public methods take the lock, so they are safe across threads."""

    def __init__(
        self, fixture: dict[str, Any] | None = None, project_gid: str | None = None, events_token_ttl_seconds: float | None = None,
        job_seconds: float | None = None, max_concurrent_jobs: int = DEFAULT_MAX_JOBS,
    ):  # fmt: skip
        checked = parse_fixture(fixture or default_fixture(), project_gid)
        ttl = events_token_ttl_seconds if events_token_ttl_seconds is not None else checked.events_token_ttl_seconds
        self.events = EventLog(ttl)
        self.app_url = APP_URL
        """Root of the `permalink_url`s: Asana's app until the server knows its own address
        (`served_at`), then its task pages under /_emulator/app."""
        self.lock = threading.RLock()
        self.now = Clock()
        self._object_gids = count(FIRST_OBJECT_GID)
        self._gids = count(FIRST_TASK_GID)
        self.workspace = checked.workspace
        self.users = {user["gid"]: user for user in checked.users}
        self.me = checked.me
        """The user of `--token`; a request with a user's own token acts as that user (`actor`)."""
        self.user_tokens = checked.tokens
        self._acting: ContextVar[str | None] = ContextVar(f"emulator-actor-{id(self)}", default=None)
        self.tags = {tag["gid"]: tag for tag in checked.tags}
        self.custom_fields = {custom["gid"]: custom for custom in checked.custom_fields}
        add_default_sections(checked.projects, self._new_gid)
        self.project_gid = checked.default_project.gid
        self.projects = {project.gid: {**project.extra, "gid": project.gid, "name": project.name} for project in checked.projects}
        self.project_fields = {project.gid: project.custom_fields for project in checked.projects}
        self.forbidden_projects = checked.forbidden_projects
        started = self.now()
        self.sections: dict[str, dict[str, Any]] = {}
        self.project_sections: dict[str, list[str]] = {}
        for project in checked.projects:
            self.project_sections[project.gid] = [section["gid"] for section in project.sections]
            for section in project.sections:
                self.sections[section["gid"]] = {**section, "project": project.gid, "created_at": started}
        for tag in self.tags.values():
            tag.setdefault("created_at", started)
        self.tasks: dict[str, Task] = {}
        self.children: dict[str, list[str]] = {}
        self.stories: dict[str, list[Story]] = {}
        self.attachments: dict[str, dict[str, Any]] = {}
        self.trash: dict[str, tuple[Task, list[Story], list[dict[str, Any]]]] = {}
        self.templates = TaskTemplates(
            self, checked.task_templates, job_seconds if job_seconds is not None else checked.job_seconds, max_concurrent_jobs
        )

    def _new_gid(self) -> str:
        """A GID for a section, tag, story, attachment or job (tasks have their own sequence, as before)."""
        return str(next(self._object_gids))

    # ---- who acts ------------------------------------------------------------

    @property
    def actor(self) -> str:
        """The user the current request acts as: its token's user (`me` outside a request)."""
        return self._acting.get() or self.me

    @contextmanager
    def acting_as(self, user: str | None) -> Iterator[None]:
        """Everything done inside acts as `user` (None: `me`): authors, `completed_by`, events' `user`."""
        token = self._acting.set(user)
        try:
            yield
        finally:
            self._acting.reset(token)

    # ---- look-ups ------------------------------------------------------------

    def find_user(self, reference: Any) -> str | None:
        """A user GID for `me`, a GID or an email of a workspace member; None if there is none."""
        if reference == "me":
            return self.actor
        if not isinstance(reference, (str, int)) or isinstance(reference, bool):
            return None
        reference = str(reference)
        if reference in self.users:
            return reference
        lowered = reference.lower()
        return next((gid for gid, user in self.users.items() if user["email"].lower() == lowered), None)

    def user(self, reference: Any, field_name: str) -> str:
        """A user named in a request body; 400 if there is no such user in the workspace."""
        gid = self.find_user(reference)
        if gid is None:
            raise ApiError(400, f"{field_name}: Not a recognized ID or email: {reference}")
        return gid

    def project(self, gid: str) -> dict[str, Any]:
        """A project named in a path: 404 if unknown, 403 if the token's user cannot see it."""
        if gid in self.forbidden_projects:
            raise ApiError(403, f"project: You do not have access to this project: {gid}")
        if gid not in self.projects:
            raise ApiError(404 if gid.isdigit() else 400, f"project: Not a recognized ID: {gid}")
        return self.projects[gid]

    def body_project(self, value: Any, field_name: str) -> str:
        """A project named in a request body: 400 if unknown, 403 if not accessible."""
        gid = gid_text(value)
        if gid in self.forbidden_projects:
            raise ApiError(403, f"{field_name}: You do not have access to this project: {gid}")
        if gid not in self.projects:
            raise ApiError(400, f"{field_name}: Not a recognized ID: {value}")
        return gid

    def body_section(self, value: Any, project: str, field_name: str) -> str | None:
        if value is None:
            return None
        gid = gid_text(value)
        if gid is None or gid not in self.sections:
            raise ApiError(400, f"{field_name}: Not a recognized ID: {value}")
        if self.sections[gid]["project"] != project:
            raise ApiError(400, f"{field_name}: Section {gid} is not in project {project}")
        return gid

    def body_tag(self, value: Any, field_name: str) -> str:
        gid = gid_text(value)
        if gid is None or gid not in self.tags:
            raise ApiError(400, f"{field_name}: Not a recognized ID: {value}")
        return gid

    def body_task(self, value: Any, field_name: str) -> str:
        gid = gid_text(value)
        if gid not in self.tasks:
            raise ApiError(400, f"{field_name}: Not a recognized ID: {value}")
        return gid

    def task(self, gid: str) -> Task:
        """A task named in a path: 400 if the GID is not numeric, 404 if unknown."""
        if not gid.isdigit():
            raise ApiError(400, f"task: Not a valid GID: {gid}")
        task = self.tasks.get(gid)
        if task is None:
            raise ApiError(404, f"task: Not a recognized ID: {gid}")
        return task

    def section(self, gid: str) -> dict[str, Any]:
        if gid not in self.sections:
            raise ApiError(404 if gid.isdigit() else 400, f"section: Not a recognized ID: {gid}")
        return self.sections[gid]

    def fields_of(self, task: Task) -> list[str]:
        """Custom fields enabled on any project the task is in, in project order."""
        enabled: dict[str, None] = {}
        for project in task.projects:
            enabled.update(dict.fromkeys(self.project_fields.get(project, [])))
        return list(enabled)

    def select_tasks(self, keep: Any) -> list[Task]:
        """The tasks for which `keep(task)` holds, in creation order (GID order: a task brought back
        from the trash takes its place again, so that a page boundary stays exact)."""
        with self.lock:
            return sorted((task for task in self.tasks.values() if keep(task)), key=lambda task: int(task.gid))

    def touch(self, task: Task, moment: str | None = None) -> None:
        """A change to what the task holds that is not one of its fields (a comment, an attachment):
        Asana moves `modified_at` for it too, so `modified_since` finds the task."""
        task.modified_at = moment or self.now()

    # ---- writes --------------------------------------------------------------

    def create_task(self, data: Any) -> Task:
        data = _require_object(data)
        with self.lock:
            self._check_keys(data, creating=True)
            if not any(data.get(key) for key in ("workspace", "parent", "projects", "memberships")):
                raise ApiError(400, "You should specify one of workspace, parent, projects")
            stamp = self.now()
            task = Task(gid="0", workspace=self.workspace["gid"], created_at=stamp, modified_at=stamp, created_by=self.actor)
            self._apply_create_only(task, data)
            self._apply(task, data)
            task.gid = str(next(self._gids))
            self.tasks[task.gid] = task
            if task.parent:
                self.children.setdefault(task.parent, []).append(task.gid)
                self.touch(self.tasks[task.parent], stamp)
            self._tell_projects_joined(task, [])
            self.events.record_task(self, None, task)
            return task

    def served_at(self, url: str) -> None:
        """Links (`permalink_url`) point at this emulator's task pages from now on."""
        self.app_url = f"{url.rstrip('/')}/_emulator/app/0"

    def create_subtask(self, parent_gid: str, data: Any) -> Task:
        """`POST /tasks/{gid}/subtasks` (createSubtaskForTask): a new task under `parent_gid`,
        which the path names (a `parent` in the body must agree)."""
        data = _require_object(data)
        with self.lock:
            self.task(parent_gid)
            if data.get("parent") is not None and gid_text(data["parent"]) != parent_gid:
                raise ApiError(400, f"parent: The path names the parent ({parent_gid}); the body names {data['parent']}")
        return self.create_task({**data, "parent": parent_gid})

    def update_task(self, gid: str, data: Any) -> Task:
        with self.lock:
            current = self.task(gid)
            data = _require_object(data)
            self._check_keys(data, creating=False)
            task = current.copy()
            task.modified_at = self.now()
            self._apply(task, data)
            self.tasks[gid] = task
            self._record_change(current, task)
            return task

    def delete_task(self, gid: str) -> None:
        """Deletes the task and its subtasks, with their stories and attachments, as Asana does
        (into the trash: see `undelete_task`). Its dependency links stay, unseen, until it is back."""
        with self.lock:
            task = self.task(gid)
            if task.parent in self.children:
                self.children[task.parent].remove(gid)
                if task.parent in self.tasks:
                    self.touch(self.tasks[task.parent])
            doomed = [gid]
            while doomed:
                current = doomed.pop()
                gone = self.tasks.pop(current, None)
                stories = self.stories.pop(current, [])
                attachments = [self.attachments.pop(key) for key in [key for key, held in self.attachments.items()
                                                                     if held["parent"] == current]]
                if gone is not None:
                    self.trash[current] = (gone, stories, attachments)
                    self.events.record_task(self, gone, None)
                doomed.extend(self.children.pop(current, []))

    def undelete_task(self, gid: str) -> Task:
        """A task brought back from the trash, as a person can in Asana (its subtasks stay deleted)."""
        with self.lock:
            if gid not in self.trash:
                raise ApiError(404, f"task: Not a recognized ID in the trash: {gid}")
            task, stories, attachments = self.trash.pop(gid)
            if task.parent is not None and task.parent not in self.tasks:
                task.parent = None
            self.tasks[gid] = task
            self.stories[gid] = stories
            self.attachments.update((attachment["gid"], attachment) for attachment in attachments)
            if task.parent:
                self.children.setdefault(task.parent, []).append(gid)
            self.events.record_task(self, None, task, undeleted=True)
            return task

    def task_action(self, gid: str, action: str, data: Any) -> Task:
        """addTag, removeTag, addFollowers, removeFollowers, addProject, removeProject, setParent."""
        with self.lock:
            task = self.task(gid)
            data = _require_object(data)
            for key in data:
                if key not in ACTION_KEYS[action]:
                    raise ApiError(400, f"{key}: Unknown property")
            changed = task.copy()
            changed.modified_at = self.now()
            getattr(self, f"_{action}")(changed, data)
            self.tasks[gid] = changed
            self._tell_projects_joined(changed, task.projects)
            self._record_change(task, changed)
            return changed

    def change_dependencies(self, gid: str, key: str, data: Any, *, add: bool) -> None:
        """`addDependencies` / `removeDependencies` (`key` "dependencies") and `addDependents` /
        `removeDependents` (`key` "dependents"): both ends of each link change, each with its events.

        Asana's rules: the tasks named must exist (400); a link that would close a cycle, a task's
        own, is refused (400); a task holds at most 30 dependencies and dependents combined (400).
        Adding a link that exists, or removing one that does not, changes nothing."""
        with self.lock:
            task = self.task(gid)
            data = _require_object(data)
            for name in data:
                if name != key:
                    raise ApiError(400, f"{name}: Unknown property")
            listed = self._required(data, key)
            if not isinstance(listed, list):
                raise ApiError(400, f"{key}: Must be an array of task GIDs")
            others = list(dict.fromkeys(self.body_task(value, key) for value in listed))
            if not others:
                raise ApiError(400, f"{key}: Must name at least one task")
            reverse = "dependents" if key == "dependencies" else "dependencies"
            changed = {gid: task.copy()}
            for other in others:
                changed.setdefault(other, self.tasks[other].copy())
            stamp = self.now()
            for other in others:
                mine, theirs = getattr(changed[gid], key), getattr(changed[other], reverse)
                if add and other not in mine:
                    self._check_acyclic(gid, other, key)
                    mine.append(other)
                    theirs.append(gid)
                elif not add and other in mine:
                    mine.remove(other)
                    theirs.remove(gid)
            if add:
                for held in changed.values():
                    if self.dependency_links(held) > MAX_DEPENDENCY_LINKS:
                        raise ApiError(400, f"{key}: A task can have at most {MAX_DEPENDENCY_LINKS} dependents and dependencies "
                                            f"combined; task {held.gid} would have {self.dependency_links(held)}")
            for key_gid, held in changed.items():
                before = self.tasks[key_gid]
                if (held.dependencies, held.dependents) == (before.dependencies, before.dependents):
                    continue
                held.modified_at = stamp
                self.tasks[key_gid] = held
                self._record_change(before, held)

    def live(self, gids: list[str]) -> list[str]:
        """The GIDs of tasks not deleted (a link to a task in the trash is kept, and shown once it is back)."""
        return [gid for gid in gids if gid in self.tasks]

    def dependency_links(self, task: Task) -> int:
        return len(self.live(task.dependencies)) + len(self.live(task.dependents))

    def _check_acyclic(self, gid: str, other: str, key: str) -> None:
        """`other` becomes a dependency (or dependent) of `gid`: refused if `gid` is reached from
        `other` following the same direction (it would then depend on itself)."""
        direction = "dependencies" if key == "dependencies" else "dependents"
        seen, pending = set(), [other]
        while pending:
            current = pending.pop()
            if current == gid:
                raise ApiError(400, f"{key}: Task {other} cannot be added to the {key} of task {gid}: "
                                    "it would make a circular dependency")
            if current in seen or current not in self.tasks:
                continue
            seen.add(current)
            pending.extend(getattr(self.tasks[current], direction))

    def add_task_to_section(self, section_gid: str, data: Any) -> Task:
        """`POST /sections/{gid}/addTask`: the task moves to that section, leaving its other
        section of the project. A task not yet in the section's project joins it there, as
        Asana's docs describe for addTask (rather than a 400)."""
        with self.lock:
            section = self.section(section_gid)
            data = _require_object(data)
            for key in data:
                if key not in ("task", "insert_before", "insert_after"):
                    raise ApiError(400, f"{key}: Unknown property")
            task = self.tasks[self.body_task(self._required(data, "task"), "task")]
            self._check_neighbours(data, lambda other: (section["project"], section_gid) in other.memberships,
                                   f"section {section_gid}")
            changed = task.copy()
            changed.modified_at = self.now()
            self._place(changed, section["project"], section_gid)
            self.tasks[task.gid] = changed
            self._tell_projects_joined(changed, task.projects)
            self._record_change(task, changed)
            return changed

    def create_section(self, project_gid: str, data: Any) -> dict[str, Any]:
        """`POST /projects/{gid}/sections`: a new section, last or beside `insert_before`/`insert_after`."""
        with self.lock:
            self.project(project_gid)
            data = _require_object(data)
            for key in data:
                if key not in ("name", "insert_before", "insert_after"):
                    raise ApiError(400, f"{key}: Unknown property")
            name = self._required(data, "name")
            if not isinstance(name, str) or not name.strip():
                raise ApiError(400, "name: A section needs a non-empty name")
            order = self.project_sections[project_gid]
            position = len(order)
            if data.get("insert_before") is not None and data.get("insert_after") is not None:
                raise ApiError(400, "You may only provide one of insert_before or insert_after!")
            for key, offset in (("insert_before", 0), ("insert_after", 1)):
                if data.get(key) is not None:
                    neighbour = self.body_section(data[key], project_gid, key)
                    position = order.index(neighbour) + offset  # type: ignore[arg-type]  # a value given: never None
            gid = self._new_gid()
            self.sections[gid] = {"gid": gid, "name": name, "project": project_gid, "created_at": self.now()}
            order.insert(position, gid)
            return self.sections[gid]

    def create_tag(self, workspace_gid: str, data: Any) -> dict[str, Any]:
        """`POST /workspaces/{gid}/tags`: a new tag. Names are not unique in Asana: the same
        name twice makes two tags."""
        with self.lock:
            data = _require_object(data)
            for key in data:
                if key not in ("name", "color", "notes", "followers", "workspace"):
                    raise ApiError(400, f"{key}: Unknown property")
            name = self._required(data, "name")
            if not isinstance(name, str) or not name.strip():
                raise ApiError(400, "name: A tag needs a non-empty name")
            if data.get("workspace") is not None and gid_text(data["workspace"]) != workspace_gid:
                raise ApiError(400, f"workspace: Must be the workspace of the path, {workspace_gid}")
            color = data.get("color")
            if color is not None and color not in TAG_COLORS:
                raise ApiError(400, f"color: Must be one of {', '.join(TAG_COLORS)}")
            notes = data.get("notes", "")
            if not isinstance(notes, str):
                raise ApiError(400, "notes: Must be a string")
            followers = data.get("followers") or []
            if not isinstance(followers, list):
                raise ApiError(400, "followers: Must be an array of users")
            gid = self._new_gid()
            self.tags[gid] = {
                "gid": gid, "name": name, "color": color, "notes": notes, "created_at": self.now(),
                "followers": list(dict.fromkeys(self.user(follower, "followers") for follower in followers)),
            }
            return self.tags[gid]

    def add_comment(self, task_gid: str, data: Any) -> Story:
        """`POST /tasks/{gid}/stories`: a comment by the token's user."""
        with self.lock:
            self.task(task_gid)
            fields = comment_fields(data)
            story = Story(gid=self._new_gid(), task=task_gid, created_at=self.now(), created_by=self.actor,
                          resource_subtype="comment_added", **fields)
            self.stories.setdefault(task_gid, []).append(story)
            self.touch(self.tasks[task_gid], story.created_at)
            self.events.record_story(self, self.tasks[task_gid], story.gid)
            return story

    def add_attachment(self, form: dict[str, Any]) -> dict[str, Any]:
        """`POST /attachments` (form fields): an external attachment (a link) on a task, with
        Asana's rules: `parent` names a task; `resource_subtype=external` needs `url` (http or
        https) and `name`. Files (`resource_subtype=asana`) are not stored by the emulator."""
        with self.lock:
            for key in form:
                if key not in ATTACHMENT_FIELDS:
                    raise ApiError(400, f"{key}: Unknown property")
            parent = self._required(form, "parent")
            gid = gid_text(parent)
            if gid is None or gid not in self.tasks:
                if gid in self.projects:
                    raise ApiError(400, "parent: The emulator attaches links to tasks only, not to projects")
                raise ApiError(400, f"parent: Not a recognized ID: {parent}")
            subtype = form.get("resource_subtype", "asana")
            if subtype not in ("asana", "external"):
                raise ApiError(400, "resource_subtype: Must be one of asana, external")
            if form.get("connect_to_app") not in (None, "false"):
                raise ApiError(400, "connect_to_app: Only OAuth apps can connect an attachment; a personal access token cannot")
            if subtype == "asana":
                if "file" not in form:
                    raise ApiError(400, "file: Missing input")
                raise ApiError(400, "file: File uploads are not supported by the emulator; attach a link (resource_subtype=external)")
            url, name = self._required(form, "url"), self._required(form, "name")
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise ApiError(400, f"url: Not a valid URL: {url}")
            if not isinstance(name, str) or not name.strip():
                raise ApiError(400, "name: An attachment needs a non-empty name")
            task = self.tasks[gid]
            attachment = {"gid": self._new_gid(), "name": name, "url": url, "parent": gid, "created_at": self.now(),
                          "created_by": self.actor}
            self.attachments[attachment["gid"]] = attachment
            self.touch(task, attachment["created_at"])
            story = Story(gid=self._new_gid(), task=gid, created_at=attachment["created_at"], created_by=self.actor,
                          resource_subtype="attachment_added", text=f"attached {name}")
            self.stories.setdefault(gid, []).append(story)
            self.events.record_on_task(self, task, _attachment_resource(attachment), "added")
            self.events.record_story(self, task, story.gid)
            return attachment

    def attachment(self, gid: str) -> dict[str, Any]:
        """An attachment named in a path: 400 if the GID is not numeric, 404 if unknown or deleted."""
        if not gid.isdigit():
            raise ApiError(400, f"attachment: Not a valid GID: {gid}")
        if gid not in self.attachments:
            raise ApiError(404, f"attachment: Not a recognized ID: {gid}")
        return self.attachments[gid]

    def attachments_of(self, parent: str) -> list[dict[str, Any]]:
        """`GET /attachments?parent=`: a task's attachments, oldest first; a project has none here."""
        with self.lock:
            if parent in self.projects or parent in self.forbidden_projects:
                self.project(parent)
                return []
            self.task(parent)
            return [attachment for attachment in self.attachments.values() if attachment["parent"] == parent]

    def delete_attachment(self, gid: str) -> None:
        with self.lock:
            attachment = self.attachment(gid)
            del self.attachments[gid]
            task = self.tasks[attachment["parent"]]
            self.touch(task)
            self.events.record_on_task(self, task, _attachment_resource(attachment), "removed")

    def stories_of(self, task_gid: str) -> list[Story]:
        with self.lock:
            self.task(task_gid)
            return list(self.stories.get(task_gid, []))

    def _record_change(self, before: Task, after: Task) -> None:
        """A change to a task, as Asana records it: its events, and its system stories (the history)."""
        self.events.record_task(self, before, after)
        self.stories.setdefault(after.gid, []).extend(history(self, before, after, self._new_gid))

    def _tell_projects_joined(self, task: Task, before: list[str]) -> None:
        """Asana's system story for each project the task has just joined."""
        for project in task.projects:
            if project not in before:
                story = Story(gid=self._new_gid(), task=task.gid, created_at=task.modified_at, created_by=self.actor,
                              resource_subtype="added_to_project", text=f"added to {self.projects[project]['name']}",
                              project=project)
                self.stories.setdefault(task.gid, []).append(story)

    # ---- task actions ----------------------------------------------------------

    @staticmethod
    def _required(data: dict[str, Any], key: str) -> Any:
        if key not in data or data[key] is None:
            raise ApiError(400, f"{key}: Missing input")
        return data[key]

    def _addTag(self, task: Task, data: dict[str, Any]) -> None:
        tag = self.body_tag(self._required(data, "tag"), "tag")
        if tag not in task.tags:
            task.tags.append(tag)

    def _removeTag(self, task: Task, data: dict[str, Any]) -> None:
        tag = self.body_tag(self._required(data, "tag"), "tag")
        task.tags = [existing for existing in task.tags if existing != tag]

    def _followers(self, data: dict[str, Any]) -> list[str]:
        followers = self._required(data, "followers")
        if not isinstance(followers, list):
            raise ApiError(400, "followers: Must be an array of users")
        return [self.user(follower, "followers") for follower in followers]

    def _addFollowers(self, task: Task, data: dict[str, Any]) -> None:
        task.followers += [user for user in dict.fromkeys(self._followers(data)) if user not in task.followers]

    def _removeFollowers(self, task: Task, data: dict[str, Any]) -> None:
        gone = set(self._followers(data))
        task.followers = [user for user in task.followers if user not in gone]

    def _addProject(self, task: Task, data: dict[str, Any]) -> None:
        project = self.body_project(self._required(data, "project"), "project")
        section = self.body_section(data.get("section"), project, "section")
        self._check_neighbours(data, lambda other: project in other.projects, f"project {project}")
        self._place(task, project, section)

    def _check_neighbours(self, data: dict[str, Any], beside: Any, where: str) -> None:
        """`insert_before` / `insert_after`: at most one, naming a task that is already `where`."""
        if data.get("insert_before") is not None and data.get("insert_after") is not None:
            raise ApiError(400, "You may only provide one of insert_before or insert_after!")
        for key in ("insert_before", "insert_after"):
            if data.get(key) is not None:
                neighbour = self.tasks[self.body_task(data[key], key)]
                if not beside(neighbour):
                    raise ApiError(400, f"{key}: Task {neighbour.gid} is not in {where}")

    def _removeProject(self, task: Task, data: dict[str, Any]) -> None:
        project = self.body_project(self._required(data, "project"), "project")
        task.projects = [existing for existing in task.projects if existing != project]
        task.memberships = [membership for membership in task.memberships if membership[0] != project]

    def _setParent(self, task: Task, data: dict[str, Any]) -> None:
        if "parent" not in data:
            raise ApiError(400, "parent: Missing input")
        parent = None if data["parent"] is None else self.body_task(data["parent"], "parent")
        ancestor = parent
        while ancestor is not None:
            if ancestor == task.gid:
                raise ApiError(400, "parent: A task cannot be its own parent or ancestor")
            ancestor = self.tasks[ancestor].parent
        if task.parent in self.children:
            self.children[task.parent].remove(task.gid)
        if parent is not None:
            self.children.setdefault(parent, []).append(task.gid)
        for family in (task.parent, parent):
            if family is not None and family in self.tasks:
                self.touch(self.tasks[family], task.modified_at)
        task.parent = parent

    def _place(self, task: Task, project: str, section: str | None) -> None:
        """Put the task in `project`, in `section`; without one, a task already there stays in
        its section and a newcomer goes to the project's first (every task sits in a section)."""
        current = next((placed for joined, placed in task.memberships if joined == project), None)
        section = section or current or self.project_sections[project][0]
        if current is None:
            task.projects.append(project)
            task.memberships.append((project, section))
        else:
            task.memberships = [(joined, section if joined == project else placed) for joined, placed in task.memberships]

    # ---- task fields -----------------------------------------------------------

    @staticmethod
    def _check_keys(data: dict[str, Any], *, creating: bool) -> None:
        for key in data:
            if key in CREATE_ONLY:
                if not creating:
                    raise ApiError(400, f"{key}: Cannot write this property on update. {CREATE_ONLY[key]}")
            elif key in READ_ONLY:
                raise ApiError(400, f"{key}: Cannot write this property, it is read-only")
            elif key not in WRITABLE:
                raise ApiError(400, f"{key}: Unknown property")
        if "external" in data:
            raise ApiError(400, "external: Only OAuth apps can write this property; a personal access token cannot")

    def _apply_create_only(self, task: Task, data: dict[str, Any]) -> None:
        if data.get("workspace") is not None and gid_text(data["workspace"]) != self.workspace["gid"]:
            raise ApiError(400, f"workspace: Not a recognized ID: {data['workspace']}")
        projects = data.get("projects") or []
        if not isinstance(projects, list):
            raise ApiError(400, "projects: Must be an array of project GIDs")
        for project in projects:
            self._place(task, self.body_project(project, "projects"), None)
        memberships = data.get("memberships") or []
        if not isinstance(memberships, list):
            raise ApiError(400, "memberships: Must be an array of {project, section} objects")
        for membership in memberships:
            if not isinstance(membership, dict) or membership.get("project") is None:
                raise ApiError(400, "memberships: Each membership needs a project")
            project = self.body_project(membership["project"], "memberships")
            self._place(task, project, self.body_section(membership.get("section"), project, "memberships"))
        tags = data.get("tags") or []
        if not isinstance(tags, list):
            raise ApiError(400, "tags: Must be an array of tag GIDs")
        task.tags = list(dict.fromkeys(self.body_tag(tag, "tags") for tag in tags))
        followers = data.get("followers") or []
        if not isinstance(followers, list):
            raise ApiError(400, "followers: Must be an array of users")
        task.followers = list(dict.fromkeys(self.user(follower, "followers") for follower in followers))
        if data.get("parent") is not None:
            task.parent = self.body_task(data["parent"], "parent")

    def _apply(self, task: Task, data: dict[str, Any]) -> None:
        """The fields writable on create and update, then the rules that span fields."""
        for key in ("name", "notes"):
            if key in data and not isinstance(data[key], str):
                raise ApiError(400, f"{key}: Must be a string")
        if "name" in data:
            task.name = data["name"]
        if "html_notes" in data:
            task.html_notes = check_rich_text(data["html_notes"])
            task.notes = plain_text(task.html_notes)
        elif "notes" in data:
            task.notes = data["notes"]
            task.html_notes = html_from_text(task.notes)
        if "resource_subtype" in data:
            if data["resource_subtype"] not in SUBTYPES:
                raise ApiError(400, f"resource_subtype: Must be one of {', '.join(SUBTYPES)}")
            task.resource_subtype = data["resource_subtype"]
        if task.resource_subtype == "approval":
            task.approval_status = task.approval_status or ("approved" if task.completed else "pending")
        else:
            task.approval_status = None
        for key in ("completed", "liked", "hearted"):
            if key in data and not isinstance(data[key], bool):
                raise ApiError(400, f"{key}: Must be a boolean")
        if "completed" in data:
            self._complete(task, data["completed"])
            if task.resource_subtype == "approval":
                task.approval_status = "approved" if task.completed else "pending"
        if "approval_status" in data:
            self._apply_approval(task, data["approval_status"])
        for key in ("liked", "hearted"):
            if key in data:
                task.liked = data[key]
        apply_dates(task, data)
        self._apply_assignee(task, data)
        if "custom_fields" in data:
            self._apply_custom_fields(task, data["custom_fields"])

    def _complete(self, task: Task, completed: bool) -> None:
        """Completion is stamped with the write's own moment (`modified_at`, set before fields apply)."""
        if completed and not task.completed:
            task.completed_at, task.completed_by = task.modified_at, self.actor
        if not completed:
            task.completed_at = task.completed_by = None
        task.completed = completed

    def _apply_approval(self, task: Task, status: Any) -> None:
        """Asana keeps `approval_status` and `completed` in step: only `pending` is incomplete."""
        if task.resource_subtype != "approval":
            raise ApiError(400, "approval_status: Only approval tasks have an approval status")
        if status not in APPROVAL_STATUSES:
            raise ApiError(400, f"approval_status: Must be one of {', '.join(APPROVAL_STATUSES)}")
        task.approval_status = status
        self._complete(task, status != "pending")

    def _apply_assignee(self, task: Task, data: dict[str, Any]) -> None:
        if "assignee" in data:
            task.assignee = None if data["assignee"] is None else self.user(data["assignee"], "assignee")
            task.assignee_status = None if task.assignee is None else task.assignee_status or "inbox"
        if data.get("assignee_section") is not None:
            raise ApiError(400, f"assignee_section: Not a recognized ID: {data['assignee_section']}")
        if "assignee_status" in data:
            status = data["assignee_status"]
            if status is not None and status not in ASSIGNEE_STATUSES:
                raise ApiError(400, f"assignee_status: Must be one of {', '.join(ASSIGNEE_STATUSES)}")
            if status is not None and task.assignee is None:
                raise ApiError(400, "assignee_status: Can only be set on a task with an assignee")
            task.assignee_status = status

    def _apply_custom_fields(self, task: Task, values: Any) -> None:
        if not isinstance(values, dict):
            raise ApiError(400, "custom_fields: Must be an object keyed by custom field GID")
        enabled = set(self.fields_of(task))
        for gid, value in values.items():
            if gid not in enabled:
                raise ApiError(400, f"custom_fields: Custom field with ID {gid} is not on given object")
            task.custom_values[gid] = custom_value(self.custom_fields[gid], value, self.user)
