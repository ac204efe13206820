"""Test connection: URL, token, project, access and the sync key field, checked before the first write.

Each failure is translated into what the person must do about it; the token
itself never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import (
    AsanaTransportError,
    AuthenticationError,
    ConnectionCheckError,
    ForbiddenError,
    NotFoundError,
    SyncConfigError,
)
from .client import AsanaClient

AUTHENTICATION_FAILED = (
    "Authentication failed: invalid personal access token. Check that {source} holds a current token "
    "(My Settings > Apps > Manage Developer Apps); tokens stop working when revoked or when their user "
    "leaves the workspace."
)


@dataclass(frozen=True)
class ConnectionInfo:
    user_gid: str
    user_name: str
    project_gid: str
    project_name: str
    workspace_gid: str
    project_url: str | None


def unreachable(client: AsanaClient, exc: AsanaTransportError) -> ConnectionCheckError:
    return ConnectionCheckError(
        f"Cannot reach Asana at {client.base_url}: {exc}. Check ASANA_BASE_URL (Asana's is "
        "https://app.asana.com/api/1.0) and that the server is up and reachable from this machine."
    )


async def check_connection(client: AsanaClient, project_gid: str, *, sync_key_field: str | None = None) -> ConnectionInfo:
    """Verify the token (`/users/me`), the project (`/projects/{gid}`, a GID already checked:
    see `SyncScope`) and, when one is configured, that the sync key field is a text custom
    field of that project. Reads only."""
    token_source = client.settings.token_source
    try:
        me = await client.get_me()
        project = await client.get_project(project_gid)
        if sync_key_field:
            await _check_sync_key_field(client, project_gid, sync_key_field)
    except AsanaTransportError as exc:
        raise unreachable(client, exc) from None
    except AuthenticationError:
        raise ConnectionCheckError(AUTHENTICATION_FAILED.format(source=token_source)) from None
    except NotFoundError:
        raise ConnectionCheckError(
            f"Project not found — verify the project GID ({project_gid}). It must be a project the token's user "
            "can see; if the user was just added to it, wait a few minutes for permissions to propagate."
        ) from None
    except ForbiddenError:
        raise ConnectionCheckError(
            f"Access denied to project {project_gid}: the token's user needs at least comment access. Grant it "
            "in Asana, or use a token of a user who has it."
        ) from None
    return ConnectionInfo(
        user_gid=me["gid"],
        user_name=me.get("name", ""),
        project_gid=project_gid,
        project_name=project.get("name", ""),
        workspace_gid=(project.get("workspace") or {}).get("gid", ""),
        project_url=project.get("permalink_url"),
    )


async def _check_sync_key_field(client: AsanaClient, project_gid: str, sync_key_field: str) -> None:
    fields = {}
    async for setting in client.custom_field_settings(project_gid, ["custom_field.name", "custom_field.resource_subtype"]):
        custom = setting.get("custom_field") or {}
        fields[custom.get("gid")] = custom
    found = fields.get(sync_key_field)
    listed = ", ".join(f"{field.get('name')} ({gid}, {field.get('resource_subtype')})" for gid, field in fields.items())
    if found is None:
        raise SyncConfigError(
            f"sync_key_field {sync_key_field} is not a custom field of project {project_gid}. Add a text custom "
            f"field to the project and give its GID; the project's fields are: {listed or 'none'}"
        )
    if found.get("resource_subtype") != "text":
        raise SyncConfigError(
            f"sync_key_field {sync_key_field} ({found.get('name')}) is a {found.get('resource_subtype')} field; "
            "it must be a text custom field, since it holds each row's primary key"
        )
