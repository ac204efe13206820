"""The emulator's routes: Asana's REST API under /api/1.0 (Starlette), plus /_emulator/*.

Bodies are wrapped in `{"data": ...}` both ways; errors are
`{"errors": [{"message", "help"}]}` with Asana's status codes; lists paginate
with `limit` (1-100) and an opaque `offset`, answering `next_page` or null.
"""

from __future__ import annotations

import base64
import json
from bisect import bisect_right
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import Tokens
from .batch import run_batch
from .data_file import DataFile, MarkChanges, check_same_origin, read_data_file, restore
from .errors import ApiError, error_body
from .faults import TRANSPORT_SCOPE_KEY, phrase
from .fixture import FixtureError
from .gate import API_PREFIX, USER_SCOPE_KEY, Gate
from .observe import Observer, ResponseTap
from .outside_api import outside_routes
from .records import (
    NO_FIELDS,
    OptFields,
    attachment_record,
    job_record,
    pick,
    project_record,
    section_record,
    setting_record,
    story_record,
    tag_record,
    task_record,
    task_template_record,
    user_record,
    workspace_record,
)
from .settings import EmulatorSettings
from .stats import Stats
from .store import AsanaStore, Task
from .values import parse_moment

UNBOUNDED_LIST_CAP = 1000
WORKSPACE_USERS_CAP = 2000
COMPACT = ("gid", "resource_type", "name")
Handler = Callable[[Request, OptFields], Awaitable[Response]]


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"data": data}, status_code=status, headers=headers)


def _encode_offset(key: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": key}).encode()).decode().rstrip("=")


def _decode_offset(offset: str) -> int:
    try:
        key = json.loads(base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)))["after"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "offset: Your pagination token is invalid.") from None
    if not isinstance(key, int):
        raise ApiError(400, "offset: Your pagination token is invalid.")
    return key


def paginate(request: Request, items: list[Any], keys: list[int], render: Callable[[Any], Any]) -> JSONResponse:
    """Asana's offset pagination over `items`, ordered by the increasing integers `keys`.

    The offset names the last key served, so a page boundary survives items being
    created or deleted between requests: every item still present is served once.
    """
    params = request.query_params
    start = bisect_right(keys, _decode_offset(params["offset"])) if "offset" in params else 0
    if "limit" not in params:
        chosen = items[start : start + UNBOUNDED_LIST_CAP]
        return JSONResponse({"data": [render(item) for item in chosen], "next_page": None})
    try:
        limit = int(params["limit"])
    except ValueError:
        raise ApiError(400, f"limit: Not a valid integer: {params['limit']}") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, f"limit: Must be between 1 and 100, got {limit}")
    end = start + limit
    next_page = None
    if end < len(items):
        offset = _encode_offset(keys[end - 1])
        query = urlencode([(key, value) for key, value in params.multi_items() if key != "offset"] + [("offset", offset)])
        path = f"{request.url.path.removeprefix(API_PREFIX)}?{query}"
        next_page = {"offset": offset, "path": path, "uri": f"{str(request.base_url).rstrip('/')}{API_PREFIX}{path}"}
    return JSONResponse({"data": [render(item) for item in items[start:end]], "next_page": next_page})


def page_fixed(request: Request, records: list[dict[str, Any]]) -> JSONResponse:
    """Pagination over a fixed list (users, tags, settings), keyed by position."""
    return paginate(request, records, list(range(len(records))), lambda record: record)


async def read_data(request: Request) -> Any:
    """The `data` of a `{"data": ...}` body; 400 for malformed JSON or a missing wrapper."""
    raw = await request.body()
    try:
        payload = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "Could not parse request data, invalid JSON") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise ApiError(400, "data: Missing input")
    return payload["data"]


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def read_form(request: Request) -> dict[str, Any]:
    """The fields of a form body (`POST /attachments`); a file part is noted as present, not kept."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() not in FORM_TYPES:
        raise ApiError(400, "Attachments are uploaded as multipart/form-data (fields parent, resource_subtype, url, name)")
    try:
        async with request.form() as form:
            return {key: True if not isinstance(value, str) else value for key, value in form.multi_items()}
    except HTTPException as exc:
        raise ApiError(400, f"Could not parse the form: {exc.detail}") from None


def _moment_param(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_moment(value)
    except ValueError:
        raise ApiError(400, f"{name}: Not a valid ISO 8601 date-time: {value}") from None


def build_routes(store: AsanaStore) -> list[Route]:
    """Asana's endpoints over `store`; each handler answers `ApiError` in Asana's shape."""

    def handler(function: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                with store.acting_as(request.scope.get(USER_SCOPE_KEY)):
                    return await function(request, OptFields(request.query_params.get("opt_fields")))
            except ApiError as exc:
                body = error_body(exc.message, beside=exc.beside, help_text=exc.help_text)
                return Response(body, status_code=exc.status, media_type="application/json", headers=exc.headers)

        return endpoint

    def cut(opt: OptFields, full: dict[str, Any], compact: tuple[str, ...] = COMPACT, as_list: bool = False) -> dict:
        return pick(store, opt, full, compact, as_list)

    def known_workspace(gid: str) -> None:
        if gid != store.workspace["gid"]:
            raise ApiError(404 if gid.isdigit() else 400, f"workspace: Not a recognized ID: {gid}")

    async def user(request: Request, opt: OptFields) -> Response:
        reference = request.path_params.get("gid", "me")
        gid = store.find_user(reference)
        if gid is None:
            raise ApiError(404, f"user: Not a recognized ID: {reference}")
        return ok(cut(opt, user_record(store, gid, {"email", "photo", "workspaces"}) or {}))

    async def users(request: Request, opt: OptFields) -> Response:
        """`GET /users[?workspace=]`: paginated, sorted by user ID."""
        workspace = request.query_params.get("workspace")
        if workspace is not None:
            known_workspace(workspace)
        records = [cut(opt, user_record(store, gid, opt.tree) or {}, as_list=True) for gid in sorted(store.users, key=int)]
        return page_fixed(request, records)

    async def workspace_users(request: Request, opt: OptFields) -> Response:
        """`GET /workspaces/{gid}/users`: not paginated, sorted by name, at most 2,000 (as documented)."""
        known_workspace(request.path_params["gid"])
        chosen = sorted(store.users, key=lambda gid: store.users[gid]["name"].lower())[:WORKSPACE_USERS_CAP]
        return JSONResponse({"data": [cut(opt, user_record(store, gid, opt.tree) or {}, as_list=True) for gid in chosen]})

    async def workspaces(request: Request, opt: OptFields) -> Response:
        return page_fixed(request, [cut(opt, workspace_record(store), as_list=True)])

    async def workspace(request: Request, opt: OptFields) -> Response:
        known_workspace(request.path_params["gid"])
        return ok(cut(opt, workspace_record(store)))

    async def workspace_tags(request: Request, opt: OptFields) -> Response:
        known_workspace(request.path_params["gid"])
        return page_fixed(request, [cut(opt, tag_record(store, gid), as_list=True) for gid in store.tags])

    async def workspace_projects(request: Request, opt: OptFields) -> Response:
        """`GET /workspaces/{gid}/projects`: the projects the token's user can see (not the forbidden ones), paged."""
        known_workspace(request.path_params["gid"])
        return page_fixed(request, [cut(opt, project_record(store, gid), as_list=True) for gid in store.projects])

    async def tag(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        if gid not in store.tags:
            raise ApiError(404 if gid.isdigit() else 400, f"tag: Not a recognized ID: {gid}")
        return ok(cut(opt, tag_record(store, gid)))

    async def project(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        return ok(cut(opt, project_record(store, gid)))

    async def project_settings(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        compact = ("gid", "resource_type", "project", "is_important", "parent", "custom_field")
        records = [cut(opt, setting_record(store, gid, field), compact, True) for field in store.project_fields[gid]]
        return page_fixed(request, records)

    async def project_sections(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        chosen = list(store.project_sections[gid])
        return page_fixed(request, [cut(opt, section_record(store, section), as_list=True) for section in chosen])

    async def create_section(request: Request, opt: OptFields) -> Response:
        section = store.create_section(request.path_params["gid"], await read_data(request))
        return ok(cut(opt, section_record(store, section["gid"])), status=201)

    async def create_tag(request: Request, opt: OptFields) -> Response:
        known_workspace(request.path_params["gid"])
        created = store.create_tag(request.path_params["gid"], await read_data(request))
        return ok(cut(opt, tag_record(store, created["gid"])), status=201)

    async def add_task_to_section(request: Request, opt: OptFields) -> Response:
        store.add_task_to_section(request.path_params["gid"], await read_data(request))
        return ok({})

    async def section(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.section(gid)
        return ok(cut(opt, section_record(store, gid)))

    def task_list(request: Request, opt: OptFields, keep: Callable[[Task], bool]) -> Response:
        """Tasks for which `keep` holds and that pass `modified_since` / `completed_since`."""
        modified_since = _moment_param(request, "modified_since")
        completed_raw = request.query_params.get("completed_since")
        completed_since = None if completed_raw == "now" else _moment_param(request, "completed_since")

        def wanted(task: Task) -> bool:
            if not keep(task):
                return False
            if modified_since is not None and parse_moment(task.modified_at) < modified_since:
                return False
            if task.completed and completed_raw:
                return completed_since is not None and task.completed_at is not None and parse_moment(task.completed_at) >= completed_since
            return True

        with store.lock:
            chosen = store.select_tasks(wanted)
            return paginate(request, chosen, [int(task.gid) for task in chosen],
                            lambda task: task_record(store, task, opt, as_list=True))

    async def project_tasks(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.project(gid)
        return task_list(request, opt, lambda task: gid in task.projects)

    async def section_tasks(request: Request, opt: OptFields) -> Response:
        gid = request.path_params["gid"]
        store.section(gid)
        return task_list(request, opt, lambda task: any(section == gid for _, section in task.memberships))

    async def tag_tasks(request: Request, opt: OptFields) -> Response:
        await tag(request, NO_FIELDS)
        gid = request.path_params["gid"]
        return task_list(request, opt, lambda task: gid in task.tags)

    async def stories(request: Request, opt: OptFields) -> Response:
        chosen = store.stories_of(request.path_params["gid"])
        with store.lock:
            return paginate(request, chosen, [int(story.gid) for story in chosen],
                            lambda story: story_record(store, story, opt, as_list=True))

    async def add_comment(request: Request, opt: OptFields) -> Response:
        story = store.add_comment(request.path_params["gid"], await read_data(request))
        with store.lock:
            return ok(story_record(store, story, opt), status=201)

    async def subtasks(request: Request, opt: OptFields) -> Response:
        parent = store.task(request.path_params["gid"]).gid
        return task_list(request, opt, lambda task: task.parent == parent)

    async def query_tasks(request: Request, opt: OptFields) -> Response:
        params = request.query_params
        given = [name for name in ("project", "section", "assignee") if params.get(name)]
        if params.get("assignee") and not params.get("workspace"):
            raise ApiError(400, "workspace: Must be specified together with assignee")
        if len(given) != 1:
            raise ApiError(
                400, "Must specify exactly one of project, tag, section, user task list, or assignee + workspace"
            )
        if "project" in given:
            gid = params["project"]
            store.project(gid)
            return task_list(request, opt, lambda task: gid in task.projects)
        if "section" in given:
            gid = params["section"]
            store.section(gid)
            return task_list(request, opt, lambda task: any(section == gid for _, section in task.memberships))
        known_workspace(params["workspace"])
        assignee = store.find_user(params["assignee"])
        if assignee is None:
            raise ApiError(400, f"assignee: Not a recognized ID or email: {params['assignee']}")
        return task_list(request, opt, lambda task: task.assignee == assignee)

    async def create_task(request: Request, opt: OptFields) -> Response:
        task = store.create_task(await read_data(request))
        return ok(task_record(store, task, opt), status=201, headers={"Location": f"/tasks/{task.gid}"})

    async def create_subtask(request: Request, opt: OptFields) -> Response:
        task = store.create_subtask(request.path_params["gid"], await read_data(request))
        return ok(task_record(store, task, opt), status=201, headers={"Location": f"/tasks/{task.gid}"})

    async def get_task(request: Request, opt: OptFields) -> Response:
        with store.lock:
            return ok(task_record(store, store.task(request.path_params["gid"]), opt))

    async def update_task(request: Request, opt: OptFields) -> Response:
        store.task(request.path_params["gid"])
        task = store.update_task(request.path_params["gid"], await read_data(request))
        return ok(task_record(store, task, opt))

    async def delete_task(request: Request, opt: OptFields) -> Response:
        store.delete_task(request.path_params["gid"])
        return ok({})

    def task_action(action: str, returns_task: bool) -> Handler:
        async def act(request: Request, opt: OptFields) -> Response:
            store.task(request.path_params["gid"])
            task = store.task_action(request.path_params["gid"], action, await read_data(request))
            return ok(task_record(store, task, opt) if returns_task else {})

        return act

    async def events(request: Request, opt: OptFields) -> Response:
        """`GET /events?resource=GID&sync=TOKEN`: a project's or a task's events since the token."""
        resource = request.query_params.get("resource")
        if not resource:
            raise ApiError(400, "resource: Missing input")
        with store.lock:
            if resource in store.projects or resource in store.forbidden_projects:
                store.project(resource)
            else:
                store.task(resource)
        return JSONResponse(store.events.read(resource, request.query_params.get("sync")))

    async def batch(request: Request, opt: OptFields) -> Response:
        return ok(await run_batch(request, await read_data(request)))

    def linked_tasks(key: str) -> Handler:
        async def listed(request: Request, opt: OptFields) -> Response:
            """`GET /tasks/{gid}/dependencies` or `/dependents`: compact tasks, paged, in the order linked."""
            with store.lock:
                task = store.task(request.path_params["gid"])
                linked = [store.tasks[gid] for gid in store.live(getattr(task, key))]
                return page_fixed(request, [task_record(store, other, opt, as_list=True) for other in linked])

        return listed

    def link_action(key: str, add: bool) -> Handler:
        async def act(request: Request, opt: OptFields) -> Response:
            store.change_dependencies(request.path_params["gid"], key, await read_data(request), add=add)
            return ok({})

        return act

    async def create_attachment(request: Request, opt: OptFields) -> Response:
        """`POST /attachments`: 200 with the attachment, as the spec documents (not 201)."""
        attachment = store.add_attachment(await read_form(request))
        with store.lock:
            return ok(attachment_record(store, attachment, opt))

    async def attachments(request: Request, opt: OptFields) -> Response:
        parent = request.query_params.get("parent")
        if not parent:
            raise ApiError(400, "parent: Missing input")
        chosen = store.attachments_of(parent)
        with store.lock:
            return paginate(request, chosen, [int(attachment["gid"]) for attachment in chosen],
                            lambda attachment: attachment_record(store, attachment, opt, as_list=True))

    async def attachment(request: Request, opt: OptFields) -> Response:
        with store.lock:
            return ok(attachment_record(store, store.attachment(request.path_params["gid"]), opt))

    async def delete_attachment(request: Request, opt: OptFields) -> Response:
        store.delete_attachment(request.path_params["gid"])
        return ok({})

    async def task_templates(request: Request, opt: OptFields) -> Response:
        """`GET /task_templates?project=`: the project's templates (the spec requires `project`)."""
        project = request.query_params.get("project")
        if not project:
            raise ApiError(400, "project: Missing input")
        store.project(project)
        with store.lock:
            chosen = store.templates.of_project(project)
            return page_fixed(request, [task_template_record(store, template, opt, as_list=True) for template in chosen])

    async def task_template(request: Request, opt: OptFields) -> Response:
        with store.lock:
            return ok(task_template_record(store, store.templates.template(request.path_params["gid"]), opt))

    async def delete_task_template(request: Request, opt: OptFields) -> Response:
        store.templates.delete(request.path_params["gid"])
        return ok({})

    async def instantiate_task(request: Request, opt: OptFields) -> Response:
        """201 with the job as it starts (`not_started`); it runs from then on, answered or not."""
        job = store.templates.instantiate(request.path_params["gid"], await read_data(request))
        with store.lock:
            answer = ok(job_record(store, job, opt), status=201)
        store.templates.run(job)
        return answer

    async def job(request: Request, opt: OptFields) -> Response:
        with store.lock:
            return ok(job_record(store, store.templates.job(request.path_params["gid"]), opt))

    routes: list[tuple[str, Handler, str]] = [
        ("/users/me", user, "GET"),
        ("/users/{gid}", user, "GET"),
        ("/users", users, "GET"),
        ("/workspaces", workspaces, "GET"),
        ("/workspaces/{gid}", workspace, "GET"),
        ("/workspaces/{gid}/tags", workspace_tags, "GET"),
        ("/workspaces/{gid}/projects", workspace_projects, "GET"),
        ("/workspaces/{gid}/tags", create_tag, "POST"),
        ("/workspaces/{gid}/users", workspace_users, "GET"),
        ("/tags/{gid}", tag, "GET"),
        ("/tags/{gid}/tasks", tag_tasks, "GET"),
        ("/projects/{gid}", project, "GET"),
        ("/projects/{gid}/custom_field_settings", project_settings, "GET"),
        ("/projects/{gid}/sections", project_sections, "GET"),
        ("/projects/{gid}/sections", create_section, "POST"),
        ("/projects/{gid}/tasks", project_tasks, "GET"),
        ("/sections/{gid}", section, "GET"),
        ("/sections/{gid}/tasks", section_tasks, "GET"),
        ("/sections/{gid}/addTask", add_task_to_section, "POST"),
        ("/tasks", query_tasks, "GET"),
        ("/tasks", create_task, "POST"),
        ("/tasks/{gid}", get_task, "GET"),
        ("/tasks/{gid}", update_task, "PUT"),
        ("/tasks/{gid}", delete_task, "DELETE"),
        ("/tasks/{gid}/subtasks", subtasks, "GET"),
        ("/tasks/{gid}/subtasks", create_subtask, "POST"),
        ("/tasks/{gid}/stories", stories, "GET"),
        ("/tasks/{gid}/stories", add_comment, "POST"),
        ("/batch", batch, "POST"),
        ("/events", events, "GET"),
        ("/tasks/{gid}/dependencies", linked_tasks("dependencies"), "GET"),
        ("/tasks/{gid}/dependents", linked_tasks("dependents"), "GET"),
        ("/tasks/{gid}/addDependencies", link_action("dependencies", True), "POST"),
        ("/tasks/{gid}/removeDependencies", link_action("dependencies", False), "POST"),
        ("/tasks/{gid}/addDependents", link_action("dependents", True), "POST"),
        ("/tasks/{gid}/removeDependents", link_action("dependents", False), "POST"),
        ("/attachments", attachments, "GET"),
        ("/attachments", create_attachment, "POST"),
        ("/attachments/{gid}", attachment, "GET"),
        ("/attachments/{gid}", delete_attachment, "DELETE"),
        ("/task_templates", task_templates, "GET"),
        ("/task_templates/{gid}", task_template, "GET"),
        ("/task_templates/{gid}", delete_task_template, "DELETE"),
        ("/task_templates/{gid}/instantiateTask", instantiate_task, "POST"),
        ("/jobs/{gid}", job, "GET"),
    ]
    for action, returns_task in [
        ("addTag", False), ("removeTag", False), ("addProject", False), ("removeProject", False),
        ("addFollowers", True), ("removeFollowers", True), ("setParent", True),
    ]:
        routes.append((f"/tasks/{{gid}}/{action}", task_action(action, returns_task), "POST"))
    return [Route(API_PREFIX + path, handler(function), methods=[method]) for path, function, method in routes]


class EmulatorApp(Starlette):
    """Starlette, plus uvicorn's transport in the scope so that a fault can reset the connection."""

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope[TRANSPORT_SCOPE_KEY] = getattr(getattr(send, "__self__", None), "transport", None)
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            return  # the client went away before its request was read (killed, timed out): nothing was done


def create_app(settings: EmulatorSettings | None = None, observers: tuple[Observer, ...] = ()) -> EmulatorApp:
    """The emulator as an ASGI app; its store is `app.state.emulator`, its counters `app.state.stats`.

    `observers` see every answer under /api/1.0 (see `observe`), including those of the limits."""
    settings = settings or EmulatorSettings()
    saved = read_data_file(settings.data_file) if settings.data_file is not None else None
    if saved is not None:
        given = settings.load_fixture() if settings.fixture is not None else None
        check_same_origin(str(settings.data_file), saved, given, settings.project_gid)
        fixture, project_gid = saved["fixture"], saved["project_gid"]
    else:
        fixture, project_gid = settings.load_fixture(), settings.project_gid
    store = AsanaStore(
        fixture, project_gid, settings.events_token_ttl_seconds, settings.job_seconds, settings.max_concurrent_jobs,
    )  # fmt: skip
    if saved is not None:
        restore(store, saved)
    data_file = DataFile(settings.data_file, store, fixture, store.project_gid) if settings.data_file is not None else None
    if store.user_tokens.get(settings.token, store.me) != store.me:
        raise FixtureError("fixture: a user's token is the --token, which is the token of me")
    tokens = Tokens(settings.token, store.me, store.user_tokens)
    stats = Stats()

    async def not_found(request: Request, exc: Exception) -> Response:
        message = f"No matching route for request: {request.method} {request.url.path}"
        return Response(error_body(message), status_code=404, media_type="application/json")

    async def server_error(request: Request, exc: Exception) -> Response:
        return Response(error_body("Server Error", phrase=phrase()), status_code=500, media_type="application/json")

    app = EmulatorApp(
        routes=[*build_routes(store), *outside_routes(store, stats, tokens)],
        middleware=[
            *([Middleware(MarkChanges, data_file=data_file)] if data_file is not None else []),
            Middleware(ResponseTap, observers=tuple(observers)),
            Middleware(Gate, settings=settings, stats=stats, tokens=tokens),
        ],
        exception_handlers={404: not_found, 405: not_found, Exception: server_error},
    )
    app.state.emulator = store
    app.state.stats = stats
    app.state.settings = settings
    app.state.data_file = data_file
    """The file the workspace is kept in (`--data-file`), or None: whoever serves the app starts and
    stops it (`EmulatorServer`, the command line)."""
    return app

