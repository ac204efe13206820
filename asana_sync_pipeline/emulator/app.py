"""The emulator's routes: Asana's REST API under /api/1.0 (Starlette), plus /_emulator/*.

Bodies are wrapped in `{"data": ...}` both ways; errors are
`{"errors": [{"message", "help"}]}` with Asana's status codes; lists paginate
with `limit` (1-100) and an opaque `offset`, answering `next_page` or null.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .limits import Gate, Limits, Stats, error_body
from .records import OptFields, project_record, setting_record, tag_record, task_record, user_record, workspace_record
from .store import ApiError, AsanaStore

API = "/api/1.0"
UNBOUNDED_LIST_CAP = 1000


def _ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data}, status_code=status)


def _error(exc: ApiError) -> Response:
    return Response(error_body(exc.message), status_code=exc.status, media_type="application/json")


def _page(request: Request, items: list[Any]) -> JSONResponse:
    """Asana's offset pagination over `items`."""
    params = request.query_params
    start = 0
    if "offset" in params:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(params["offset"].encode()))["index"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "offset: Your pagination token is invalid.") from None
    if "limit" not in params:
        return JSONResponse({"data": items[start : start + UNBOUNDED_LIST_CAP], "next_page": None})
    try:
        limit = int(params["limit"])
    except ValueError:
        raise ApiError(400, "limit: Must be an integer between 1 and 100") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit: Must be between 1 and 100")
    end = start + limit
    next_page = None
    if end < len(items):
        offset = base64.urlsafe_b64encode(json.dumps({"index": end}).encode()).decode()
        query = "&".join(f"{key}={value}" for key, value in params.items() if key != "offset")
        path = f"{request.url.path.removeprefix(API)}?{query}&offset={offset}"
        next_page = {"offset": offset, "path": path, "uri": f"{str(request.base_url).rstrip('/')}{API}{path}"}
    return JSONResponse({"data": items[start:end], "next_page": next_page})


async def _body(request: Request) -> Any:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        raise ApiError(400, "Could not parse request data, invalid JSON") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise ApiError(400, "data: Missing input")
    return payload["data"]


def build_routes(store: AsanaStore) -> list[Route]:
    def handler(function: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await function(request, OptFields(request.query_params.get("opt_fields")))
            except ApiError as exc:
                return _error(exc)

        return endpoint

    async def me(request: Request, opt: OptFields) -> Response:
        return _ok(user_record(store, store.me, {"email", "workspaces"}))

    async def user(request: Request, opt: OptFields) -> Response:
        return _ok(user_record(store, store.user(request.path_params["gid"], "user"), {"email", "workspaces"}))

    async def users(request: Request, opt: OptFields) -> Response:
        if request.query_params.get("workspace") not in (None, store.workspace["gid"]):
            raise ApiError(404, f"workspace: Not a recognized ID: {request.query_params['workspace']}")
        return _page(request, [user_record(store, gid, opt.top) for gid in store.users])

    async def workspaces(request: Request, opt: OptFields) -> Response:
        return _page(request, [workspace_record(store)])

    async def workspace(request: Request, opt: OptFields) -> Response:
        if request.path_params["gid"] != store.workspace["gid"]:
            raise ApiError(404, f"workspace: Not a recognized ID: {request.path_params['gid']}")
        return _ok({**workspace_record(store), "is_organization": store.workspace.get("is_organization", True)})

    async def workspace_tags(request: Request, opt: OptFields) -> Response:
        await workspace(request, opt)
        return _page(request, [tag_record(store, gid) for gid in store.tags])

    async def tag(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        if gid not in store.tags:
            raise ApiError(404, f"tag: Not a recognized ID: {gid}")
        return _ok({**tag_record(store, gid), "workspace": workspace_record(store)})

    async def project(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        return _ok(project_record(store, gid, opt))

    async def project_settings(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        fields = store.custom_fields if gid == store.project_gid else {}
        return _page(request, [setting_record(store, gid, field) for field in fields])

    async def project_sections(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        sections = [s for s in store.sections.values() if s["project"] == gid]
        return _page(request, [{"gid": s["gid"], "resource_type": "section", "name": s["name"]} for s in sections])

    def project_tasks(request: Request, project_gid: str, opt: OptFields) -> Response:
        store.project(project_gid)
        since = request.query_params.get("modified_since")
        threshold = None
        if since:
            try:
                threshold = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise ApiError(400, f"modified_since: Not a valid date-time: {since}") from None
        with store.lock:
            chosen = [
                task
                for task in store.tasks.values()
                if project_gid in task.projects
                and (threshold is None or datetime.fromisoformat(task.modified_at.replace("Z", "+00:00")) >= threshold)
            ]
            records = [task_record(store, task, opt, as_list=True) for task in chosen]
        return _page(request, records)

    async def tasks_of_project(request: Request, opt: OptFields) -> Response:
        return project_tasks(request, request.path_params["gid"], opt)

    async def tasks_query(request: Request, opt: OptFields) -> Response:
        project_gid = request.query_params.get("project")
        if not project_gid:
            raise ApiError(400, "project: Must specify exactly one of project, tag, section, user task list, or assignee + workspace")
        return project_tasks(request, project_gid, opt)

    async def create_task(request: Request, opt: OptFields) -> Response:
        task = store.create_task(await _body(request))
        return _ok(task_record(store, task, opt), status=201)

    async def get_task(request: Request, opt: OptFields) -> Response:
        with store.lock:
            return _ok(task_record(store, store.task(request.path_params["gid"]), opt))

    async def update_task(request: Request, opt: OptFields) -> Response:
        task = store.update_task(request.path_params["gid"], await _body(request))
        return _ok(task_record(store, task, opt))

    async def delete_task(request: Request, opt: OptFields) -> Response:
        store.delete_task(request.path_params["gid"])
        return _ok({})

    async def task_action(request: Request, opt: OptFields) -> Response:
        action = request.path_params["action"]
        task = store.task_action(request.path_params["gid"], action, await _body(request))
        if action in ("addFollowers", "removeFollowers", "setParent"):
            return _ok(task_record(store, task, opt))
        return _ok({})

    routes = [
        ("/users/me", me, ["GET"]),
        ("/users/{gid}", user, ["GET"]),
        ("/users", users, ["GET"]),
        ("/workspaces", workspaces, ["GET"]),
        ("/workspaces/{gid}", workspace, ["GET"]),
        ("/workspaces/{gid}/tags", workspace_tags, ["GET"]),
        ("/tags/{gid}", tag, ["GET"]),
        ("/projects/{gid}", project, ["GET"]),
        ("/projects/{gid}/custom_field_settings", project_settings, ["GET"]),
        ("/projects/{gid}/sections", project_sections, ["GET"]),
        ("/projects/{gid}/tasks", tasks_of_project, ["GET"]),
        ("/tasks", tasks_query, ["GET"]),
        ("/tasks", create_task, ["POST"]),
        ("/tasks/{gid}", get_task, ["GET"]),
        ("/tasks/{gid}", update_task, ["PUT"]),
        ("/tasks/{gid}", delete_task, ["DELETE"]),
        ("/tasks/{gid}/{action}", task_action, ["POST"]),
    ]
    return [Route(API + path, handler(function), methods=methods) for path, function, methods in routes]


def create_app(store: AsanaStore, limits: Limits, stats: Stats | None = None) -> Gate:
    """The emulator as an ASGI app: Starlette routes behind the `Gate` of limits and faults."""
    stats = stats or Stats()

    async def stats_endpoint(request: Request) -> Response:
        snapshot = stats.snapshot()
        snapshot["tasks"] = len(store.tasks)
        return JSONResponse(snapshot)

    async def reset_stats(request: Request) -> Response:
        fresh = Stats()
        for name in ("by_method", "by_status", "faults", "write_requests", "rate_limited", "max_writes_in_flight", "max_reads_in_flight"):
            setattr(stats, name, getattr(fresh, name))
        return JSONResponse({"reset": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def not_found(request: Request, exc: Exception) -> Response:
        message = f"No matching route for request: {request.method} {request.url.path}"
        return Response(error_body(message), status_code=404, media_type="application/json")

    routes = [
        *build_routes(store),
        Route("/_emulator/stats", stats_endpoint, methods=["GET"]),
        Route("/_emulator/reset_stats", reset_stats, methods=["POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.store = store
    app.state.stats = stats
    return Gate(app, limits, stats)
