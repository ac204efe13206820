"""The sync with its state in DuckDB and in PostgreSQL, side by side in one run.

    .venv/bin/python benchmarks/state_stores.py [--rows 1500] [--rounds 2] [--rebuild-tasks 10000]

A throwaway PostgreSQL server (initdb into a temporary folder, loopback, and durable: fsync on,
as in production) runs beside the emulator; needs PostgreSQL's server binaries (`make postgres`).

(a) Creates per second at the rate limit (6,000 requests/min, 100 ms latency), each run against
    its own emulator process, DuckDB and PostgreSQL alternating for --rounds rounds; the median
    of each, and PostgreSQL's as a share of DuckDB's (goal: at least 95%).
(b) A lost state rebuilt from Asana: --rebuild-tasks tasks carry their row's key in the sync key
    field; a run with an empty store of each kind adopts them: the listing's reads (pages of 100)
    and all the run's (the connection test too), creates (goal 0), write requests (goal 0), the
    rebuild's seconds and the whole run's, at 100 ms latency and Asana's default 1,500 requests/min.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.engine.planning import build_plan  # noqa: E402
from asana_sync_pipeline.engine.runner import run_sync  # noqa: E402
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings  # noqa: E402
from asana_sync_pipeline.engine.state import DuckDBStateStore, PostgresStateStore, StateStore, SyncScope  # noqa: E402
from asana_sync_pipeline_tests.postgres_server import start_server  # noqa: E402
from benchmarks.throughput import PROJECT, TOKEN, emulator, model, stats  # noqa: E402

SYNC_KEY_FIELD = "1200000000000301"
LIMIT = 6000
SCOPE = SyncScope("benchmark", PROJECT)


def sync(base_url: str, frame: pd.DataFrame, store: StateStore, rpm: int, writes: int = 15, **settings) -> tuple[float, object, list[str]]:
    log: list[str] = []
    plan = build_plan(frame, SyncSettings(**settings), store.synced(SCOPE))
    asana = AsanaSettings(access_token=TOKEN, base_url=base_url, requests_per_minute=rpm, max_concurrent_writes=writes)
    started = time.perf_counter()
    _, report = run_sync(plan, asana=asana, scope=SCOPE, store=store, run_id="benchmark", log=log.append)
    return time.perf_counter() - started, report, log


def creates_at_the_limit(stores: dict[str, Callable[[], StateStore]], rows: int, rounds: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(rounds):
        for name, open_store in stores.items():
            with emulator("--latency-ms", "100", "--rate-limit-per-minute", str(LIMIT)) as base_url:
                seconds, report, _ = sync(base_url, model(rows), open_store(), LIMIT)
                assert report.created == rows and report.rejected == 0, report.summary()
                assert stats(base_url)["rate_limited"] == 0
            rates[name].append(report.created / seconds)
    return rates


def rebuilds(stores: dict[str, Callable[[], StateStore]], tasks: int, folder: Path) -> dict[str, dict]:
    frame = model(tasks)
    found = {}
    with emulator("--latency-ms", "100", "--max-concurrent-writes", "50") as base_url:
        _, seeded, _ = sync(base_url, frame, DuckDBStateStore(str(folder / "seed.duckdb")), 60_000, writes=50, sync_key_field=SYNC_KEY_FIELD)
        assert seeded.created == tasks, seeded.summary()
        for name, open_store in stores.items():
            before = stats(base_url)
            seconds, report, log = sync(base_url, frame, open_store(), 1500, sync_key_field=SYNC_KEY_FIELD)
            after = stats(base_url)
            rebuilt = next(line for line in log if line.startswith("Rebuilt the sync state"))
            found[name] = {
                "adopted": report.rebuilt,
                "created": report.created,
                "unchanged": report.unchanged,
                "reads": after["by_method"].get("GET", 0) - before["by_method"].get("GET", 0),
                "listing_reads": int(re.search(r"listed in ([\d,]+) reads", rebuilt).group(1).replace(",", "")),
                "writes": after["write_requests"] - before["write_requests"],
                "rebuild_seconds": float(re.search(r"reads, ([\d.,]+) s", rebuilt).group(1).replace(",", "")),
                "run_seconds": seconds,
            }
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rebuild-tasks", type=int, default=10_000)
    args = parser.parse_args()
    server = start_server(durable=True)
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            counter = iter(range(1_000_000))
            stores: dict[str, Callable[[], StateStore]] = {
                "DuckDB": lambda: DuckDBStateStore(str(folder / f"state-{next(counter)}.duckdb")),
                "PostgreSQL": lambda: PostgresStateStore(server.url(server.new_database())),
            }
            rates = creates_at_the_limit(stores, args.rows, args.rounds)
            rebuilt = rebuilds(stores, args.rebuild_tasks, folder)
    finally:
        server.stop()

    duckdb_rate = statistics.median(rates["DuckDB"])
    print(f"(a) creates at the rate limit: {args.rows:,} rows, {LIMIT:,} requests/min, 100 ms latency, {args.rounds} rounds alternating")
    print(f"{'state':<12} {'creates/s (median)':>19} {'each round':>22} {'of limit':>9} {'vs DuckDB':>10}")
    for name, values in rates.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(f"{name:<12} {median:>19.1f} {rounds:>22} {median * 60 / LIMIT:>8.0%} {median / duckdb_rate:>9.0%}")
    print(f"\n(b) a lost state rebuilt from Asana: {args.rebuild_tasks:,} tasks with their key, 100 ms latency, 1,500 requests/min")
    print(f"{'state':<12} {'adopted':>8} {'created':>8} {'unchanged':>10} {'listing reads':>14} {'all reads':>10} {'writes':>7} {'rebuild s':>10} {'run s':>7}")
    for name, row in rebuilt.items():
        print(
            f"{name:<12} {row['adopted']:>8,} {row['created']:>8} {row['unchanged']:>10,} {row['listing_reads']:>14} {row['reads']:>10} {row['writes']:>7} "
            f"{row['rebuild_seconds']:>10.1f} {row['run_seconds']:>7.1f}"
        )


if __name__ == "__main__":
    main()
