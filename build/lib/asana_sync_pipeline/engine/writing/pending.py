"""Tags and sections a sync may create (`create_missing_tags`, `create_missing_sections`):
each created once, before any task is written, never twice.

Names are looked up again just before creating (another run may have made one
since planning). A create whose answer is lost is not sent again blindly: the
list is read again and the name looked for first, as for tasks.
"""

from __future__ import annotations

from typing import Any

from ..asana.client import AsanaClient
from ..errors import AsanaError, AsanaTransportError, ServerError
from ..log import Log
from ..planning import Plan
from .context import RunContext

ATTEMPTS = 4


async def create_pending(run: RunContext, plan: Plan, *, workspace_gid: str) -> dict[str, dict[str, str]]:
    """`{"tags": {name: gid}, "section": {name: gid}}` for the plan's pending names."""
    created: dict[str, dict[str, str]] = {}
    if plan.pending.get("tags"):
        created["tags"] = await _ensure(
            run.client, plan.pending["tags"], f"/workspaces/{workspace_gid}/tags", "tag", run.log
        )
    if plan.pending.get("section"):
        created["section"] = await _ensure(
            run.client, plan.pending["section"], f"/projects/{run.project_gid}/sections", "section", run.log
        )
    return created


async def _names(client: AsanaClient, path: str) -> dict[str, str]:
    found: dict[str, str] = {}
    async for item in client.paginate(path, {"opt_fields": "name"}):
        found.setdefault(item.get("name", "").casefold(), item["gid"])
    return found


async def _ensure(client: AsanaClient, names: list[str], path: str, what: str, log: Log) -> dict[str, str]:
    existing = await _names(client, path)
    gids: dict[str, str] = {}
    for name in names:
        for _ in range(ATTEMPTS):
            if name.casefold() in existing:
                gids[name] = existing[name.casefold()]
                break
            try:
                made: dict[str, Any] = await client.request("POST", path, data={"name": name}, idempotent=False)
            except AsanaError as exc:
                unclear = isinstance(exc, ServerError) or (isinstance(exc, AsanaTransportError) and exc.maybe_processed)
                if not unclear:
                    raise
                existing = await _names(client, path)
                continue
            gids[name] = existing[name.casefold()] = made["gid"]
            log(f"Created the {what} {name!r} ({made['gid']})")
            break
        else:
            raise AsanaTransportError(f"creating the {what} {name!r} got no clear answer {ATTEMPTS} times", maybe_processed=False)
    return gids
