"""The emulator's in-memory Asana: workspace, users, tags, project, custom fields, tasks,
and the validation rules Asana applies to task writes.

Independent of the sync's own field rules on purpose (its rich-text check uses
the standard library's XML parser, not lxml), so that a test passing against
the emulator is evidence, not an echo of the client's assumptions.
"""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import resources
from itertools import count
from typing import Any

CREATE_ONLY = {
    "projects": "use addProject / removeProject",
    "tags": "use addTag / removeTag",
    "followers": "use addFollowers / removeFollowers",
    "memberships": "use addProject with a section",
    "parent": "use setParent",
    "workspace": "a task cannot change workspace",
}
WRITABLE = {
    "name", "notes", "html_notes", "due_on", "due_at", "start_on", "start_at", "completed", "assignee",
    "custom_fields", "resource_subtype", "approval_status", "liked", "assignee_section", *CREATE_ONLY,
}
SUBTYPES = {"default_task", "milestone", "approval"}
APPROVAL_STATUSES = {"pending", "approved", "rejected", "changes_requested"}
RICH_TEXT_TAGS = {"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a", "h1", "h2", "hr", "img", "object"}
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GID_PATTERN = re.compile(r"^\d+$")
TEXT_LIMIT = 1024


class ApiError(Exception):
    """An error answer in Asana's shape: status and `errors[].message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_fixture() -> dict[str, Any]:
    text = resources.files("asana_sync_pipeline.emulator").joinpath("default_fixture.json").read_text()
    return json.loads(text)


def _check_date(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        raise ApiError(400, f"{field_name}: Must be a date in the format YYYY-MM-DD, got {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{field_name}: {value} is not a valid date") from None
    return value


def _check_datetime(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or "T" not in value:
        raise ApiError(400, f"{field_name}: Must be an ISO 8601 date-time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{field_name}: Must be an ISO 8601 date-time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_rich_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, "html_notes: Must be a string")
    try:
        root = ElementTree.fromstring(value)
    except ElementTree.ParseError as exc:
        raise ApiError(400, f"html_notes: XML is invalid ({exc})") from None
    if root.tag != "body":
        raise ApiError(400, "html_notes: The root element must be <body>")
    for element in root.iter():
        if element.tag not in RICH_TEXT_TAGS:
            raise ApiError(400, f"html_notes: Tag <{element.tag}> is not supported")
        if element.attrib and element.tag not in {"a", "img", "object"}:
            raise ApiError(400, f"html_notes: Tag <{element.tag}> may not have attributes")
    return value


def plain_text(html: str) -> str:
    return "".join(ElementTree.fromstring(html).itertext())


@dataclass
class Task:
    gid: str
    workspace: str
    created_at: str
    modified_at: str
    name: str = ""
    notes: str = ""
    html_notes: str = "<body></body>"
    resource_subtype: str = "default_task"
    completed: bool = False
    completed_at: str | None = None
    due_on: str | None = None
    due_at: str | None = None
    start_on: str | None = None
    start_at: str | None = None
    assignee: str | None = None
    approval_status: str | None = None
    liked: bool = False
    parent: str | None = None
    projects: list[str] = field(default_factory=list)
    memberships: list[tuple[str, str | None]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    followers: list[str] = field(default_factory=list)
    custom_values: dict[str, Any] = field(default_factory=dict)


class AsanaStore:
    """Everything the emulator knows; every public method is safe across threads."""

    def __init__(self, fixture: dict[str, Any] | None = None, project_gid: str | None = None):
        fixture = fixture or default_fixture()
        self.lock = threading.RLock()
        self.workspace = fixture["workspace"]
        self.users = {user["gid"]: user for user in fixture["users"]}
        self.me = fixture.get("me") or next(iter(self.users))
        self.tags = {tag["gid"]: tag for tag in fixture["tags"]}
        self.custom_fields = {custom["gid"]: custom for custom in fixture["custom_fields"]}
        project = dict(fixture["project"])
        if project_gid:
            project["gid"] = project_gid
        self.project_gid = project["gid"]
        self.projects = {project["gid"]: project}
        for other in fixture.get("other_projects", []):
            self.projects[other["gid"]] = other
        self.forbidden_projects = set(fixture.get("forbidden_projects", []))
        self.sections = {section["gid"]: {**section, "project": self.project_gid} for section in fixture.get("sections", [])}
        self.tasks: dict[str, Task] = {}
        self._gids = count(1210000000000001)

    # ---- look-ups ------------------------------------------------------------

    def user(self, reference: Any, field_name: str) -> str:
        """A user GID for `me`, a GID or an email of a workspace member; 400 otherwise."""
        if reference == "me":
            return self.me
        if isinstance(reference, str):
            if reference in self.users:
                return reference
            for user in self.users.values():
                if user["email"].lower() == reference.lower():
                    return user["gid"]
        raise ApiError(400, f"{field_name}: Not a recognized ID or email of a user in this workspace: {reference!r}")

    def project(self, gid: str) -> dict[str, Any]:
        if gid in self.forbidden_projects:
            raise ApiError(403, f"project: You do not have access to project {gid}")
        if gid not in self.projects:
            raise ApiError(404, f"project: Not a recognized ID: {gid}")
        return self.projects[gid]

    def task(self, gid: str) -> Task:
        if not GID_PATTERN.match(gid):
            raise ApiError(400, f"task: Not a valid ID: {gid}")
        if gid not in self.tasks:
            raise ApiError(404, f"task: Not a recognized ID: {gid}")
        return self.tasks[gid]

    # ---- writes --------------------------------------------------------------

    def create_task(self, data: Any) -> Task:
        data = self._require_object(data)
        with self.lock:
            if not any(data.get(key) for key in ("workspace", "parent", "projects", "memberships")):
                raise ApiError(400, "You should specify one of workspace, parent, projects")
            stamp = now_text()
            task = Task(gid=str(next(self._gids)), workspace=self.workspace["gid"], created_at=stamp, modified_at=stamp)
            self._apply(task, data, creating=True)
            self.tasks[task.gid] = task
            return task

    def update_task(self, gid: str, data: Any) -> Task:
        data = self._require_object(data)
        with self.lock:
            task = self.task(gid)
            for key in data:
                if key in CREATE_ONLY:
                    raise ApiError(400, f"{key}: Cannot write this property on update; {CREATE_ONLY[key]}")
            trial = Task(**{**task.__dict__, "custom_values": dict(task.custom_values)})
            self._apply(trial, data, creating=False)
            trial.modified_at = now_text()
            self.tasks[gid] = trial
            return trial

    def delete_task(self, gid: str) -> None:
        with self.lock:
            self.task(gid)
            del self.tasks[gid]

    def task_action(self, gid: str, action: str, data: Any) -> Task:
        data = self._require_object(data)
        with self.lock:
            task = self.task(gid)
            if action in ("addTag", "removeTag"):
                tag = data.get("tag")
                if tag not in self.tags:
                    raise ApiError(400, f"tag: Not a recognized ID: {tag}")
                if action == "addTag" and tag not in task.tags:
                    task.tags.append(tag)
                if action == "removeTag" and tag in task.tags:
                    task.tags.remove(tag)
            elif action in ("addFollowers", "removeFollowers"):
                followers = data.get("followers")
                if not isinstance(followers, list):
                    raise ApiError(400, "followers: Must be an array of users")
                gids = [self.user(follower, "followers") for follower in followers]
                if action == "addFollowers":
                    task.followers += [user for user in gids if user not in task.followers]
                else:
                    task.followers = [user for user in task.followers if user not in gids]
            elif action in ("addProject", "removeProject"):
                project = str(data.get("project"))
                self.project(project)
                if action == "addProject":
                    self._place(task, project, data.get("section"), "section")
                else:
                    task.projects = [p for p in task.projects if p != project]
                    task.memberships = [m for m in task.memberships if m[0] != project]
            elif action == "setParent":
                if "parent" not in data:
                    raise ApiError(400, "parent: Missing input")
                parent = data["parent"]
                if parent is not None:
                    self.task(str(parent))
                task.parent = parent
            else:
                raise ApiError(404, f"No matching route for request: POST /tasks/{gid}/{action}")
            task.modified_at = now_text()
            return task

    @staticmethod
    def _require_object(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError(400, "data: Missing input; the request body must be {\"data\": {...}}")
        return data

    def _apply(self, task: Task, data: dict[str, Any], *, creating: bool) -> None:
        for key in data:
            if key not in WRITABLE:
                raise ApiError(400, f"{key}: Unknown property")
        if data.get("due_on") is not None and data.get("due_at") is not None:
            raise ApiError(400, "You may only provide one of due_on or due_at!")
        if data.get("start_on") is not None and data.get("start_at") is not None:
            raise ApiError(400, "You may only provide one of start_on or start_at!")
        for key in ("name", "notes"):
            if key in data:
                if not isinstance(data[key], str):
                    raise ApiError(400, f"{key}: Must be a string")
                setattr(task, key, data[key])
                if key == "notes":
                    task.html_notes = "<body>" + _escape(data[key]) + "</body>"
        if "html_notes" in data:
            task.html_notes = check_rich_text(data["html_notes"])
            task.notes = plain_text(task.html_notes)
        if "resource_subtype" in data:
            if data["resource_subtype"] not in SUBTYPES:
                raise ApiError(400, f"resource_subtype: Must be one of {', '.join(sorted(SUBTYPES))}")
            task.resource_subtype = data["resource_subtype"]
        for key in ("completed", "liked"):
            if key in data:
                if not isinstance(data[key], bool):
                    raise ApiError(400, f"{key}: Must be a boolean")
                setattr(task, key, data[key])
        if "completed" in data:
            task.completed_at = now_text() if task.completed else None
        for key in ("due_on", "start_on"):
            if key in data:
                setattr(task, key, None if data[key] is None else _check_date(key, data[key]))
        for key in ("due_at", "start_at"):
            if key in data:
                setattr(task, key, None if data[key] is None else _check_datetime(key, data[key]))
        if data.get("due_on") is not None:
            task.due_at = None
        if data.get("due_at") is not None:
            task.due_on = task.due_at[:10]
        if "assignee" in data:
            task.assignee = None if data["assignee"] is None else self.user(data["assignee"], "assignee")
        if "approval_status" in data:
            if task.resource_subtype != "approval":
                raise ApiError(400, "approval_status: Only approval tasks have an approval status")
            if data["approval_status"] not in APPROVAL_STATUSES:
                raise ApiError(400, f"approval_status: Must be one of {', '.join(sorted(APPROVAL_STATUSES))}")
            task.approval_status = data["approval_status"]
        if creating:
            self._apply_create_only(task, data)
        if task.start_on and not (task.due_on or task.due_at):
            raise ApiError(400, "start_on: A start date requires a due date")
        if task.start_on and task.due_on and task.start_on > task.due_on:
            raise ApiError(400, "start_on: The start date must be on or before the due date")
        if task.resource_subtype == "milestone" and (task.start_on or task.start_at):
            raise ApiError(400, "start_on: Milestones cannot have a start date")
        if "custom_fields" in data:
            self._apply_custom_fields(task, data["custom_fields"])

    def _apply_create_only(self, task: Task, data: dict[str, Any]) -> None:
        if "workspace" in data and data["workspace"] != self.workspace["gid"]:
            raise ApiError(400, f"workspace: Not a recognized ID: {data['workspace']}")
        projects = data.get("projects") or []
        if not isinstance(projects, list):
            raise ApiError(400, "projects: Must be an array of project GIDs")
        for project in projects:
            self.project(str(project))
        task.projects = [str(project) for project in projects]
        task.memberships = [(project, None) for project in task.projects]
        for membership in data.get("memberships") or []:
            if not isinstance(membership, dict) or "project" not in membership:
                raise ApiError(400, "memberships: Each membership needs a project")
            self.project(str(membership["project"]))
            self._place(task, str(membership["project"]), membership.get("section"), "memberships")
        tags = data.get("tags") or []
        if not isinstance(tags, list):
            raise ApiError(400, "tags: Must be an array of tag GIDs")
        for tag in tags:
            if tag not in self.tags:
                raise ApiError(400, f"tags: Not a recognized ID: {tag}")
        task.tags = list(dict.fromkeys(tags))
        followers = data.get("followers") or []
        task.followers = list(dict.fromkeys(self.user(follower, "followers") for follower in followers))
        if data.get("parent") is not None:
            self.task(str(data["parent"]))
            task.parent = str(data["parent"])

    def _place(self, task: Task, project: str, section: str | None, field_name: str) -> None:
        """Put the task in `project` (and `section`, if given), replacing its place there."""
        if section is not None and section not in self.sections:
            raise ApiError(400, f"{field_name}: Not a recognized section ID: {section}")
        if project not in task.projects:
            task.projects.append(project)
        task.memberships = [m for m in task.memberships if m[0] != project] + [(project, section)]

    def _apply_custom_fields(self, task: Task, values: Any) -> None:
        if not isinstance(values, dict):
            raise ApiError(400, "custom_fields: Must be an object keyed by custom field GID")
        if self.project_gid not in task.projects:
            raise ApiError(400, "custom_fields: The task is not in a project with custom fields")
        for gid, value in values.items():
            custom = self.custom_fields.get(gid)
            if custom is None:
                raise ApiError(400, f"custom_fields: Custom field with ID {gid} is not on given object")
            task.custom_values[gid] = None if value is None else self._custom_value(custom, value)

    def _custom_value(self, custom: dict[str, Any], value: Any) -> Any:
        kind, gid = custom["resource_subtype"], custom["gid"]
        options = {option["gid"] for option in custom.get("enum_options", [])}
        if kind == "text":
            if not isinstance(value, str) or len(value) > TEXT_LIMIT:
                raise ApiError(400, f"custom_fields: Value for {gid} must be a string of at most {TEXT_LIMIT} characters")
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ApiError(400, f"custom_fields: Value for {gid} must be a number")
            try:
                return float(value) if not isinstance(value, int) else value
            except ValueError:
                raise ApiError(400, f"custom_fields: Value for {gid} must be a number") from None
        if kind == "enum":
            if value not in options:
                raise ApiError(400, f"custom_fields: {value!r} is not an enum option of {gid}")
            return value
        if kind == "multi_enum":
            if not isinstance(value, list) or any(option not in options for option in value):
                raise ApiError(400, f"custom_fields: Value for {gid} must be an array of its enum option GIDs")
            return list(dict.fromkeys(value))
        if kind == "date":
            if isinstance(value, dict):
                if value.get("date_time"):
                    return {"date": None, "date_time": _check_datetime("custom_fields", value["date_time"])}
                value = value.get("date")
            return {"date": _check_date("custom_fields", value), "date_time": None}
        if kind == "people":
            if not isinstance(value, list):
                raise ApiError(400, f"custom_fields: Value for {gid} must be an array of users")
            return list(dict.fromkeys(self.user(person, "custom_fields") for person in value))
        raise ApiError(400, f"custom_fields: Unsupported custom field type {kind}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
