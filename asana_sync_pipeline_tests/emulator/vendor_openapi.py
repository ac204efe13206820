"""Regenerate `asana_openapi_responses.json` from Asana's official OpenAPI spec.

Run by hand when the spec changes, never by the tests (they read only the vendored file):
    python -m asana_sync_pipeline_tests.emulator.vendor_openapi PATH/TO/asana_oas.yaml

Keeps the success responses of the routes the emulator serves and the component
schemas they reach, verbatim except for `description` and `example` (prose, and
most of the file's size). Errata, each with the spec's own words that justify it,
are listed apart and applied by the validator, so the schemas stay the spec's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

VENDORED = Path(__file__).with_name("asana_openapi_responses.json")
ROUTES = {
    "/users": ["get"],
    "/users/{user_gid}": ["get"],
    "/workspaces": ["get"],
    "/workspaces/{workspace_gid}": ["get"],
    "/workspaces/{workspace_gid}/tags": ["get", "post"],
    "/workspaces/{workspace_gid}/users": ["get"],
    "/tags/{tag_gid}": ["get"],
    "/tags/{tag_gid}/tasks": ["get"],
    "/projects/{project_gid}": ["get"],
    "/projects/{project_gid}/custom_field_settings": ["get"],
    "/projects/{project_gid}/sections": ["get", "post"],
    "/projects/{project_gid}/tasks": ["get"],
    "/sections/{section_gid}": ["get"],
    "/sections/{section_gid}/addTask": ["post"],
    "/sections/{section_gid}/tasks": ["get"],
    "/tasks": ["get", "post"],
    "/tasks/{task_gid}": ["get", "put", "delete"],
    "/tasks/{task_gid}/subtasks": ["get", "post"],
    "/tasks/{task_gid}/stories": ["get", "post"],
    "/tasks/{task_gid}/addTag": ["post"],
    "/tasks/{task_gid}/removeTag": ["post"],
    "/tasks/{task_gid}/addFollowers": ["post"],
    "/tasks/{task_gid}/removeFollowers": ["post"],
    "/tasks/{task_gid}/addProject": ["post"],
    "/tasks/{task_gid}/removeProject": ["post"],
    "/tasks/{task_gid}/setParent": ["post"],
    "/batch": ["post"],
    "/events": ["get"],
}
KEPT_ERRORS = {"GET /events": ("412",)}
"""Error answers with a body of their own (a 412 carries a fresh sync token), kept beside the successes."""
ALWAYS = ("ErrorResponse",)
# With opt_fields, a compact record (a list item, a nested object) may carry any field of the full one.
FULL_FORMS = {
    f"{kind}Compact": f"{kind}Response"
    for kind in ("Task", "User", "Project", "Section", "Tag", "Story", "Workspace", "CustomField", "CustomFieldSetting")
}
ERRATA = [
    {
        "pointer": "/schemas/CustomFieldCompact/properties/date_value/properties/date_time",
        "merge": {"nullable": True},
        "why": "The spec's own description of date_time: 'If no time value is selected, the value of "
        "`date-time` will be `null`.', while its schema omits `nullable`.",
    },
]
PROSE = ("description", "example", "x-insert-after")


def _without_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_prose(value) for key, value in node.items() if key not in PROSE}
    if isinstance(node, list):
        return [_without_prose(value) for value in node]
    return node


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, section, name = node["$ref"].lstrip("#/").split("/")
        node = spec["components"][section][name]
    return node


def vendor(spec: dict[str, Any]) -> dict[str, Any]:
    routes: dict[str, dict[str, Any]] = {}
    for path, methods in ROUTES.items():
        for method in methods:
            operation = spec["paths"][path][method]
            documented = {}
            for status, response in operation["responses"].items():
                if int(status) < 400 or str(status) in KEPT_ERRORS.get(f"{method.upper()} {path}", ()):
                    content = _resolve(spec, response).get("content", {}).get("application/json", {})
                    documented[str(status)] = _without_prose(content.get("schema", {}))
            routes[f"{method.upper()} {path}"] = documented
    schemas = spec["components"]["schemas"]
    wanted, pending = set(), _refs(routes) | set(ALWAYS) | set(FULL_FORMS.values())
    while pending:
        name = pending.pop()
        wanted.add(name)
        pending |= _refs(schemas[name]) - wanted
    return {
        "source": "Asana's official OpenAPI spec, asana_oas.yaml (Asana/openapi, defs/asana_oas.yaml), "
        f"OpenAPI {spec['openapi']}, info.version {spec['info']['version']}, server {spec['servers'][0]['url']}",
        "contents": "Success responses of the routes the emulator serves (errors answer ErrorResponse, but for the "
        "412 of /events, kept as the spec gives it) "
        "and the component schemas they reach, with description/example removed; full_forms maps a compact "
        "schema to the full one whose fields opt_fields may add. Regenerate with "
        "python -m asana_sync_pipeline_tests.emulator.vendor_openapi PATH/TO/asana_oas.yaml",
        "errata": ERRATA,
        "full_forms": FULL_FORMS,
        "routes": routes,
        "schemas": {name: _without_prose(schemas[name]) for name in sorted(wanted)},
    }


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m asana_sync_pipeline_tests.emulator.vendor_openapi PATH/TO/asana_oas.yaml")
    with open(argv[0]) as handle:
        spec = yaml.load(handle, Loader=yaml.CSafeLoader)
    VENDORED.write_text(json.dumps(vendor(spec), indent=1, sort_keys=False) + "\n")
    print(f"wrote {VENDORED}")


if __name__ == "__main__":
    main(sys.argv[1:])
