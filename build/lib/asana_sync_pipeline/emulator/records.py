"""JSON shapes of the emulator's objects, following Asana's OpenAPI schemas.

Single objects answer in full (a task as the full TaskResponse); list items are
compact (`gid`, `resource_type`, `name`, and `resource_subtype` for tasks).
`opt_fields` replaces the default with `gid` plus the named fields. A dotted
entry, at any depth (`custom_field.enum_options.name`, `memberships.section.name`),
names a top-level field and asks for fields of the objects nested in it: each
nested object keeps its own form and gains the fields asked for, taken from the
full record of that object.
Fields that Asana documents as conditional and that do not apply (a default
task's `approval_status`, an unassigned task's `assignee_status`) are left out
rather than answered null, which the spec does not allow for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from .store import AsanaStore, Task
from .stories import Story
from .templates import Job
from .values import html_from_text

TASK_COMPACT = ("gid", "resource_type", "name", "resource_subtype")
ATTACHMENT_COMPACT = ("gid", "resource_type", "name", "resource_subtype")
CUSTOM_FIELD_COMPACT = (
    "gid", "resource_type", "name", "type", "enum_options", "enabled", "is_formula_field", "date_value", "enum_value",
    "multi_enum_values", "number_value", "text_value", "display_value",
)  # fmt: skip
STORY_COMPACT = ("gid", "resource_type", "created_at", "created_by", "resource_subtype", "text")
OMIT = object()
FieldTree = dict[str, "FieldTree"]


class OptFields:
    """`opt_fields=a,b.c.d`: the requested fields as a tree (`{"a": {}, "b": {"c": {"d": {}}}}`)."""

    __slots__ = ("tree",)

    def __init__(self, raw: str | None):
        self.tree: FieldTree = {}
        for entry in (raw or "").split(","):
            node = self.tree
            for part in entry.strip().split("."):
                if not part:
                    break
                node = node.setdefault(part, {})

    @property
    def top(self) -> set[str]:
        return set(self.tree)

    def __bool__(self) -> bool:
        return bool(self.tree)


NO_FIELDS = OptFields(None)


def pick(store: AsanaStore, opt: OptFields, full: dict[str, Any], compact: tuple[str, ...], as_list: bool) -> dict[str, Any]:
    """`full` cut to what was asked: the opt_fields (nested ones expanded), else the compact or full form."""
    if opt:
        return {
            name: expand(store, value, opt.tree.get(name, {}))
            for name, value in full.items()
            if name == "gid" or name in opt.tree
        }
    if as_list:
        return {name: full[name] for name in compact if name in full}
    return full


def expand(store: AsanaStore, value: Any, tree: FieldTree) -> Any:
    """`value` with the nested fields of `tree` added: a nested object gains those it lacks from
    its full record, lists are expanded item by item, plain values are left alone."""
    if not tree:
        return value
    if isinstance(value, list):
        return [expand(store, item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    value = dict(value)
    full: dict[str, Any] | None = None
    for name, subtree in tree.items():
        if name not in value:
            if full is None:
                full = full_record(store, value)
            if name not in full:
                continue
            value[name] = full[name]
        value[name] = expand(store, value[name], subtree)
    return value


def full_record(store: AsanaStore, nested: dict[str, Any]) -> dict[str, Any]:
    """The full record of a nested object, found by its `resource_type` and `gid` ({} if unknown)."""
    kind, gid = nested.get("resource_type"), nested.get("gid")
    if kind == "user" and gid in store.users:
        return user_record(store, gid, {"email", "photo", "workspaces"}) or {}
    if kind == "project" and gid in store.projects:
        return project_record(store, gid)
    if kind == "section" and gid in store.sections:
        return section_record(store, gid)
    if kind == "tag" and gid in store.tags:
        return tag_record(store, str(gid))
    if kind == "workspace":
        return workspace_record(store)
    if kind == "custom_field" and gid in store.custom_fields:
        return custom_field_record(store, str(gid))
    if kind == "task" and gid in store.tasks:
        return task_record(store, store.tasks[gid], NO_FIELDS)
    if kind == "enum_option":
        for custom in store.custom_fields.values():
            for option in custom.get("enum_options", []):
                if option["gid"] == gid:
                    return enum_option_record(option)
    return {}


def user_record(
    store: AsanaStore, gid: str | None, extra: set[str] | frozenset[str] | dict[str, Any] = frozenset()
) -> dict[str, Any] | None:
    if gid is None:
        return None
    user = store.users[gid]
    record = {"gid": gid, "resource_type": "user", "name": user["name"]}
    if "email" in extra:
        record["email"] = user["email"]
    if "photo" in extra:
        record["photo"] = None
    if "workspaces" in extra:
        record["workspaces"] = [workspace_compact(store)]
    return record


def workspace_compact(store: AsanaStore) -> dict[str, Any]:
    return {"gid": store.workspace["gid"], "resource_type": "workspace", "name": store.workspace["name"]}


def workspace_record(store: AsanaStore) -> dict[str, Any]:
    email = next(iter(store.users.values()))["email"]
    return {
        **workspace_compact(store),
        "email_domains": store.workspace.get("email_domains", [email.partition("@")[2]]),
        "is_organization": store.workspace.get("is_organization", True),
    }


def project_compact(store: AsanaStore, gid: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": "project", "name": store.projects[gid]["name"]}


def section_compact(store: AsanaStore, gid: str | None) -> dict[str, Any] | None:
    if gid is None:
        return None
    return {"gid": gid, "resource_type": "section", "name": store.sections[gid]["name"]}


def section_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    section = store.sections[gid]
    project = project_compact(store, section["project"])
    return {**(section_compact(store, gid) or {}), "created_at": section["created_at"], "project": project, "projects": [project]}


def tag_compact(store: AsanaStore, gid: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": "tag", "name": store.tags[gid]["name"]}


def tag_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    tag = store.tags[gid]
    return {
        **tag_compact(store, gid),
        "color": tag.get("color"),
        "notes": tag.get("notes", ""),
        "created_at": tag["created_at"],
        "followers": [user_record(store, user) for user in tag.get("followers", [])],
        "workspace": workspace_compact(store),
        "permalink_url": f"{store.app_url}/{gid}/list",
    }


def custom_field_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    custom = store.custom_fields[gid]
    kind = custom["resource_subtype"]
    record: dict[str, Any] = {
        "gid": gid,
        "resource_type": "custom_field",
        "name": custom["name"],
        "resource_subtype": kind,
        "type": kind,
        "enabled": True,
        "is_formula_field": False,
        "is_value_read_only": False,
    }
    if "enum_options" in custom:
        record["enum_options"] = [enum_option_record(option) for option in custom["enum_options"]]
    if kind == "number":
        record["precision"] = custom.get("precision", 0)
    return record


def enum_option_record(option: dict[str, Any]) -> dict[str, Any]:
    return {
        "gid": option["gid"],
        "resource_type": "enum_option",
        "name": option["name"],
        "enabled": option.get("enabled", True),
        "color": option.get("color", "none"),
    }


def _number_display(value: int | float, precision: int) -> str:
    """The value at the field's precision, from its exact digits (an int wider than a float stays exact)."""
    return f"{Decimal(str(value)):.{precision}f}"


def custom_value_record(store: AsanaStore, gid: str, value: Any) -> dict[str, Any]:
    """A custom field as it appears on a task: the field plus its value and `display_value`."""
    record = custom_field_record(store, gid)
    kind = record["resource_subtype"]
    options = {option["gid"]: option for option in record.get("enum_options", [])}
    display = None
    if kind == "text":
        record["text_value"] = value
        display = value
    elif kind == "number":
        record["number_value"] = value
        display = None if value is None else _number_display(value, record["precision"])
    elif kind == "enum":
        record["enum_value"] = options.get(value)
        display = options[value]["name"] if value in options else None
    elif kind == "multi_enum":
        record["multi_enum_values"] = [options[option] for option in value or []]
        display = ", ".join(options[option]["name"] for option in value or []) or None
    elif kind == "date":
        record["date_value"] = value
        display = None if value is None else (value["date_time"] or value["date"])
    elif kind == "people":
        record["people_value"] = [user_record(store, person) for person in value or []]
        display = ", ".join(store.users[person]["name"] for person in value or []) or None
    record["display_value"] = display
    return record


def setting_record(store: AsanaStore, project_gid: str, field_gid: str) -> dict[str, Any]:
    project = project_compact(store, project_gid)
    return {
        "gid": f"{field_gid}{project_gid[-4:]}",
        "resource_type": "custom_field_setting",
        "is_important": True,
        "project": project,
        "parent": project,
        "custom_field": custom_field_record(store, field_gid),
    }


def project_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    project = store.projects[gid]
    return {
        **project_compact(store, gid),
        "archived": False,
        "color": project.get("color", "light-green"),
        "completed": False,
        "completed_at": None,
        "current_status": None,
        "custom_field_settings": [setting_record(store, gid, field) for field in store.project_fields[gid]],
        "default_view": "list",
        "due_on": None,
        "start_on": None,
        "notes": project.get("notes", ""),
        "html_notes": project.get("html_notes", "<body></body>"),
        "members": [user_record(store, store.me)],
        "owner": user_record(store, store.me),
        "public": True,
        "permalink_url": f"{store.app_url}/{gid}",
        "workspace": workspace_compact(store),
    }


def _parent(store: AsanaStore, task: Task) -> dict[str, Any] | None:
    parent = store.tasks.get(task.parent) if task.parent else None
    if parent is None:
        return None
    return {"gid": parent.gid, "resource_type": "task", "name": parent.name, "resource_subtype": parent.resource_subtype}


def _custom_fields(store: AsanaStore, task: Task) -> list[dict[str, Any]]:
    return [custom_value_record(store, gid, task.custom_values.get(gid)) for gid in store.fields_of(task)]


def _memberships(store: AsanaStore, task: Task) -> list[dict[str, Any]]:
    return [
        {"project": project_compact(store, project), "section": section_compact(store, section)}
        for project, section in task.memberships
    ]


def _unless_none(value: Any) -> Any:
    return OMIT if value is None else value


TASK_FIELDS: dict[str, Callable[[AsanaStore, Task], Any]] = {
    "gid": lambda store, task: task.gid,
    "resource_type": lambda store, task: "task",
    "name": lambda store, task: task.name,
    "resource_subtype": lambda store, task: task.resource_subtype,
    "created_by": lambda store, task: {"gid": task.created_by, "resource_type": "user"},
    "approval_status": lambda store, task: _unless_none(task.approval_status),
    "assignee_status": lambda store, task: _unless_none(task.assignee_status),
    "completed": lambda store, task: task.completed,
    "completed_at": lambda store, task: task.completed_at,
    "completed_by": lambda store, task: user_record(store, task.completed_by),
    "created_at": lambda store, task: task.created_at,
    "dependencies": lambda store, task: [{"gid": gid, "resource_type": "task"} for gid in store.live(task.dependencies)],
    "dependents": lambda store, task: [{"gid": gid, "resource_type": "task"} for gid in store.live(task.dependents)],
    "due_at": lambda store, task: task.due_at,
    "due_on": lambda store, task: task.due_on,
    "html_notes": lambda store, task: task.html_notes,
    "hearted": lambda store, task: task.liked,
    "hearts": lambda store, task: [],
    "is_rendered_as_separator": lambda store, task: False,
    "liked": lambda store, task: task.liked,
    "likes": lambda store, task: [],
    "memberships": _memberships,
    "modified_at": lambda store, task: task.modified_at,
    "notes": lambda store, task: task.notes,
    "num_hearts": lambda store, task: int(task.liked),
    "num_likes": lambda store, task: int(task.liked),
    "num_subtasks": lambda store, task: len(store.children.get(task.gid, ())),
    "start_at": lambda store, task: task.start_at,
    "start_on": lambda store, task: task.start_on,
    "actual_time_minutes": lambda store, task: None,
    "assignee": lambda store, task: user_record(store, task.assignee),
    "assignee_section": lambda store, task: None,
    "custom_fields": _custom_fields,
    "custom_type": lambda store, task: None,
    "custom_type_status_option": lambda store, task: None,
    "followers": lambda store, task: [user_record(store, user) for user in task.followers],
    "parent": _parent,
    "projects": lambda store, task: [project_compact(store, project) for project in task.projects],
    "tags": lambda store, task: [tag_compact(store, tag) for tag in task.tags],
    "workspace": lambda store, task: workspace_compact(store),
    "permalink_url": lambda store, task: f"{store.app_url}/{task.projects[0] if task.projects else 0}/{task.gid}",
}


def task_record(store: AsanaStore, task: Task, opt: OptFields, *, as_list: bool = False) -> dict[str, Any]:
    """Only the fields asked for are computed: listings of thousands of tasks stay cheap."""
    names: Iterable[str]
    if opt:
        names = ["gid", *(name for name in TASK_FIELDS if name in opt.tree and name != "gid")]
    else:
        names = TASK_COMPACT if as_list else TASK_FIELDS
    record = {}
    for name in names:
        value = TASK_FIELDS[name](store, task)
        if value is not OMIT:
            record[name] = expand(store, value, opt.tree.get(name, {}))
    return record


def story_record(store: AsanaStore, story: Story, opt: OptFields, *, as_list: bool = False) -> dict[str, Any]:
    """A story: the compact form in lists, the full StoryResponse otherwise (see `pick`)."""
    task = store.tasks[story.task]
    full: dict[str, Any] = {
        "gid": story.gid,
        "resource_type": "story",
        "created_at": story.created_at,
        "created_by": user_record(store, story.created_by),
        "resource_subtype": story.resource_subtype,
        "text": story.text,
        "type": "comment" if story.is_comment else "system",
        "source": "api",
        "target": {"gid": task.gid, "resource_type": "task", "name": task.name, "resource_subtype": task.resource_subtype},
    }
    if story.is_comment:
        full.update(html_text=story.html_text, is_pinned=story.is_pinned, is_edited=False, is_editable=True,
                    hearted=False, hearts=[], num_hearts=0, liked=False, likes=[], num_likes=0)
    if story.project is not None:
        full["project"] = project_compact(store, story.project)
    full.update(_story_details(store, story.details))
    return pick(store, opt, full, STORY_COMPACT, as_list)


def _story_details(store: AsanaStore, details: dict[str, Any]) -> dict[str, Any]:
    """A system story's particulars as the StoryResponse's fields (GIDs made records)."""
    shown: dict[str, Any] = {}
    for key in ("old_name", "new_name"):
        if key in details:
            shown[key] = details[key]
    for key in ("old_dates", "new_dates"):
        if key in details:  # the spec's StoryResponseDates has no null due_on: a date taken away is left out
            shown[key] = {name: value for name, value in details[key].items() if value is not None or name != "due_on"}
    for key in ("assignee", "follower"):
        if key in details:
            shown[key] = user_record(store, details[key])
    for key in ("old_section", "new_section"):
        if details.get(key) in store.sections:
            shown[key] = section_compact(store, details[key])
    if details.get("project") in store.projects:
        shown["project"] = project_compact(store, details["project"])
    if details.get("tag") in store.tags:
        shown["tag"] = tag_compact(store, details["tag"])
    if details.get("dependency") in store.tasks:
        shown["dependency"] = task_compact(store.tasks[details["dependency"]])
    if "custom_field" in details:
        shown.update(_custom_field_change(store, details["custom_field"], details["old_value"], details["new_value"]))
    return shown


def _custom_field_change(store: AsanaStore, gid: str, old: Any, new: Any) -> dict[str, Any]:
    """`custom_field` and the `old_…`/`new_…` values of a custom field story, as the spec types them."""
    custom = custom_field_record(store, gid)
    shown: dict[str, Any] = {"custom_field": {key: custom[key] for key in ("gid", "resource_type", "name", "type") if key in custom}}
    options = {option["gid"]: option for option in custom.get("enum_options", [])}
    kind = custom["resource_subtype"]
    for prefix, value in (("old", old), ("new", new)):
        if kind == "text" and value is not None:
            shown[f"{prefix}_text_value"] = value
        elif kind == "number" and isinstance(value, int):
            shown[f"{prefix}_number_value"] = value
        elif kind == "enum" and value in options:
            shown[f"{prefix}_enum_value"] = options[value]
        elif kind == "multi_enum":
            shown[f"{prefix}_multi_enum_values"] = [options[option] for option in value or []]
        elif kind == "people":
            shown[f"{prefix}_people_value"] = [user_record(store, person) for person in value or []]
        elif kind == "date" and value is not None:
            shown[f"{prefix}_date_value"] = {"due_on": value["date"], "due_at": value["date_time"], "start_on": None}
    return shown


def task_compact(task: Task) -> dict[str, Any]:
    return {"gid": task.gid, "resource_type": "task", "name": task.name, "resource_subtype": task.resource_subtype}


def attachment_record(store: AsanaStore, attachment: dict[str, Any], opt: OptFields, *, as_list: bool = False) -> dict[str, Any]:
    """An external attachment (a link): Asana shows the link as `view_url`; there is no file to download."""
    parent = store.tasks[attachment["parent"]]
    full = {
        "gid": attachment["gid"],
        "resource_type": "attachment",
        "name": attachment["name"],
        "resource_subtype": "external",
        "created_at": attachment["created_at"],
        "download_url": None,
        "permanent_url": None,
        "host": "external",
        "parent": task_compact(parent),
        "view_url": attachment["url"],
        "connected_to_app": False,
    }
    return pick(store, opt, full, ATTACHMENT_COMPACT, as_list)


def task_template_record(store: AsanaStore, template: dict[str, Any], opt: OptFields, *, as_list: bool = False) -> dict[str, Any]:
    """A task template: what a task made from it gets (`template`: the recipe), and its project."""
    project = project_compact(store, template["project"])
    recipe = {
        "name": template["name"],
        "task_resource_subtype": "default_task",
        "description": template["notes"],
        "html_description": html_from_text(template["notes"]),
        "memberships": [project],
        "relative_start_on": None,
        "relative_due_on": template["due_on_offset_days"],
        "due_time": None,
        "dependencies": [],
        "dependents": [],
        "followers": [],
        "attachments": [],
        "subtasks": [{"name": subtask["name"], "task_resource_subtype": "default_task"} for subtask in template["subtasks"]],
        "custom_fields": [
            {key: field[key] for key in CUSTOM_FIELD_COMPACT if key in field}
            for field in (custom_value_record(store, gid, value) for gid, value in template["values"].items())
        ],
    }
    full = {
        "gid": template["gid"],
        "resource_type": "task_template",
        "name": template["name"],
        "project": project,
        "template": recipe,
        "created_by": user_record(store, store.me),
        "created_at": store.templates.created_at,
    }
    return pick(store, opt, full, ("gid", "resource_type", "name"), as_list)


def job_record(store: AsanaStore, job: Job, opt: OptFields) -> dict[str, Any]:
    """A template instantiation job; `new_task` once the task exists (null before, and if it failed)."""
    task = None
    if job.new_task is not None:
        task = store.tasks.get(job.new_task) or store.trash[job.new_task][0]
    full = {
        "gid": job.gid,
        "resource_type": "job",
        "resource_subtype": "instantiate_task",
        "status": job.status,
        "new_task": None if task is None else task_compact(task),
        "new_project": None,
        "new_project_template": None,
    }
    return pick(store, opt, full, (), False)
