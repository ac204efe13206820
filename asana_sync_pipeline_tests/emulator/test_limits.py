"""Asana's limits and the injected faults, as a client observes them: 429s with
Retry-After and Asana's body, in-flight caps, latency, each fault kind, and the
counters of /_emulator/stats."""

import asyncio
import logging
import re
import time

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.emulator.limits import SlidingWindow, TokenLimits
from asana_sync_pipeline_tests.emulator.conftest import TOKEN, client_for

PROJECT = "1200000000000100"
RATE_LIMIT_BODY = {
    "errors": [{"message": "You've made too many requests and hit a rate limit. Please retry after the given amount of time."}]
}
NEW_TASK = {"data": {"projects": [PROJECT], "name": "x"}}


def test_the_rate_limit_answers_429_with_retry_after_and_asanas_body():
    with EmulatorServer(EmulatorSettings(token=TOKEN, rate_limit_per_minute=5)) as server, client_for(server) as http:
        statuses = [http.get("/users/me").status_code for _ in range(8)]
        limited = http.get("/users/me")
        stats = httpx.get(f"{server.url}/_emulator/stats").json()
    assert statuses == [200] * 5 + [429] * 3
    assert limited.status_code == 429 and limited.json() == RATE_LIMIT_BODY
    assert 59 <= int(limited.headers["Retry-After"]) <= 60
    assert (stats["rate_limited"], stats["by_status"]) == (4, {"200": 5, "429": 4})


def test_rejected_requests_count_in_the_window_and_retry_after_says_when_one_more_fits():
    now = [1000.0]
    window = SlidingWindow(limit=2, seconds=60, clock=lambda: now[0])
    assert [window.charge(), window.charge()] == [None, None]
    now[0] = 1030.0
    assert window.charge() == 30
    now[0] = 1060.5
    assert window.charge() is None
    assert window.charge() == 60
    now[0] = 1091.0
    assert window.charge() == 30, "the rejected request at 1060.5 still counts"
    now[0] = 1200.0
    assert window.charge() is None
    assert window.charge(cost=3) == 60


def test_a_batch_costs_one_request_per_action():
    actions = [{"relative_path": "/users/me", "method": "get"}] * 4
    with EmulatorServer(EmulatorSettings(token=TOKEN, rate_limit_per_minute=5)) as server, client_for(server) as http:
        assert http.post("/batch", json={"data": {"actions": actions}}).status_code == 200
        assert [http.get("/users/me").status_code for _ in range(2)] == [200, 429]


async def _burst(server: EmulatorServer, requests: int, method: str, path: str, body: dict | None = None) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"},
                                 limits=httpx.Limits(max_connections=requests), timeout=30) as http:
        return await asyncio.gather(*(http.request(method, path, json=body) for _ in range(requests)))


def test_writes_beyond_the_concurrency_limit_are_429_and_reads_are_counted_apart():
    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=1000)) as server:
        responses = asyncio.run(_burst(server, 20, "POST", "/tasks", NEW_TASK))
        assert sorted(response.status_code for response in responses) == [201] * 15 + [429] * 5
        limited = next(response for response in responses if response.status_code == 429)
        assert (limited.headers["Retry-After"], limited.json()) == ("1", RATE_LIMIT_BODY)
        assert server.stats.max_writes_in_flight == 15 and server.task_count() == 15


def test_reads_have_their_own_cap():
    settings = EmulatorSettings(token=TOKEN, latency_ms=1000, max_concurrent_reads=3, max_concurrent_writes=1)

    async def mixed(server):
        reads = _burst(server, 5, "GET", "/users/me")
        writes = _burst(server, 1, "POST", "/tasks", NEW_TASK)
        return await asyncio.gather(reads, writes)

    with EmulatorServer(settings) as server:
        reads, writes = asyncio.run(mixed(server))
    assert sorted(response.status_code for response in reads) == [200] * 3 + [429] * 2
    assert [response.status_code for response in writes] == [201]


def test_latency_delays_every_admitted_request():
    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=200)) as server, client_for(server) as http:
        started = time.perf_counter()
        assert http.get("/users/me").status_code == 200
        assert time.perf_counter() - started >= 0.2


@pytest.mark.parametrize(
    ("kind", "created", "status"),
    [("error_500", 0, 500), ("error_503", 0, 503), ("spurious_429", 0, 429), ("reset_before", 0, None), ("reset_after", 1, None)],
)
def test_each_fault_kind_is_what_a_client_sees(kind, created, status):
    settings = EmulatorSettings(token=TOKEN, fault_rate=1.0, fault_kinds=(kind,), seed=1)
    with EmulatorServer(settings) as server, client_for(server) as http:
        if status is None:
            with pytest.raises(httpx.TransportError) as raised:
                http.post("/tasks", json=NEW_TASK)
            assert isinstance(raised.value, (httpx.ReadError, httpx.RemoteProtocolError))
        else:
            response = http.post("/tasks", json=NEW_TASK)
            assert response.status_code == status
            if kind == "error_500":
                error = response.json()["errors"][0]
                assert error["message"] == "Server Error" and re.fullmatch(r"\d [a-z]+ [a-z]+ [a-z]+ [a-z]+", error["phrase"])
            if kind == "spurious_429":
                assert (response.headers["Retry-After"], response.json()) == ("1", RATE_LIMIT_BODY)
        assert server.task_count() == created
        assert http.get("/users/me").status_code == 200, "reads are never faulted"
        assert server.stats.faults[kind] == 1


def test_the_same_seed_draws_the_same_faults():
    def outcomes() -> list[int]:
        settings = EmulatorSettings(token=TOKEN, fault_rate=0.5, fault_kinds="error_500,error_503", seed=7)
        with EmulatorServer(settings) as server, client_for(server) as http:
            return [http.post("/tasks", json=NEW_TASK).status_code for _ in range(12)]

    first = outcomes()
    assert first == outcomes() and {500, 503, 201} <= set(first)


def test_slow_answers_outlast_a_client_timeout_but_the_task_is_made():
    with EmulatorServer(EmulatorSettings(token=TOKEN, slow_rate=1.0, slow_seconds=1.0)) as server:
        with client_for(server, timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
            http.post("/tasks", json=NEW_TASK)
        assert server.task_count() == 1


def test_stats_count_requests_and_reset(server):
    with client_for(server) as http:
        http.post("/tasks", json=NEW_TASK)
        http.get("/users/me")
        http.get("/tasks/123")
        httpx.get(f"{server.base_url}/users/me")
    stats = httpx.get(f"{server.url}/_emulator/stats").json()
    assert stats["by_method"] == {"POST": 1, "GET": 3} and stats["requests"] == 4
    assert stats["by_status"] == {"200": 1, "201": 1, "401": 1, "404": 1}
    assert (stats["write_requests"], stats["max_writes_in_flight"], stats["tasks"]) == (1, 1, 1)
    assert httpx.post(f"{server.url}/_emulator/reset_stats").json() == {"reset": True}
    reset = httpx.get(f"{server.url}/_emulator/stats").json()
    assert (reset["requests"], reset["by_status"], reset["tasks"]) == (0, {}, 1)
    assert httpx.get(f"{server.url}/_emulator/health").json()["ok"] is True


def test_the_access_log_never_shows_the_token(caplog):
    with caplog.at_level(logging.INFO, logger="asana_sync_pipeline.emulator.access"):
        with EmulatorServer(EmulatorSettings(token=TOKEN, access_log=True)) as server, client_for(server) as http:
            http.get("/users/me")
    assert any(re.match(r"GET /api/1\.0/users/me 200 \d", record.getMessage()) for record in caplog.records)
    assert TOKEN not in caplog.text


def test_settings_refuse_nonsense_and_keep_the_token_out_of_repr():
    with pytest.raises(ValueError, match="unknown fault kinds: flood"):
        EmulatorSettings(token=TOKEN, fault_kinds=("flood",))
    with pytest.raises(ValueError):
        EmulatorSettings(token=TOKEN, fault_rate=1.5)
    assert TOKEN not in repr(EmulatorSettings(token=TOKEN))


def test_requests_in_flight_are_capped_per_token_and_released():
    limits = TokenLimits(None, 60, max_writes=2, max_reads=1)
    assert [limits.admit(b"Bearer a", True) for _ in range(3)] == [None, None, 1]
    assert limits.admit(b"Bearer b", True) is None, "another token has slots of its own"
    assert limits.admit(b"Bearer a", False) is None, "reads and writes are counted apart"
    limits.release(b"Bearer a", True)
    assert limits.admit(b"Bearer a", True) is None
