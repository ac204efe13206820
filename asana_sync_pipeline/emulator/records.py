"""JSON shapes of the emulator's objects, following Asana's OpenAPI schemas.

Single objects answer in full (a task as the full TaskResponse); list items are
compact (`gid`, `resource_type`, `name`, and `resource_subtype` for tasks).
`opt_fields` replaces the default with `gid` plus the named fields; a dotted
entry such as `assignee.email` names the top-level field (`assignee`) and asks
for that extra field of the nested object where it is not in the compact form.
"""

from __future__ import annotations

from typing import Any, Callable

from .store import AsanaStore, Task

APP_URL = "https://app.asana.com/0"
TASK_COMPACT = ("gid", "resource_type", "name", "resource_subtype")


class OptFields:
    """`opt_fields=a,b.c`: the requested top-level fields and, per field, nested ones."""

    __slots__ = ("top", "nested")

    def __init__(self, raw: str | None):
        self.top: set[str] = set()
        self.nested: dict[str, set[str]] = {}
        for entry in (raw or "").split(","):
            head, _, rest = entry.strip().partition(".")
            if head:
                self.top.add(head)
                if rest:
                    self.nested.setdefault(head, set()).add(rest.split(".")[0])

    def __bool__(self) -> bool:
        return bool(self.top)

    def pick(self, full: dict[str, Any], compact: tuple[str, ...], as_list: bool) -> dict[str, Any]:
        """`full` cut to what was asked: the opt_fields, else the compact or full form."""
        if self:
            return {name: value for name, value in full.items() if name == "gid" or name in self.top}
        if as_list:
            return {name: full[name] for name in compact if name in full}
        return full


NO_FIELDS = OptFields(None)


def user_record(store: AsanaStore, gid: str | None, extra: set[str] = frozenset()) -> dict[str, Any] | None:
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
    return {**section_compact(store, gid), "project": project_compact(store, section["project"]), "created_at": None}


def tag_compact(store: AsanaStore, gid: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": "tag", "name": store.tags[gid]["name"]}


def tag_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    tag = store.tags[gid]
    return {
        **tag_compact(store, gid),
        "color": tag.get("color"),
        "notes": tag.get("notes", ""),
        "followers": [],
        "workspace": workspace_compact(store),
        "permalink_url": f"{APP_URL}/{gid}/list",
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
        record["enum_options"] = [
            {
                "gid": option["gid"],
                "resource_type": "enum_option",
                "name": option["name"],
                "enabled": option.get("enabled", True),
                "color": option.get("color", "none"),
            }
            for option in custom["enum_options"]
        ]
    if kind == "number":
        record["precision"] = custom.get("precision", 0)
    return record


def _number_display(value: int | float, precision: int) -> str:
    return f"{value:.{precision}f}"


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
        "permalink_url": f"{APP_URL}/{gid}",
        "workspace": workspace_compact(store),
    }


def _parent(store: AsanaStore, task: Task, nested: set[str]) -> dict[str, Any] | None:
    parent = store.tasks.get(task.parent) if task.parent else None
    if parent is None:
        return None
    return {"gid": parent.gid, "resource_type": "task", "name": parent.name, "resource_subtype": parent.resource_subtype}


def _custom_fields(store: AsanaStore, task: Task, nested: set[str]) -> list[dict[str, Any]]:
    return [custom_value_record(store, gid, task.custom_values.get(gid)) for gid in store.fields_of(task)]


def _memberships(store: AsanaStore, task: Task, nested: set[str]) -> list[dict[str, Any]]:
    return [
        {"project": project_compact(store, project), "section": section_compact(store, section)}
        for project, section in task.memberships
    ]


TASK_FIELDS: dict[str, Callable[[AsanaStore, Task, set[str]], Any]] = {
    "gid": lambda store, task, nested: task.gid,
    "resource_type": lambda store, task, nested: "task",
    "name": lambda store, task, nested: task.name,
    "resource_subtype": lambda store, task, nested: task.resource_subtype,
    "created_by": lambda store, task, nested: {"gid": task.created_by, "resource_type": "user"},
    "approval_status": lambda store, task, nested: task.approval_status,
    "assignee_status": lambda store, task, nested: task.assignee_status,
    "completed": lambda store, task, nested: task.completed,
    "completed_at": lambda store, task, nested: task.completed_at,
    "completed_by": lambda store, task, nested: user_record(store, task.completed_by, nested),
    "created_at": lambda store, task, nested: task.created_at,
    "dependencies": lambda store, task, nested: [],
    "dependents": lambda store, task, nested: [],
    "due_at": lambda store, task, nested: task.due_at,
    "due_on": lambda store, task, nested: task.due_on,
    "html_notes": lambda store, task, nested: task.html_notes,
    "hearted": lambda store, task, nested: task.liked,
    "hearts": lambda store, task, nested: [],
    "is_rendered_as_separator": lambda store, task, nested: False,
    "liked": lambda store, task, nested: task.liked,
    "likes": lambda store, task, nested: [],
    "memberships": _memberships,
    "modified_at": lambda store, task, nested: task.modified_at,
    "notes": lambda store, task, nested: task.notes,
    "num_hearts": lambda store, task, nested: int(task.liked),
    "num_likes": lambda store, task, nested: int(task.liked),
    "num_subtasks": lambda store, task, nested: len(store.children.get(task.gid, ())),
    "start_at": lambda store, task, nested: task.start_at,
    "start_on": lambda store, task, nested: task.start_on,
    "actual_time_minutes": lambda store, task, nested: None,
    "assignee": lambda store, task, nested: user_record(store, task.assignee, nested),
    "assignee_section": lambda store, task, nested: None,
    "custom_fields": _custom_fields,
    "custom_type": lambda store, task, nested: None,
    "custom_type_status_option": lambda store, task, nested: None,
    "followers": lambda store, task, nested: [user_record(store, user, nested) for user in task.followers],
    "parent": _parent,
    "projects": lambda store, task, nested: [project_compact(store, project) for project in task.projects],
    "tags": lambda store, task, nested: [tag_compact(store, tag) for tag in task.tags],
    "workspace": lambda store, task, nested: workspace_compact(store),
    "permalink_url": lambda store, task, nested: f"{APP_URL}/{task.projects[0] if task.projects else 0}/{task.gid}",
}


def task_record(store: AsanaStore, task: Task, opt: OptFields, *, as_list: bool = False) -> dict[str, Any]:
    """Only the fields asked for are computed: listings of thousands of tasks stay cheap."""
    if opt:
        names = ["gid", *(name for name in TASK_FIELDS if name in opt.top and name != "gid")]
    else:
        names = TASK_COMPACT if as_list else TASK_FIELDS
    return {name: TASK_FIELDS[name](store, task, opt.nested.get(name, set())) for name in names}
