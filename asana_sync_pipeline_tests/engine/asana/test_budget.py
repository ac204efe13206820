"""A token's budget: its clients count each other, share its pace and slots, pause together, and
a client that left or died stops counting (SQLite on one machine, PostgreSQL across machines)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from asana_sync_pipeline.engine.asana import budget as budgets
from asana_sync_pipeline.engine.asana.budget import SqliteBudget, budget_key
from asana_sync_pipeline.engine.asana.client import AsanaClient, Slots, limiter_for, retune
from asana_sync_pipeline.engine.settings import AsanaSettings
from asana_sync_pipeline.engine.state.postgres_budget import PostgresBudget
from asana_sync_pipeline.engine.state.postgres_url import PostgresURL

TOKEN = "0/0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgres"])
def place(request, tmp_path):
    if request.param == "sqlite":
        return SqliteBudget(tmp_path)
    import psycopg

    url = PostgresURL.parse(request.getfixturevalue("postgres_url"))
    return PostgresBudget(lambda: psycopg.connect(autocommit=True, **url.connect_arguments()))


def test_clients_of_one_token_count_each_other_and_pause_together(place):
    key, other = budget_key("https://app.asana.com/api/1.0", TOKEN), budget_key("https://app.asana.com/api/1.0", "0/other")
    first, second, elsewhere = place.join(key), place.join(key), place.join(other)
    try:
        assert first.beat().members == 1
        assert second.beat().members == 2 and first.beat().members == 2
        assert elsewhere.beat().members == 1, "another token has its own budget"
        assert second.beat(pause_for=30).paused_for > 28
        assert 28 < first.beat().paused_for <= 30, "a 429 one client got pauses the others"
        assert elsewhere.beat().paused_for == 0
    finally:
        second.leave()
    assert first.beat().members == 1, "a client that left stops counting at once"
    first.leave()
    elsewhere.leave()


def test_a_client_that_died_stops_counting_after_the_timeout(tmp_path, monkeypatch):
    place = SqliteBudget(tmp_path)
    alive, dead = place.join("k"), place.join("k")
    dead.beat()
    assert alive.beat().members == 2
    monkeypatch.setattr(budgets, "MEMBER_TIMEOUT_SECONDS", 0.2)
    time.sleep(0.3)
    assert alive.beat().members == 1
    alive.leave()


def test_the_key_never_holds_the_token():
    key = budget_key("https://app.asana.com/api/1.0", TOKEN)
    assert TOKEN not in key and "0123456789abcdef" not in key and len(key) == 32


def test_a_share_retunes_the_pace_without_a_burst_and_resizes_the_slots():
    async def check():
        limiter = limiter_for(600)
        retune(limiter, 300)
        assert limiter.max_rate == 5 and not limiter.has_capacity(), "a new share starts with its bucket full"
        slots = Slots(2)
        async with slots, slots:
            waiting = asyncio.ensure_future(slots.__aenter__())
            await asyncio.sleep(0.05)
            assert not waiting.done()
            await slots.resize(3)
            await asyncio.wait_for(waiting, 1)
        await slots.__aexit__()
        assert slots.held == 0

    asyncio.run(check())


def test_a_client_takes_its_share_and_leaves_when_done(tmp_path):
    settings = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", requests_per_minute=600,
                             max_concurrent_writes=15)  # fmt: skip
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {}}))
    place = SqliteBudget(tmp_path)
    other = place.join(budget_key(settings.base_url, TOKEN))
    other.beat()

    async def run():
        async with AsanaClient(settings, transport=transport, budget=place) as client:
            assert client.share.members == 2 and client._writes.limit == 7 and client._limiter.max_rate == 5
        return other.beat().members

    assert asyncio.run(run()) == 1
    other.leave()
