"""Asana's Batch API (`POST /batch`): up to ten actions, each answered as its own
endpoint would answer it, in order, as `{status_code, headers, body}`.

Actions run through the same app as direct requests (so rules and error bodies
are identical), marked so that the `Gate` lets them pass: the batch itself was
already charged one request per action against the rate limit.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from .errors import ApiError
from .gate import API_PREFIX, BATCH_SCOPE_KEY, USER_SCOPE_KEY

MAX_ACTIONS = 10
METHODS = ("get", "post", "put", "delete", "patch", "head")


def _checked_actions(data: Any) -> list[dict[str, Any]]:
    actions = data.get("actions") if isinstance(data, dict) else None
    if actions is None:
        raise ApiError(400, "actions: Missing input")
    if not isinstance(actions, list) or not actions:
        raise ApiError(400, "actions: Must be a non-empty array of actions")
    if len(actions) > MAX_ACTIONS:
        raise ApiError(400, f"actions: A batch may hold at most {MAX_ACTIONS} actions, got {len(actions)}")
    for index, action in enumerate(actions):
        where = f"actions[{index}]"
        if not isinstance(action, dict):
            raise ApiError(400, f"{where}: Must be an object")
        path = action.get("relative_path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ApiError(400, f"{where}.relative_path: Missing input or not a path")
        if "?" in path:
            raise ApiError(400, f"{where}.relative_path: Query parameters are not accepted here; put them in data")
        if path.rstrip("/") == "/batch":
            raise ApiError(400, f"{where}.relative_path: A batch cannot contain a batch")
        if action.get("method") not in METHODS:
            raise ApiError(400, f"{where}.method: Must be one of {', '.join(METHODS)}")
        for key in ("data", "options"):
            if action.get(key) is not None and not isinstance(action[key], dict):
                raise ApiError(400, f"{where}.{key}: Must be an object")
    return actions


def _query(action: dict[str, Any]) -> str:
    params: dict[str, Any] = {}
    if action["method"] in ("get", "head"):
        params.update(action.get("data") or {})
    options = action.get("options") or {}
    for key in ("limit", "offset"):
        if key in options:
            params[key] = options[key]
    if options.get("fields"):
        params["opt_fields"] = ",".join(options["fields"])
    return urlencode({key: ",".join(map(str, value)) if isinstance(value, list) else value for key, value in params.items()})


async def _run(request: Request, action: dict[str, Any]) -> dict[str, Any]:
    method = action["method"].upper()
    has_body = method not in ("GET", "HEAD", "DELETE") and "data" in action
    body = json.dumps({"data": action["data"]}).encode() if has_body else b""
    path = API_PREFIX + action["relative_path"]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET" if method == "HEAD" else method,
        "scheme": request.url.scheme,
        "server": request.scope.get("server"),
        "client": request.scope.get("client"),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": _query(action).encode(),
        "headers": [(b"content-type", b"application/json"), (b"host", request.headers.get("host", "").encode())],
        BATCH_SCOPE_KEY: True,
        USER_SCOPE_KEY: request.scope.get(USER_SCOPE_KEY),
    }
    sent = False
    answer: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await request.app(scope, receive, send)
    headers = {name.decode(): value.decode() for name, value in answer["headers"] if name.lower() == b"location"}
    parsed = json.loads(answer["body"]) if answer["body"] and method != "HEAD" else None
    return {"status_code": answer["status"], "headers": {name.lower(): value for name, value in headers.items()},
            "body": parsed}


async def run_batch(request: Request, data: Any) -> list[dict[str, Any]]:
    """The answers to a batch's actions, in the order given."""
    actions = _checked_actions(data)
    stats = request.app.state.stats
    with stats.lock:
        stats.batch_actions += len(actions)
    return [await _run(request, action) for action in actions]
