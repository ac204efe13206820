"""Two clients of one token that do not share a budget (two machines, each with its own DuckDB
state: documented as unsupported, but it must not livelock): against the emulator's rate limit,
a client that keeps getting 429s backs off beyond Retry-After, and both finish."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.engine.asana.budget import SqliteBudget
from asana_sync_pipeline.engine.asana.client import AsanaClient
from asana_sync_pipeline.engine.settings import AsanaSettings

TOKEN = "0/two-machines-one-token-0123456789abcdef"
LIMIT = 600
"""Requests per minute, counted over a 6-second window (60 requests in any 6 s): each client
alone may send that much, so the two together send twice what the token allows."""
ROWS = 80
WORKERS = 30
"""Creates in flight per client, as a sync's writer pool has them."""


async def _machine(server: EmulatorServer, budget_dir: Path, name: str, created: list[str]) -> AsanaClient:
    settings = AsanaSettings(access_token=TOKEN, base_url=server.base_url, requests_per_minute=LIMIT)
    async with AsanaClient(settings, budget=SqliteBudget(budget_dir)) as client:
        turn = asyncio.Semaphore(WORKERS)

        async def create(number: int) -> None:
            async with turn:
                task = await client.create_task({"name": f"{name} {number}", "projects": [server.project_gid]})
                created.append(task["gid"])

        await asyncio.gather(*(create(number) for number in range(ROWS)))
    return client


def test_two_clients_on_one_token_without_a_shared_budget_both_finish_without_a_storm_of_429s(tmp_path):
    settings = EmulatorSettings(token=TOKEN, rate_limit_per_minute=LIMIT, rate_window_seconds=6, latency_ms=20)
    created: list[str] = []
    with EmulatorServer(settings) as server:

        async def both() -> list[AsanaClient]:
            return await asyncio.gather(
                _machine(server, tmp_path / "machine-a", "A", created), _machine(server, tmp_path / "machine-b", "B", created)
            )

        clients = asyncio.run(both())
        stats = server.stats.snapshot()
    assert len(created) == len(set(created)) == 2 * ROWS, "both finished: every create went through once"
    assert server.task_count() == 2 * ROWS
    sent = sum(client.requests_sent for client in clients)
    # Returning as a herd after each Retry-After, into a window their own rejected requests keep full,
    # two such clients had 60-80% of their requests answered 429; backing off beyond it, under 20%.
    assert stats["rate_limited"] <= 0.2 * sent, (stats["rate_limited"], sent)
