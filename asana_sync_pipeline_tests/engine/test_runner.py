"""run_sync: failures that concern the whole run surface as the documented messages, and
what was written before them is kept."""

from datetime import UTC, datetime

import httpx
import pandas as pd
import pytest

from asana_sync_pipeline.engine.errors import ConnectionCheckError, RemovalGuardError
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.runner import run_sync
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings
from asana_sync_pipeline.engine.state import DuckDBStateStore, EventCursor, Outcome, SyncScope

TOKEN = "0/0123456789abcdef0123456789abcdef"
PROJECT = "100"
SCOPE = SyncScope("default", PROJECT)
CURRENT = "current-sync-token"
"""The events API's token this fake Asana accepts: a state holding it reads no change since."""


def asana_failing_after(creates_before_failure: int, failure):
    """Answers the connection test, then `creates_before_failure` creates, then `failure(request)`."""
    created = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/users/me"):
            return httpx.Response(200, json={"data": {"gid": "1", "name": "Bot"}})
        if path.endswith("/events"):
            if request.url.params.get("sync") == CURRENT:
                return httpx.Response(200, json={"data": [], "sync": CURRENT, "has_more": False})
            return httpx.Response(412, json={"errors": [{"message": "Sync token invalid or too old."}], "sync": CURRENT})
        if path.endswith(f"/projects/{PROJECT}/tasks") or (request.method == "GET" and path.endswith("/tasks")):
            return httpx.Response(200, json={"data": [], "next_page": None})  # the project holds no task yet
        if path.endswith(f"/projects/{PROJECT}"):
            return httpx.Response(200, json={"data": {"gid": PROJECT, "name": "P", "workspace": {"gid": "9"}}})
        if request.method == "POST" and len(created) < creates_before_failure:
            created.append(request)
            return httpx.Response(201, json={"data": {"gid": str(1000 + len(created))}})
        return failure(request)

    return handler, created


def run(tmp_path, handler, rows=6):
    store = DuckDBStateStore(str(tmp_path / "state.duckdb"))
    frame = pd.DataFrame({"id": [f"r{n}" for n in range(rows)], "name": [f"Task {n}" for n in range(rows)]})
    asana = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", max_concurrent_writes=1, max_attempts=2)
    plan = build_plan(frame, SyncSettings(), store.synced(SCOPE))
    with pytest.raises(ConnectionCheckError) as raised:
        run_sync(plan, asana=asana, scope=SCOPE, store=store, run_id="r", log=lambda _: None, transport=httpx.MockTransport(handler))
    return str(raised.value), store


def test_a_token_rejected_mid_run_fails_with_the_authentication_message_and_keeps_what_was_written(tmp_path):
    handler, created = asana_failing_after(2, lambda request: httpx.Response(401, json={"errors": [{"message": "Not Authorized"}]}))
    message, store = run(tmp_path, handler)
    assert message.startswith("Authentication failed: invalid personal access token")
    assert "in the middle of the run" in message and TOKEN not in message
    assert len(created) == 2
    assert sorted(store.synced(SCOPE)["task_gid"]) == ["1001", "1002"]


def test_asana_unreachable_mid_run_fails_with_the_url_and_keeps_what_was_written(tmp_path):
    def refused(request):
        raise httpx.ConnectError("Connection refused", request=request)

    handler, created = asana_failing_after(3, refused)
    message, store = run(tmp_path, handler)
    assert message.startswith("Lost the connection to Asana at https://asana.test/api/1.0 during the writes")
    assert "retried (never duplicated) on the next run" in message
    assert len(store.synced(SCOPE)) == 3


def test_a_bad_token_is_reported_before_the_lock_the_rebuild_and_the_guards(tmp_path):
    """The connection test runs first: a run that would also trip the removal guard (and find its state
    empty with a sync key) reports the token, and touches neither the state nor Asana."""
    store = DuckDBStateStore(str(tmp_path / "state.duckdb"))
    old = pd.DataFrame({"id": [f"r{n}" for n in range(20)], "name": [f"Task {n}" for n in range(20)]})
    store.apply(SCOPE, "earlier", [Outcome(key, task_gid=str(5000 + n), payload_hash=1) for n, key in enumerate(old["id"])])
    requests = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.path}")
        return httpx.Response(401, json={"errors": [{"message": "Not Authorized"}]})

    settings = SyncSettings(on_row_removed="delete")
    plan = build_plan(old.head(2), settings, store.synced(SCOPE))
    assert len(plan.removals) == 18, "the plan trips the removal guard"
    asana = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0")
    with pytest.raises(ConnectionCheckError, match="^Authentication failed: invalid personal access token"):
        run_sync(plan, asana=asana, scope=SCOPE, store=store, run_id="r", log=lambda _: None, transport=httpx.MockTransport(handler))
    assert requests == ["GET /api/1.0/users/me"]
    assert len(store.synced(SCOPE)) == 20 and store.runs(SCOPE).empty


def test_a_removal_over_the_guard_fails_after_the_connection_test_and_before_any_write(tmp_path):
    store = DuckDBStateStore(str(tmp_path / "state.duckdb"))
    store.apply(SCOPE, "earlier", [Outcome(f"r{n}", task_gid=str(5000 + n), payload_hash=1) for n in range(20)])
    store.save_observation(SCOPE, EventCursor(CURRENT, datetime.now(UTC)), {})
    handler, created = asana_failing_after(0, lambda request: httpx.Response(500))
    frame = pd.DataFrame({"id": ["r0"], "name": ["Task 0"]})
    plan = build_plan(frame, SyncSettings(on_row_removed="complete"), store.synced(SCOPE))
    asana = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0")
    with pytest.raises(RemovalGuardError, match="would complete 19 of the sync's 20 live tasks"):
        run_sync(plan, asana=asana, scope=SCOPE, store=store, run_id="r", log=lambda _: None, transport=httpx.MockTransport(handler))
    assert created == []
