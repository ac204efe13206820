"""The routes outside Asana's API, under /_emulator/: counters and controls for tests and
benchmarks, and the pages Asana's links (`permalink_url`) point at.

None of them takes a token, so none of them answers Asana data to a request without one:
the app pages (`/_emulator/app/0/...`, the local stand-in for Asana's web app) answer the
task, project or tag as JSON only to a request with a token the API accepts, and to any
other request the same small sign-in page, whatever the GID (it does not even tell whether
the object exists), as Asana's app shows its sign-in page to a browser without a session.
`TOKEN_FREE_ROUTES` lists them; `--help` and docs/emulator.md list the same.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .auth import Tokens
from .errors import ApiError, error_body
from .records import NO_FIELDS, project_record, tag_record, task_record
from .stats import Stats
from .store import AsanaStore

TOKEN_FREE_ROUTES = (
    ("GET", "/_emulator/stats", "request counts by method and status, write requests, batch actions, 429s from the "
                                "limits, faults by kind, peak reads and writes in flight, tasks held"),
    ("POST", "/_emulator/reset_stats", "zero the counters (tasks are kept)"),
    ("GET", "/_emulator/health", '{"ok": true, "tasks": N}'),
    ("POST", "/_emulator/expire_sync_tokens", "expire every sync token of the events API issued so far"),
    ("POST", "/_emulator/undelete/{task}", "restore a deleted task from the trash, as a person can in Asana's app"),
    ("GET", "/_emulator/app/0/{project}", "a project's page (its permalink_url); its JSON only with a token"),
    ("GET", "/_emulator/app/0/{project}/{task}", "a task's page (its permalink_url); its JSON only with a token"),
    ("GET", "/_emulator/app/0/{tag}/list", "a tag's page (its permalink_url); its JSON only with a token"),
)
SIGN_IN_PAGE = (
    "<!doctype html><html><head><title>Asana emulator</title></head><body><p>Sign in to see this page: "
    "the Asana emulator shows a task, project or tag only to a request that carries an API token "
    "(<code>Authorization: Bearer &lt;token&gt;</code>).</p></body></html>"
)


def token_free_help() -> str:
    """The routes outside the API as `--help` lists them."""
    return "\n".join(f"  {method} {path}: {what}" for method, path, what in TOKEN_FREE_ROUTES)


def outside_routes(store: AsanaStore, stats: Stats, tokens: Tokens) -> list[Route]:
    """The routes of `TOKEN_FREE_ROUTES`."""

    async def stats_endpoint(request: Request) -> Response:
        return JSONResponse({**stats.snapshot(), "tasks": len(store.tasks)})

    async def reset_stats(request: Request) -> Response:
        stats.reset()
        return JSONResponse({"reset": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "tasks": len(store.tasks)})

    async def expire_sync_tokens(request: Request) -> Response:
        return JSONResponse({"expired": store.events.expire_tokens()})

    async def undelete(request: Request) -> Response:
        """A person restoring a task from Asana's trash (the API has no such call)."""
        try:
            task = store.undelete_task(request.path_params["gid"])
        except ApiError as exc:
            return Response(error_body(exc.message), status_code=exc.status, media_type="application/json")
        return JSONResponse({"undeleted": task.gid})

    async def app_page(request: Request) -> Response:
        """What a `permalink_url` shows: to a request with a token, the object as the API gives it to
        that token's user (Asana's app itself is not emulated); to any other, the sign-in page."""
        user = tokens.user_for(request.headers.get("authorization", "").encode("latin-1"))
        if user is None:
            return HTMLResponse(SIGN_IN_PAGE)
        parts = request.path_params["rest"].strip("/").split("/")
        with store.lock, store.acting_as(user):
            record = _page_record(store, parts)
        if record is None:
            message = f"No matching route for request: GET {request.url.path}"
            return Response(error_body(message), status_code=404, media_type="application/json")
        return JSONResponse({"data": record})

    return [
        Route("/_emulator/app/{rest:path}", app_page, methods=["GET"]),
        Route("/_emulator/stats", stats_endpoint, methods=["GET"]),
        Route("/_emulator/reset_stats", reset_stats, methods=["POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/expire_sync_tokens", expire_sync_tokens, methods=["POST"]),
        Route("/_emulator/undelete/{gid}", undelete, methods=["POST"]),
    ]


def _page_record(store: AsanaStore, parts: list[str]) -> dict[str, Any] | None:
    """The object an app address names: `0/{project}`, `0/{project or 0}/{task}`, `0/{tag}/list`."""
    if len(parts) < 2 or parts[0] != "0":
        return None
    if len(parts) == 2 and parts[1] in store.projects and parts[1] not in store.forbidden_projects:
        return project_record(store, parts[1])
    if len(parts) == 3 and parts[2] == "list":
        if parts[1] in store.tags:
            return tag_record(store, parts[1])
        return None
    if len(parts) == 3 and parts[2] in store.tasks:
        return task_record(store, store.tasks[parts[2]], NO_FIELDS)
    return None
