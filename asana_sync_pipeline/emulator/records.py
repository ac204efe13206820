"""JSON shapes of the emulator's objects, following Asana's OpenAPI schemas.

Single objects answer in full; list items are compact (`gid`, `resource_type`,
`name`, and `resource_subtype` for tasks). `opt_fields` selects fields: a dotted
entry such as `assignee.email` asks for that field of the nested object too.
"""

from __future__ import annotations

from typing import Any

from .store import AsanaStore, Task

TASK_FULL = (
    "gid", "resource_type", "name", "resource_subtype", "notes", "html_notes", "completed", "completed_at",
    "due_on", "due_at", "start_on", "start_at", "assignee", "approval_status", "liked", "parent", "projects",
    "memberships", "tags", "followers", "workspace", "custom_fields", "created_at", "modified_at", "permalink_url",
)
TASK_COMPACT = ("gid", "resource_type", "name", "resource_subtype")


class OptFields:
    """`opt_fields=a,b.c`: the requested top-level fields and, per field, nested ones."""

    def __init__(self, raw: str | None):
        self.top: set[str] = set()
        self.nested: dict[str, set[str]] = {}
        for entry in (raw or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            head, _, rest = entry.partition(".")
            self.top.add(head)
            if rest:
                self.nested.setdefault(head, set()).add(rest.split(".")[0])

    def __bool__(self) -> bool:
        return bool(self.top)

    def select(self, full: tuple[str, ...], compact: tuple[str, ...], as_list: bool) -> list[str]:
        if self:
            return ["gid", *[name for name in full if name in self.top and name != "gid"]]
        return list(compact if as_list else full)


def user_record(store: AsanaStore, gid: str | None, extra: set[str] | None = None) -> dict[str, Any] | None:
    if gid is None:
        return None
    user = store.users[gid]
    record = {"gid": gid, "resource_type": "user", "name": user["name"]}
    for name in extra or ():
        if name == "email":
            record["email"] = user["email"]
        if name == "workspaces":
            record["workspaces"] = [workspace_record(store)]
    return record


def workspace_record(store: AsanaStore) -> dict[str, Any]:
    return {"gid": store.workspace["gid"], "resource_type": "workspace", "name": store.workspace["name"]}


def project_compact(store: AsanaStore, gid: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": "project", "name": store.projects[gid]["name"]}


def section_compact(store: AsanaStore, gid: str | None) -> dict[str, Any] | None:
    if gid is None:
        return None
    return {"gid": gid, "resource_type": "section", "name": store.sections[gid]["name"]}


def tag_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": "tag", "name": store.tags[gid]["name"]}


def custom_field_record(store: AsanaStore, gid: str) -> dict[str, Any]:
    custom = store.custom_fields[gid]
    record = {
        "gid": gid,
        "resource_type": "custom_field",
        "name": custom["name"],
        "resource_subtype": custom["resource_subtype"],
        "type": custom["resource_subtype"],
    }
    if "enum_options" in custom:
        record["enum_options"] = [
            {"gid": option["gid"], "resource_type": "enum_option", "name": option["name"], "enabled": True, "color": option.get("color", "none")}
            for option in custom["enum_options"]
        ]
    if custom["resource_subtype"] == "number":
        record["precision"] = custom.get("precision", 0)
    return record


def custom_value_record(store: AsanaStore, gid: str, value: Any) -> dict[str, Any]:
    record = custom_field_record(store, gid)
    kind = record["resource_subtype"]
    options = {option["gid"]: option for option in record.get("enum_options", [])}
    display = None
    if kind == "text":
        record["text_value"] = value
        display = value
    elif kind == "number":
        record["number_value"] = value
        display = None if value is None else str(value)
    elif kind == "enum":
        record["enum_value"] = options.get(value)
        display = options[value]["name"] if value in options else None
    elif kind == "multi_enum":
        record["multi_enum_values"] = [options[option] for option in value or []]
        display = ", ".join(options[option]["name"] for option in value or []) or None
    elif kind == "date":
        record["date_value"] = value
        display = None if value is None else (value.get("date") or value.get("date_time"))
    elif kind == "people":
        record["people_value"] = [user_record(store, person) for person in value or []]
        display = ", ".join(store.users[person]["name"] for person in value or []) or None
    record["display_value"] = display
    return record


def task_record(store: AsanaStore, task: Task, opt: OptFields, *, as_list: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in opt.select(TASK_FULL, TASK_COMPACT, as_list):
        nested = opt.nested.get(name, set())
        if name == "resource_type":
            record[name] = "task"
        elif name == "assignee":
            record[name] = user_record(store, task.assignee, nested)
        elif name == "followers":
            record[name] = [user_record(store, user, nested) for user in task.followers]
        elif name == "projects":
            record[name] = [project_compact(store, project) for project in task.projects]
        elif name == "memberships":
            record[name] = [
                {"project": project_compact(store, project), "section": section_compact(store, section)}
                for project, section in task.memberships
            ]
        elif name == "tags":
            record[name] = [tag_record(store, tag) for tag in task.tags]
        elif name == "workspace":
            record[name] = workspace_record(store)
        elif name == "parent":
            parent = store.tasks.get(task.parent) if task.parent else None
            record[name] = None if parent is None else {"gid": parent.gid, "resource_type": "task", "name": parent.name}
        elif name == "custom_fields":
            in_project = store.project_gid in task.projects
            record[name] = (
                [custom_value_record(store, gid, task.custom_values.get(gid)) for gid in store.custom_fields]
                if in_project
                else []
            )
        elif name == "permalink_url":
            record[name] = f"https://app.asana.com/0/{store.project_gid}/{task.gid}"
        else:
            record[name] = getattr(task, name)
    return record


def project_record(store: AsanaStore, gid: str, opt: OptFields) -> dict[str, Any]:
    full = {
        "gid": gid,
        "resource_type": "project",
        "name": store.projects[gid]["name"],
        "workspace": workspace_record(store),
        "archived": False,
        "permalink_url": f"https://app.asana.com/0/{gid}",
        "custom_field_settings": [setting_record(store, gid, field) for field in store.custom_fields]
        if gid == store.project_gid
        else [],
    }
    if not opt:
        return full
    return {name: value for name, value in full.items() if name == "gid" or name in opt.top}


def setting_record(store: AsanaStore, project_gid: str, field_gid: str) -> dict[str, Any]:
    return {
        "gid": f"{field_gid}{project_gid[-4:]}",
        "resource_type": "custom_field_setting",
        "is_important": True,
        "project": project_compact(store, project_gid),
        "custom_field": custom_field_record(store, field_gid),
    }
