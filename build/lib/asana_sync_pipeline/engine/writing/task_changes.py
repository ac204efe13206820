"""Changes to fields that Asana sets only at creation, as the actions that make them.

`tags`, `followers`, `projects`, `memberships` and `parent` cannot be sent in a
PUT: an existing task changes them through its own endpoints (addTag,
removeFollowers, addProject, setParent, ...); a new `section` moves the task
there with the section's addTask. `create_only_actions` is a pure
function from the task as Asana holds it and the row's wanted values to the
list of requests that close the gap; nothing is sent for what already agrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CREATE_ONLY_FIELDS = ("tags", "followers", "projects", "memberships", "parent", "section")
ACTION_FIELDS = {
    "addTag": "tags", "removeTag": "tags", "addFollowers": "followers", "removeFollowers": "followers",
    "addProject": "projects", "removeProject": "projects", "setParent": "parent", "addTask": "section",
}  # fmt: skip


@dataclass(frozen=True)
class TaskAction:
    """One POST that changes a task: its API path and its `data`."""

    path: str
    data: dict[str, Any]

    @property
    def field(self) -> str:
        """The field of the row this action serves, for a rejection."""
        return ACTION_FIELDS.get(self.path.rsplit("/", 1)[-1], "")


def opt_fields_for(wanted: dict[str, Any]) -> list[str]:
    """The task fields to read before computing the actions for `wanted`."""
    opt_fields: list[str] = []
    if "tags" in wanted:
        opt_fields.append("tags")
    if "followers" in wanted:
        opt_fields += ["followers", "followers.email"]
    if "projects" in wanted or "memberships" in wanted or "section" in wanted:
        opt_fields += ["projects", "memberships.project", "memberships.section"]
    if "parent" in wanted:
        opt_fields.append("parent")
    return opt_fields


def _entries(canonical: str) -> list[str]:
    return [entry for entry in canonical.split(",") if entry]


def create_only_actions(
    task_gid: str, current: dict[str, Any], wanted: dict[str, Any], *, project_gid: str, me_gid: str
) -> list[TaskAction]:
    """The actions that bring `current` (Asana's task) to the `wanted` canonical values.

    The configured project is never removed from a task; followers named by email
    or `me` match the task's users by email or GID."""
    task = f"/tasks/{task_gid}"
    actions: list[TaskAction] = []
    if "tags" in wanted:
        have = [tag["gid"] for tag in current.get("tags") or []]
        want = _entries(wanted["tags"])
        actions += [TaskAction(f"{task}/addTag", {"tag": tag}) for tag in want if tag not in have]
        actions += [TaskAction(f"{task}/removeTag", {"tag": tag}) for tag in sorted(set(have) - set(want))]
    if "followers" in wanted:
        actions += _follower_actions(task, current.get("followers") or [], wanted["followers"], me_gid)
    if "projects" in wanted or "memberships" in wanted:
        actions += _project_actions(task, current, wanted, project_gid)
    if "parent" in wanted and (current.get("parent") or {}).get("gid") != (wanted["parent"] or None):
        actions.append(TaskAction(f"{task}/setParent", {"parent": wanted["parent"] or None}))
    if "section" in wanted and (project_gid, wanted["section"]) not in _placements(current):
        actions.append(TaskAction(f"/sections/{wanted['section']}/addTask", {"task": task_gid}))
    return actions


def _placements(current: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    return {
        ((membership.get("project") or {}).get("gid"), (membership.get("section") or {}).get("gid"))
        for membership in current.get("memberships") or []
    }


def _follower_actions(task: str, current: list[dict[str, Any]], wanted: str, me_gid: str) -> list[TaskAction]:
    want = [me_gid if follower == "me" else follower for follower in _entries(wanted)]
    want_lower = {follower.lower() for follower in want}
    have_ids = {user["gid"] for user in current} | {(user.get("email") or "").lower() for user in current}
    missing = [follower for follower in want if follower.lower() not in have_ids]
    extra = [
        user["gid"]
        for user in current
        if user["gid"] not in want_lower and (user.get("email") or "").lower() not in want_lower
    ]
    actions = []
    if missing:
        actions.append(TaskAction(f"{task}/addFollowers", {"followers": missing}))
    if extra:
        actions.append(TaskAction(f"{task}/removeFollowers", {"followers": extra}))
    return actions


def _project_actions(task: str, current: dict[str, Any], wanted: dict[str, Any], project_gid: str) -> list[TaskAction]:
    have_projects = [project["gid"] for project in current.get("projects") or []]
    have_sections = _placements(current)
    memberships = json.loads(wanted["memberships"]) if "memberships" in wanted else []
    listed = _entries(wanted["projects"]) if "projects" in wanted else []
    actions = []
    for project in listed:
        if project not in have_projects:
            actions.append(TaskAction(f"{task}/addProject", {"project": project}))
    for membership in memberships:
        section = membership.get("section")
        placed = (membership["project"], section) in have_sections if section else membership["project"] in have_projects
        if not placed:
            actions.append(TaskAction(f"{task}/addProject", membership))
    if "projects" in wanted:
        keep = {project_gid, *listed, *(membership["project"] for membership in memberships)}
        actions += [TaskAction(f"{task}/removeProject", {"project": project}) for project in have_projects if project not in keep]
    return actions
