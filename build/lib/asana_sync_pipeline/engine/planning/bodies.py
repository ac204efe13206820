"""Request bodies: a row's canonical values as the JSON Asana expects for a create or a PUT."""

from __future__ import annotations

from typing import Any

from ..fields.names import api_custom_value
from ..fields.value_rules import CUSTOM_FIELD_PREFIX, TASK_FIELDS, to_api_value

SYNC_KEY = "sync_key"
"""Internal field: the primary key written into the sync-key custom field."""


def api_payload(
    canonical: dict[str, Any],
    *,
    project_gid: str,
    sync_key_field: str | None,
    for_update: bool,
    kinds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body of a create (`for_update=False`) or of a PUT (create-only fields left out).

    Custom field values from `custom_fields.<GID>` columns go into `custom_fields`
    (over the JSON column's entry for the same field); a `section` places a new task
    in that section of the configured project."""
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in canonical.items():
        if name == SYNC_KEY:
            continue
        if name.startswith(CUSTOM_FIELD_PREFIX):
            gid = name[len(CUSTOM_FIELD_PREFIX) :]
            if kinds and gid in kinds:
                custom[gid] = api_custom_value(kinds[gid], value)
            continue
        if not TASK_FIELDS[name].in_body or (for_update and TASK_FIELDS[name].create_only):
            continue
        if name == "parent" and value == "":
            continue
        body[name] = to_api_value(name, value)
    if custom:
        body["custom_fields"] = {**body.get("custom_fields", {}), **custom}
    if sync_key_field and SYNC_KEY in canonical:
        body["custom_fields"] = {**body.get("custom_fields", {}), sync_key_field: canonical[SYNC_KEY]}
    if not for_update:
        section = body.pop("section", None)
        if section is not None:
            others = [entry for entry in body.get("memberships", []) if entry.get("project") != project_gid]
            body["memberships"] = [{"project": project_gid, "section": section}, *others]
        extra_projects = [gid for gid in body.get("projects", []) if gid != project_gid]
        body["projects"] = [project_gid, *extra_projects]
    return body
