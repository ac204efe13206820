"""The client's requests for Asana beyond one task: template instantiations whose 429 (the user's jobs at
once) waits for itself alone, jobs polled, and links attached as multipart forms, never resent blindly."""

from __future__ import annotations

import asyncio
import time

import httpx

from asana_sync_pipeline.engine.errors import AsanaTransportError
from asana_sync_pipeline_tests.engine.asana.test_client import RATE_LIMIT_BODY, client_for


def test_a_429_for_an_instantiation_waits_for_it_alone_while_other_requests_go_on():
    answered: list[tuple[str, float]] = []
    refused = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        answered.append((request.url.path, time.monotonic()))
        if request.url.path.endswith("/instantiateTask"):
            if refused:
                refused.clear()
                return httpx.Response(429, headers={"Retry-After": "1"}, json=RATE_LIMIT_BODY)
            return httpx.Response(201, json={"data": {"gid": "77", "status": "not_started", "new_task": None}})
        return httpx.Response(200, json={"data": {"gid": "5"}})

    async def both():
        client = client_for(handler)
        async with client:
            started = time.monotonic()
            instantiated = asyncio.create_task(client.instantiate_template("900", "Acme"))
            await asyncio.sleep(0.05)
            await client.update_task("5", {"notes": "x"})
            updated_after = time.monotonic() - started
            return await instantiated, updated_after

    job, updated_after = asyncio.run(both())
    assert job["gid"] == "77"
    assert updated_after < 0.5, "the job limit's 429 paused a request that is not an instantiation"
    assert [path.rsplit("/", 1)[-1] for path, _ in answered] == ["instantiateTask", "5", "instantiateTask"]


def test_a_link_is_posted_as_a_multipart_form_and_never_resent_after_a_lost_answer():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    async def attach():
        client = client_for(handler)
        async with client:
            return await client.attach_link("5", "https://bi.example/a", "Dash")

    try:
        asyncio.run(attach())
    except AsanaTransportError as exc:
        assert exc.maybe_processed
    else:
        raise AssertionError("a lost answer must come back as an unclear outcome")
    assert len(seen) == 1
    assert seen[0].headers["Content-Type"].startswith("multipart/form-data")
    body = seen[0].content.decode()
    assert 'name="resource_subtype"' in body and "external" in body and "https://bi.example/a" in body
