"""A task's stories: comments posted through the API, and the system stories Asana
writes itself, its history of the task: `added_to_project` when a task joins a project, and
for each change (`history`) `name_changed`, `notes_changed`, `marked_complete`,
`marked_incomplete`, `assigned`, `unassigned`, `due_date_changed`, `section_changed`,
`removed_from_project`, `added_to_tag`, `removed_from_tag`, `collaborator_added`,
`<type>_custom_field_changed`, `dependency_added`, `dependency_removed`; `attachment_added`.
Each is by the user whose request made the change (`created_by`), at that moment.

A comment is `text` or `html_text` (one of them, not both), authored by the
token's user and stamped when it arrives. Posting is not idempotent: a retry
after a lost answer makes a second comment, as in Asana.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .values import check_rich_text, html_from_text, plain_text

if TYPE_CHECKING:
    from .store import AsanaStore, Task

COMMENT_TAGS = frozenset({"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a", "img", "object"})
WRITABLE = frozenset({"text", "html_text", "is_pinned", "sticker_name"})
TEXT_LIMIT = 65_535


@dataclass
class Story:
    gid: str
    task: str
    created_at: str
    created_by: str
    resource_subtype: str
    text: str
    html_text: str | None = None
    is_pinned: bool = False
    project: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """What the story is about, as GIDs and values (`assignee`, `new_section`, `custom_field`...),
    made into the StoryResponse's fields when answered."""

    @property
    def is_comment(self) -> bool:
        return self.resource_subtype == "comment_added"


def comment_fields(data: Any) -> dict[str, Any]:
    """`text`, `html_text` and `is_pinned` of a new comment; 400 for anything Asana refuses."""
    if not isinstance(data, dict):
        raise ApiError(400, "data: Must be an object")
    for key in data:
        if key not in WRITABLE:
            raise ApiError(400, f"{key}: Unknown property")
    if data.get("sticker_name") is not None:
        raise ApiError(400, "sticker_name: Stickers are not supported by the emulator")
    text, html = data.get("text"), data.get("html_text")
    if text is not None and html is not None:
        raise ApiError(400, "You may only provide one of text or html_text!")
    if html is not None:
        html = check_rich_text(html, "html_text", COMMENT_TAGS)
        text = plain_text(html)
    elif text is not None:
        if not isinstance(text, str):
            raise ApiError(400, "text: Must be a string")
        html = html_from_text(text)
    if not text or not text.strip():
        raise ApiError(400, "text: Missing input" if text is None else "text: A comment cannot be empty")
    if len(text) > TEXT_LIMIT:
        raise ApiError(400, f"text: A comment may hold at most {TEXT_LIMIT} characters")
    pinned = data.get("is_pinned", False)
    if not isinstance(pinned, bool):
        raise ApiError(400, "is_pinned: Must be a boolean")
    return {"text": text, "html_text": html, "is_pinned": pinned}


def history(store: AsanaStore, before: Task, after: Task, new_gid: Callable[[], str]) -> list[Story]:
    """The system stories Asana writes for a change of a task from `before` to `after`."""
    made: list[Story] = []

    def story(subtype: str, text: str, **details: Any) -> None:
        made.append(Story(gid=new_gid(), task=after.gid, created_at=after.modified_at, created_by=store.actor,
                          resource_subtype=subtype, text=text, details=details))

    if before.name != after.name:
        story("name_changed", f'changed the name to "{after.name}"', old_name=before.name, new_name=after.name)
    if before.notes != after.notes:
        story("notes_changed", "changed the description")
    if before.completed != after.completed:
        story(*(("marked_complete", "marked this task complete") if after.completed else ("marked_incomplete", "marked incomplete")))
    if before.assignee != after.assignee:
        if after.assignee is None:
            story("unassigned", f"unassigned from {store.users[before.assignee]['name']}" if before.assignee else "unassigned")
        else:
            story("assigned", f"assigned to {store.users[after.assignee]['name']}", assignee=after.assignee)
    dates = ("start_on", "due_at", "due_on")
    if any(getattr(before, name) != getattr(after, name) for name in dates):
        story("due_date_changed", f"changed the due date to {after.due_on}" if after.due_on else "removed the due date",
              old_dates={name: getattr(before, name) for name in dates}, new_dates={name: getattr(after, name) for name in dates})
    old_sections = dict(before.memberships)
    for project, section in after.memberships:
        if project in old_sections and old_sections[project] != section:
            story("section_changed", f'moved this task from "{store.sections[old_sections[project]]["name"]}" to '
                                     f'"{store.sections[section]["name"]}" in {store.projects[project]["name"]}',
                  old_section=old_sections[project], new_section=section, project=project)
    for project in before.projects:
        if project not in after.projects:
            story("removed_from_project", f"removed from {store.projects[project]['name']}", project=project)
    for tag in after.tags:
        if tag not in before.tags:
            story("added_to_tag", f"added to {store.tags[tag]['name']}", tag=tag)
    for tag in before.tags:
        if tag not in after.tags:
            story("removed_from_tag", f"removed from {store.tags[tag]['name']}", tag=tag)
    for user in after.followers:
        if user not in before.followers:
            story("collaborator_added", f"added {store.users[user]['name']} as a collaborator", follower=user)
    for gid in {**before.custom_values, **after.custom_values}:
        if before.custom_values.get(gid) != after.custom_values.get(gid):
            kind = store.custom_fields[gid]["resource_subtype"]
            story(f"{kind}_custom_field_changed", f"changed {store.custom_fields[gid]['name']}", custom_field=gid,
                  old_value=before.custom_values.get(gid), new_value=after.custom_values.get(gid))
    for gid in after.dependencies:
        if gid not in before.dependencies:
            story("dependency_added", f"marked this task as dependent on {store.tasks[gid].name}", dependency=gid)
    for gid in before.dependencies:
        if gid not in after.dependencies:
            story("dependency_removed", f"removed the dependency on {store.tasks[gid].name}", dependency=gid)
    return made
