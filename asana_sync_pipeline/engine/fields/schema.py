"""The project as Asana describes it: custom fields (types, precision, enum options), sections,
the workspace's tags and users — so that a model can name things the way people do.

`ProjectSchema` answers "which GID is this name?" with exact matches first, then a
unique match ignoring case; anything else comes back as a reason listing up to ten
choices. It is read once per run, paginated, and only the parts the model needs
(`SchemaNeeds`): a model of GIDs costs no read at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..asana.client import AsanaClient
from ..errors import AmbiguousName as Ambiguous
from ..errors import ForbiddenError, NotFoundError, SyncConfigError
from ..errors import NameNotFound as NotFound
from ..settings import GID_PATTERN

MAX_CHOICES = 10
FIELD_OPT_FIELDS = [
    "custom_field.name", "custom_field.resource_subtype", "custom_field.precision", "custom_field.enum_options.name",
    "custom_field.enum_options.enabled", "custom_field.is_formula_field", "custom_field.is_value_read_only",
]  # fmt: skip


def listing(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:MAX_CHOICES])
    return f"{shown}, … ({len(names)} in all)" if len(names) > MAX_CHOICES else shown or "none"


@dataclass(frozen=True)
class Named:
    gid: str
    name: str
    enabled: bool = True


class Catalog:
    """Things with a GID and a name (options, sections, tags): found by GID, exact name, or name
    ignoring case when that is unique."""

    def __init__(self, items: Iterable[Named], what: str):
        self.items = list(items)
        self.what = what
        self._by_gid = {item.gid: item for item in self.items}
        self._by_name: dict[str, list[Named]] = {}
        self._by_folded: dict[str, list[Named]] = {}
        for item in self.items:
            self._by_name.setdefault(item.name, []).append(item)
            self._by_folded.setdefault(item.name.casefold(), []).append(item)

    def names(self, enabled_only: bool = True) -> list[str]:
        return [item.name for item in self.items if item.enabled or not enabled_only]

    def find(self, reference: str) -> Named:
        """The item `reference` names; NotFound (no match), or Ambiguous (two equal names)."""
        text = reference.strip()
        if text in self._by_gid:
            return self._by_gid[text]
        matches = self._by_name.get(text) or self._by_folded.get(text.casefold()) or []
        if len(matches) > 1:
            raise Ambiguous(
                f"{len(matches)} {self.what}s are named {text!r} (up to case): "
                f"{', '.join(f'{item.name!r} ({item.gid})' for item in matches)}; rename one in Asana or use its GID"
            )
        if not matches:
            raise NotFound(f"no {self.what} {text!r}; {self.what}s: {listing(self.names())}")
        return matches[0]


@dataclass(frozen=True)
class CustomField:
    gid: str
    name: str
    subtype: str
    precision: int | None = None
    options: Catalog | None = None
    writable: bool = True

    def describe(self) -> str:
        if self.options is not None:
            return f"{self.name} ({self.subtype}: {listing(self.options.names(enabled_only=False))})"
        extra = f", precision {self.precision}" if self.subtype == "number" and self.precision is not None else ""
        return f"{self.name} ({self.subtype}{extra})"


@dataclass(frozen=True)
class SchemaNeeds:
    """Which parts of the schema the model's values need."""

    custom_fields: bool = False
    sections: bool = False
    tags: bool = False
    users: bool = False
    projects: frozenset[str] = frozenset()
    """Projects the model names (`projects`), by name or GID: each checked to be one the token can see."""

    def __bool__(self) -> bool:
        return self.custom_fields or self.sections or self.tags or self.users or bool(self.projects)

    def __or__(self, other: SchemaNeeds) -> SchemaNeeds:
        custom_fields, sections, tags, users = (a or b for a, b in zip(self.parts(), other.parts()))
        return SchemaNeeds(custom_fields, sections, tags, users, self.projects | other.projects)

    def parts(self) -> tuple[bool, bool, bool, bool]:
        return (self.custom_fields, self.sections, self.tags, self.users)


@dataclass
class ProjectSchema:
    """What was read of the project and its workspace; parts not read are None."""

    project_gid: str
    workspace_gid: str
    me_gid: str | None = None
    fields: dict[str, CustomField] | None = None
    sections: Catalog | None = None
    tags: Catalog | None = None
    users_by_email: dict[str, str] | None = None
    user_gids: set[str] | None = None
    projects: Catalog | None = None
    """Projects the token can see, of those the model names (all of the workspace's when it names one by name)."""
    reads: int = 0
    pending_tags: list[str] = field(default_factory=list)
    pending_sections: list[str] = field(default_factory=list)

    def labels(self) -> dict[str, str]:
        """GID -> what people call it (a user's email, a field's, tag's, section's or option's name), for
        showing values; only what was read."""
        labels = {gid: email for email, gid in (self.users_by_email or {}).items()}
        labels.update({gid: spec.name for gid, spec in (self.fields or {}).items()})
        for catalog in (self.tags, self.sections, self.projects, *(spec.options for spec in (self.fields or {}).values())):
            labels.update({item.gid: item.name for item in (catalog.items if catalog is not None else [])})
        return labels

    def field_named(self, reference: str) -> CustomField:
        """A custom field of the project by GID or name; SyncConfigError otherwise (it names a column)."""
        if self.fields is None:
            raise SyncConfigError("the project's custom fields were not read")
        catalog = Catalog((Named(gid, spec.name) for gid, spec in self.fields.items()), "custom field")
        try:
            return self.fields[catalog.find(reference).gid]
        except Ambiguous as exc:
            raise SyncConfigError(str(exc)) from None
        except NotFound:
            raise SyncConfigError(
                f"the project has no custom field {reference.strip()!r}; its fields: "
                f"{listing(spec.name for spec in self.fields.values())}"
            ) from None

    def user(self, reference: str) -> str:
        """A user GID for `me`, a GID or an email of the workspace; NotFound otherwise."""
        text = reference.strip()
        if text.lower() == "me":
            return self.me_gid or "me"
        if GID_PATTERN.match(text):
            if self.user_gids is not None and text not in self.user_gids:
                raise NotFound(f"no user {text} in the workspace")
            return text
        if self.users_by_email is None:
            return text
        gid = self.users_by_email.get(text.lower())
        if gid is None:
            raise NotFound(f"{text!r} is not the email of a user of the workspace")
        return gid

    def summary(self) -> dict[str, Any]:
        """The resolved schema for the dry run's metadata: field -> type -> options, and counts."""
        return {
            "custom_fields": [spec.describe() for spec in (self.fields or {}).values()],
            "sections": self.sections.names(enabled_only=False) if self.sections else None,
            "tags": len(self.tags.items) if self.tags else None,
            "users": len(self.users_by_email) if self.users_by_email is not None else None,
            "reads": self.reads,
        }


def _custom_field(setting: dict[str, Any]) -> CustomField | None:
    custom = setting.get("custom_field") or {}
    if not custom.get("gid"):
        return None
    options = None
    if custom.get("resource_subtype") in ("enum", "multi_enum"):
        options = Catalog(
            (Named(option["gid"], option.get("name", ""), option.get("enabled", True)) for option in custom.get("enum_options") or []),
            "option",
        )
    return CustomField(
        gid=custom["gid"],
        name=custom.get("name", ""),
        subtype=custom.get("resource_subtype", ""),
        precision=custom.get("precision"),
        options=options,
        writable=not (custom.get("is_formula_field") or custom.get("is_value_read_only")),
    )


async def read_schema(client: AsanaClient, project_gid: str, workspace_gid: str, me_gid: str, needs: SchemaNeeds) -> ProjectSchema:
    """Read, page by page, the parts of the schema in `needs`; counts the reads."""
    schema = ProjectSchema(project_gid=project_gid, workspace_gid=workspace_gid, me_gid=me_gid)
    before = client.requests_sent
    if needs.custom_fields:
        fields = [
            spec
            async for setting in client.paginate(
                f"/projects/{project_gid}/custom_field_settings", {"opt_fields": ",".join(FIELD_OPT_FIELDS)}
            )
            if (spec := _custom_field(setting)) is not None
        ]
        schema.fields = {spec.gid: spec for spec in fields}
    if needs.sections:
        sections = [section async for section in client.paginate(f"/projects/{project_gid}/sections", {"opt_fields": "name"})]
        schema.sections = Catalog((Named(section["gid"], section.get("name", "")) for section in sections), "section")
    if needs.tags:
        tags = [tag async for tag in client.paginate(f"/workspaces/{workspace_gid}/tags", {"opt_fields": "name"})]
        schema.tags = Catalog((Named(tag["gid"], tag.get("name", "")) for tag in tags), "tag")
    if needs.users:
        users = [user async for user in client.paginate("/users", {"workspace": workspace_gid, "opt_fields": "email"})]
        schema.users_by_email = {user["email"].lower(): user["gid"] for user in users if user.get("email")}
        schema.user_gids = {user["gid"] for user in users}
    if needs.projects:
        schema.projects = Catalog(await _visible_projects(client, workspace_gid, needs.projects), "project")
    schema.reads = client.requests_sent - before
    return schema


async def _visible_projects(client: AsanaClient, workspace_gid: str, named: frozenset[str]) -> list[Named]:
    """The projects the token can see among those named: the workspace's, listed once, when one is named by
    name; else each GID read once (a 403 or 404: one the token cannot see)."""
    if any(not GID_PATTERN.match(reference.strip()) for reference in named):
        listed = client.paginate(f"/workspaces/{workspace_gid}/projects", {"opt_fields": "name"})
        return [Named(project["gid"], project.get("name", "")) async for project in listed]
    found = []
    for gid in sorted({reference.strip() for reference in named}):
        try:
            project = await client.request("GET", f"/projects/{gid}", params={"opt_fields": "name"})
        except (ForbiddenError, NotFoundError):
            continue
        found.append(Named(project["gid"], project.get("name", "")))
    return found
