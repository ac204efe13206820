"""The task template a sync makes new tasks from (`task_template`): a template of the project, by name
or GID, read once per run (one listing of the project's templates, with what the dry run shows of it).
A name or GID that is no template of the project is a configuration error naming its templates."""

from __future__ import annotations

from dataclasses import dataclass

from ..asana.client import AsanaClient
from ..errors import AsanaAPIError, SyncConfigError
from .schema import Ambiguous, Catalog, Named, NotFound, listing

TEMPLATE_FIELDS = "name,template.description,template.subtasks.name"


@dataclass(frozen=True)
class TemplateRef:
    """A task template of the project, as read once per run: what new tasks are made from."""

    gid: str
    name: str
    subtasks: int = 0
    description: str = ""


async def read_template(client: AsanaClient, project_gid: str, project_name: str, reference: str) -> TemplateRef:
    """The project's template `reference` names (its GID, its name, or its name ignoring case when that is unique)."""
    listed = [template async for template in client.paginate("/task_templates", {"project": project_gid, "opt_fields": TEMPLATE_FIELDS})]
    catalog = Catalog((Named(template["gid"], template.get("name", "")) for template in listed), "task template")
    try:
        found = catalog.find(reference)
    except Ambiguous as exc:
        raise SyncConfigError(f"task_template: {exc}") from None
    except NotFound:
        raise SyncConfigError(
            f"task_template {reference!r} is not a task template of project {project_name!r} ({project_gid})"
            f"{await _elsewhere(client, reference)}; its templates: {listing(catalog.names())}"
        ) from None
    template = next(template for template in listed if template["gid"] == found.gid)
    recipe = template.get("template") or {}
    return TemplateRef(found.gid, found.name, len(recipe.get("subtasks") or []), str(recipe.get("description") or "")[:200])


async def _elsewhere(client: AsanaClient, reference: str) -> str:
    """Where a template given by GID lives, when it is another project's (one more read, only then)."""
    if not reference.strip().isdigit():
        return ""
    try:
        template = await client.request("GET", f"/task_templates/{reference.strip()}", params={"opt_fields": "name,project.name"})
    except AsanaAPIError:
        return ""
    project = template.get("project") or {}
    return f": {template.get('name')!r} belongs to project {project.get('name')!r} ({project.get('gid')})"
