"""The workspace an emulator starts with: the `--fixture` JSON, read and checked.

The format is public (docs/emulator.md, "The fixture"); it only grows. Keys:
  workspace            {gid, name, is_organization?, email_domains?}
  users, me            users {gid, name, email, token?}; `me` is the user of `--token` (default:
                       the first); a user's own `token` makes requests act as that user
  tags                 [{gid, name, color?, notes?}]
  custom_fields        the workspace's fields {gid, name, resource_subtype, precision?,
                       enum_options?: [{gid, name, color?, enabled?}]}
  project              the default project {gid, name, custom_fields?, sections?}; without
                       `custom_fields` every workspace field is enabled on it (as before)
  sections             sections of the default project [{gid, name}]
  other_projects       more projects {gid, name, custom_fields?, sections?}
  projects             more projects, the same shape (without `project`, the first is the default)
  forbidden_projects   GIDs the token's user may not see (403)
  events_token_ttl_seconds  how long a sync token of the events API stays valid (default: always)
  task_templates       [{gid, name, project, notes?, subtasks?: [{name}], custom_fields?: {field
                       GID: value}, assignee?, due_on_offset_days?}] (see `templates`)
  job_seconds          how long a template instantiation job takes (default 0.2 s)
A project without sections gets one, "Untitled section", as every Asana project has
one. Anything malformed is a `FixtureError` naming the key, never a KeyError later (and
never quoting a token).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CUSTOM_FIELD_TYPES = ("text", "number", "enum", "multi_enum", "date", "people")
TEMPLATE_KEYS = frozenset({"gid", "name", "project", "notes", "subtasks", "custom_fields", "assignee", "due_on_offset_days"})
DEFAULT_SECTION_NAME = "Untitled section"


class FixtureError(ValueError):
    """A fixture that cannot describe a workspace; the message names the file or key at fault."""


@dataclass
class ProjectFixture:
    gid: str
    name: str
    custom_fields: list[str]
    sections: list[dict[str, str]]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fixture:
    """A checked fixture; `projects` holds the default project first."""

    workspace: dict[str, Any]
    users: list[dict[str, Any]]
    me: str
    tags: list[dict[str, Any]]
    custom_fields: list[dict[str, Any]]
    projects: list[ProjectFixture]
    forbidden_projects: set[str]
    events_token_ttl_seconds: float | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    """Each user's own token (kept out of the user records): token → user GID."""
    task_templates: list[dict[str, Any]] = field(default_factory=list)
    job_seconds: float | None = None

    @property
    def default_project(self) -> ProjectFixture:
        return self.projects[0]


def read_fixture_file(path: str | Path) -> dict[str, Any]:
    """The JSON object in `path`; a `FixtureError` for a missing, unreadable or invalid file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FixtureError(f"fixture {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"fixture {path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FixtureError(f"fixture {path}: not valid JSON ({exc})") from None


def _gid(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    raise FixtureError(f"fixture: {where} must be a numeric GID, got {value!r}")


def _object(value: Any, where: str, required: tuple[str, ...] = ("gid", "name")) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FixtureError(f"fixture: {where} must be an object")
    for key in required:
        if key not in value:
            raise FixtureError(f"fixture: {where} needs a {key!r}")
    checked = dict(value)
    if "gid" in checked:
        checked["gid"] = _gid(checked["gid"], f"{where}.gid")
    for key in required:
        if key != "gid" and not isinstance(checked[key], str):
            raise FixtureError(f"fixture: {where}.{key} must be a string")
    return checked


def _list(raw: dict[str, Any], key: str, where: str | None = None) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise FixtureError(f"fixture: {where or key} must be a list")
    return value


def _custom_field(value: Any, where: str) -> dict[str, Any]:
    custom = _object(value, where, ("gid", "name", "resource_subtype"))
    if custom["resource_subtype"] not in CUSTOM_FIELD_TYPES:
        raise FixtureError(f"fixture: {where}.resource_subtype must be one of {', '.join(CUSTOM_FIELD_TYPES)}")
    if custom["resource_subtype"] in ("enum", "multi_enum"):
        listed = _list(custom, "enum_options", f"{where}.enum_options")
        options = [_object(option, f"{where}.enum_options[{n}]") for n, option in enumerate(listed)]
        for n, option in enumerate(options):
            if not isinstance(option.get("enabled", True), bool):
                raise FixtureError(f"fixture: {where}.enum_options[{n}].enabled must be true or false")
        custom["enum_options"] = options
    precision = custom.get("precision", 0)
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 6:
        raise FixtureError(f"fixture: {where}.precision must be an integer from 0 to 6")
    return custom


def _project(value: Any, where: str, known_fields: list[str], strict_fields: bool) -> ProjectFixture:
    project = _object(value, where)
    fields = project.pop("custom_fields", None)
    if fields is None:
        enabled: list[str] = []
    elif not isinstance(fields, list):
        raise FixtureError(f"fixture: {where}.custom_fields must be a list of custom field GIDs")
    else:
        enabled = []
        for n, gid in enumerate(fields):
            gid = _gid(gid, f"{where}.custom_fields[{n}]")
            if gid in known_fields:
                enabled.append(gid)
            elif strict_fields:
                raise FixtureError(f"fixture: {where}.custom_fields[{n}] is {gid}, not a custom field of the workspace")
    sections = [_object(section, f"{where}.sections[{n}]") for n, section in enumerate(_list(project, "sections", f"{where}.sections"))]
    project.pop("sections", None)
    gid, name = project.pop("gid"), project.pop("name")
    return ProjectFixture(gid, name, list(dict.fromkeys(enabled)), sections, project)


def _unique(items: Iterator[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for gid, where in items:
        if gid in seen:
            raise FixtureError(f"fixture: GID {gid} is used twice ({seen[gid]} and {where})")
        seen[gid] = where


def parse_fixture(raw: Any, project_gid: str | None = None) -> Fixture:
    """A checked `Fixture`; `project_gid` replaces the default project's GID (`--project-gid`)."""
    if not isinstance(raw, dict):
        raise FixtureError("fixture: must be a JSON object")
    workspace = _object(raw.get("workspace"), "workspace")
    users = [_object(user, f"users[{n}]", ("gid", "name", "email")) for n, user in enumerate(_list(raw, "users"))]
    if not users:
        raise FixtureError("fixture: users must list at least one user (the token's)")
    tokens = _user_tokens(users)
    me = _gid(raw.get("me", users[0]["gid"]), "me")
    if me not in {user["gid"] for user in users}:
        raise FixtureError(f"fixture: me is {me}, not one of the users")
    tags = [_object(tag, f"tags[{n}]") for n, tag in enumerate(_list(raw, "tags"))]
    custom_fields = [_custom_field(custom, f"custom_fields[{n}]") for n, custom in enumerate(_list(raw, "custom_fields"))]
    field_gids = [custom["gid"] for custom in custom_fields]
    projects = _projects(raw, field_gids)
    renamed = {}
    if project_gid is not None:
        renamed[projects[0].gid] = projects[0].gid = _gid(project_gid, "the project GID")
    gids = [
        *((user["gid"], "a user") for user in users),
        *((tag["gid"], "a tag") for tag in tags),
        *((custom["gid"], "a custom field") for custom in custom_fields),
        *((option["gid"], "an enum option") for custom in custom_fields for option in custom.get("enum_options", [])),
        *((project.gid, "a project") for project in projects),
        *((section["gid"], "a section") for project in projects for section in project.sections),
    ]
    forbidden = {_gid(gid, f"forbidden_projects[{n}]") for n, gid in enumerate(_list(raw, "forbidden_projects"))}
    ttl = _seconds(raw, "events_token_ttl_seconds", positive=True)
    templates = [_task_template(template, f"task_templates[{n}]", projects, renamed)
                 for n, template in enumerate(_list(raw, "task_templates"))]
    _unique((gid, where) for gid, where in [*gids, *((template["gid"], "a task template") for template in templates)])
    return Fixture(workspace, users, me, tags, custom_fields, projects, forbidden, ttl, tokens, templates,
                   _seconds(raw, "job_seconds", positive=False))


def _seconds(raw: dict[str, Any], key: str, *, positive: bool) -> float | None:
    value = raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (positive and value == 0)):
        raise FixtureError(f"fixture: {key} must be a {'positive' if positive else 'non-negative'} number of seconds, got {value!r}")
    return value


def _user_tokens(users: list[dict[str, Any]]) -> dict[str, str]:
    """token → user GID; the tokens leave the user records so that no answer can carry one."""
    tokens: dict[str, str] = {}
    for n, user in enumerate(users):
        token = user.pop("token", None)
        if token is None:
            continue
        if not isinstance(token, str) or not token or any(character.isspace() for character in token):
            raise FixtureError(f"fixture: users[{n}].token must be a non-empty string without whitespace")
        if token in tokens:
            raise FixtureError(f"fixture: users[{n}].token is the token of another user too")
        tokens[token] = user["gid"]
    return tokens


def _task_template(value: Any, where: str, projects: list[ProjectFixture], renamed: dict[str, str]) -> dict[str, Any]:
    """A template as the fixture gives it; its values are checked against the fields when the store is built.
    A template of the default project follows it when `--project-gid` renames it (`renamed`)."""
    template = _object(value, where)
    unknown = sorted(set(template) - TEMPLATE_KEYS)
    if unknown:
        raise FixtureError(f"fixture: {where} has unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(TEMPLATE_KEYS))})")
    if "project" not in template:
        raise FixtureError(f"fixture: {where} needs a 'project' (the GID of the project it belongs to)")
    template["project"] = _gid(template["project"], f"{where}.project")
    template["project"] = renamed.get(template["project"], template["project"])
    if template["project"] not in {project.gid for project in projects}:
        raise FixtureError(f"fixture: {where}.project is {template['project']}, not a project of the fixture")
    if not isinstance(template.setdefault("notes", ""), str):
        raise FixtureError(f"fixture: {where}.notes must be a string")
    subtasks = _list(template, "subtasks", f"{where}.subtasks")
    for n, subtask in enumerate(subtasks):
        if not isinstance(subtask, dict) or not isinstance(subtask.get("name"), str) or set(subtask) - {"name"}:
            raise FixtureError(f"fixture: {where}.subtasks[{n}] must be {{\"name\": <string>}}")
    template["subtasks"] = [dict(subtask) for subtask in subtasks]
    if not isinstance(template.setdefault("custom_fields", {}), dict):
        raise FixtureError(f"fixture: {where}.custom_fields must be an object keyed by custom field GID")
    offset = template.setdefault("due_on_offset_days", None)
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
        raise FixtureError(f"fixture: {where}.due_on_offset_days must be a whole number of days, 0 or more")
    template.setdefault("assignee", None)
    return template


def _projects(raw: dict[str, Any], field_gids: list[str]) -> list[ProjectFixture]:
    projects: list[ProjectFixture] = []
    if raw.get("project") is not None:
        default = _project(raw["project"], "project", field_gids, strict_fields=True)
        if "custom_fields" not in raw["project"]:
            default.custom_fields = list(field_gids)
        projects.append(default)
    top_sections = [_object(section, f"sections[{n}]") for n, section in enumerate(_list(raw, "sections"))]
    for n, other in enumerate(_list(raw, "other_projects")):
        projects.append(_project(other, f"other_projects[{n}]", field_gids, strict_fields=False))
    for n, listed in enumerate(_list(raw, "projects")):
        projects.append(_project(listed, f"projects[{n}]", field_gids, strict_fields=True))
    if not projects:
        raise FixtureError("fixture: needs a project (the default one) or a non-empty projects list")
    projects[0].sections = top_sections + projects[0].sections
    return projects


def add_default_sections(projects: list[ProjectFixture], new_gid: Callable[[], str]) -> None:
    """Give each project without a section Asana's first one, "Untitled section"."""
    for project in projects:
        if not project.sections:
            project.sections.append({"gid": new_gid(), "name": DEFAULT_SECTION_NAME})
