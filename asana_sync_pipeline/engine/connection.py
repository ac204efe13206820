"""Test connection: token, project and access, checked before the first write.

Each failure is translated into what the person must do about it; the token
itself never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client import AsanaClient
from .errors import AsanaError, AuthenticationError, ForbiddenError, NotFoundError, SyncConfigError
from .fields import GID_PATTERN


class ConnectionCheckError(AsanaError):
    """The connection test failed; the message says what to fix."""


@dataclass(frozen=True)
class ConnectionInfo:
    user_gid: str
    user_name: str
    project_gid: str
    project_name: str
    workspace_gid: str
    project_url: str | None


def check_project_gid(project_gid: str) -> str:
    """Project GIDs are digits only; anything else is a configuration error, before any request."""
    candidate = (project_gid or "").strip()
    if not GID_PATTERN.match(candidate):
        raise SyncConfigError(
            f"Project GID must contain only digits, got {project_gid!r}. Open the project in Asana and copy "
            "the number after /0/ in its URL (https://app.asana.com/0/<project GID>/list) into ASANA_PROJECT_GID."
        )
    return candidate


async def check_connection(client: AsanaClient, project_gid: str) -> ConnectionInfo:
    """Verify the token (`/users/me`) and the project (`/projects/{gid}`)."""
    project_gid = check_project_gid(project_gid)
    try:
        me = await client.get_me()
    except AuthenticationError:
        raise ConnectionCheckError(
            "Authentication failed: invalid personal access token. Check that ASANA_ACCESS_TOKEN holds a current "
            "token (My Settings > Apps > Manage Developer Apps); tokens stop working when revoked or when their "
            "user leaves the workspace."
        ) from None
    try:
        project = await client.get_project(project_gid)
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
