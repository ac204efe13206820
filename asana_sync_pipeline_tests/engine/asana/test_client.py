"""The Asana client's retry, pacing and error paths, over httpx.MockTransport."""

import asyncio
import json
import time

import httpx
import pytest

from asana_sync_pipeline.engine.asana.client import AsanaClient, limiter_for
from asana_sync_pipeline.engine.errors import (
    AsanaTransportError,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from asana_sync_pipeline.engine.settings import AsanaSettings

TOKEN = "1/1234567890123456:0123456789abcdef0123456789abcdef"
RATE_LIMIT_BODY = {
    "errors": [{"message": "You've made too many requests and hit a rate limit. Please retry after the given amount of time."}]
}


def client_for(handler, **options):
    options = {"requests_per_minute": 60_000, "max_backoff_seconds": 0.01, **options}
    settings = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", **options)
    return AsanaClient(settings, transport=httpx.MockTransport(handler))


def run(coroutine):
    return asyncio.run(coroutine)


async def call(client, method, *args, **kwargs):
    async with client:
        return await getattr(client, method)(*args, **kwargs)


def test_bodies_are_wrapped_and_unwrapped_and_the_token_is_sent_as_bearer():
    seen = {}

    def handler(request):
        seen["auth"] = request.headers["Authorization"]
        seen["body"] = json.loads(request.content)
        return httpx.Response(201, json={"data": {"gid": "42", "name": "x"}})

    assert run(call(client_for(handler), "create_task", {"name": "x"})) == {"gid": "42", "name": "x"}
    assert seen == {"auth": f"Bearer {TOKEN}", "body": {"data": {"name": "x"}}}


def test_a_429_waits_out_retry_after_then_succeeds():
    answers = [httpx.Response(429, headers={"Retry-After": "1"}, json=RATE_LIMIT_BODY), httpx.Response(201, json={"data": {"gid": "7"}})]
    times = []

    def handler(request):
        times.append(time.monotonic())
        return answers.pop(0)

    assert run(call(client_for(handler), "create_task", {"name": "x"})) == {"gid": "7"}
    assert times[1] - times[0] >= 1.0


def test_retries_give_up_with_the_rate_limit_error():
    def handler(request):
        return httpx.Response(429, headers={"Retry-After": "0"}, json=RATE_LIMIT_BODY)

    with pytest.raises(RateLimitError) as raised:
        run(call(client_for(handler, max_rate_limited_attempts=3), "update_task", "1", {"name": "x"}))
    assert "too many requests" in str(raised.value)


def test_server_errors_are_retried_for_updates():
    answers = [httpx.Response(500, json={"errors": [{"message": "Server Error", "phrase": "6 sad squid"}]}), httpx.Response(200, json={"data": {"gid": "1"}})]
    assert run(call(client_for(lambda request: answers.pop(0)), "update_task", "1", {"name": "x"})) == {"gid": "1"}


def test_a_create_is_never_resent_after_a_server_error():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(500, json={"errors": [{"message": "Server Error", "phrase": "6 sad squid"}]})

    with pytest.raises(ServerError) as raised:
        run(call(client_for(handler), "create_task", {"name": "x"}))
    assert len(calls) == 1
    assert raised.value.phrase == "6 sad squid"


def test_a_create_is_never_resent_after_a_dropped_connection_but_is_after_a_refused_one():
    calls = []

    def dropped(request):
        calls.append(request)
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    with pytest.raises(AsanaTransportError) as raised:
        run(call(client_for(dropped), "create_task", {"name": "x"}))
    assert raised.value.maybe_processed and len(calls) == 1

    answers = []

    def refused_once_after_a_first_answer(request):
        answers.append(request.url.path)
        if len(answers) == 2:
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(201 if request.method == "POST" else 200, json={"data": {"gid": "9"}})

    async def me_then_create(client):
        async with client:
            await client.get_me()
            return await client.create_task({"name": "x"})

    assert run(me_then_create(client_for(refused_once_after_a_first_answer))) == {"gid": "9"}
    assert len(answers) == 3


def test_a_refused_first_connection_fails_at_once_with_the_url():
    calls = []

    def refused(request):
        calls.append(request)
        raise httpx.ConnectError("Connection refused", request=request)

    started = time.monotonic()
    with pytest.raises(AsanaTransportError, match="could not connect to https://asana.test/api/1.0"):
        run(call(client_for(refused, max_backoff_seconds=5), "get_me"))
    assert len(calls) == 1 and time.monotonic() - started < 1


def test_a_header_the_transport_refuses_is_not_retried_and_its_value_is_not_shown():
    calls = []

    def bad_header(request):
        calls.append(request)
        raise httpx.LocalProtocolError("Illegal header value b'Bearer secret\\n'")

    with pytest.raises(AsanaTransportError) as raised:
        run(call(client_for(bad_header), "get_me"))
    assert len(calls) == 1 and "secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, InvalidRequestError), (401, AuthenticationError), (404, NotFoundError)],
)
def test_client_errors_are_precise_and_not_retried(status, error):
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(status, json={"errors": [{"message": "due_on: Must be a date", "help": "..."}]})

    with pytest.raises(error) as raised:
        run(call(client_for(handler), "update_task", "1", {"due_on": "x"}))
    assert len(calls) == 1
    assert raised.value.messages == ["due_on: Must be a date"]
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value)


def test_pagination_follows_next_page():
    def handler(request):
        offset = request.url.params.get("offset")
        assert request.url.params["limit"] == "100"
        if offset is None:
            return httpx.Response(200, json={"data": [{"gid": "1"}], "next_page": {"offset": "abc", "path": "/x", "uri": "u"}})
        return httpx.Response(200, json={"data": [{"gid": "2"}], "next_page": None})

    async def collect():
        async with client_for(handler) as client:
            return [task["gid"] async for task in client.project_tasks("100")]

    assert run(collect()) == ["1", "2"]


def test_writes_in_flight_never_exceed_the_limit():
    in_flight = 0
    peak = 0

    async def handler(request):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(201, json={"data": {"gid": "1"}})

    async def burst():
        async with client_for(handler, max_concurrent_writes=4) as client:
            await asyncio.gather(*(client.create_task({"name": str(n)}) for n in range(40)))

    run(burst())
    assert peak == 4


def test_pacing_keeps_any_minute_within_the_limit():
    limiter = limiter_for(1500)
    burst, per_second = limiter.max_rate, limiter.max_rate / limiter.time_period
    assert burst + 60 * per_second <= 1500 + 1e-9
    assert 60 * per_second >= 0.97 * 1500


def test_pacing_holds_the_configured_rate():
    async def handler(request):
        return httpx.Response(200, json={"data": {"gid": "1"}})

    async def paced():
        async with client_for(handler, requests_per_minute=600) as client:
            started = time.monotonic()
            await asyncio.gather(*(client.update_task("1", {"name": "x"}) for _ in range(30)))
            return time.monotonic() - started

    elapsed = run(paced())
    # 600/min is 10/s with a burst of 10: 30 requests need about 2 s, never much less.
    assert elapsed >= 1.9


def test_repr_hides_the_token():
    client = client_for(lambda request: httpx.Response(200))
    assert TOKEN not in repr(client)
