"""Throughput against the emulator, side by side in one run.

    .venv/bin/python benchmarks/throughput.py [--loop-rows 100] [--rows 1500] [--rerun-rows 10000]

(a) Creates per second: the seed's method (one POST after another) against this
    project's sync, each against its own emulator process at 100 ms latency and
    6,000 requests/min. Goal: at least 9x the loop, at least 90% of the limit, no
    row failing.
(b) A re-run over an unchanged model: write requests (goal 0), reads, wall time.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.engine.planning import build_plan  # noqa: E402
from asana_sync_pipeline.engine.runner import run_sync  # noqa: E402
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings  # noqa: E402
from asana_sync_pipeline.engine.state import DuckDBStateStore, SyncScope  # noqa: E402

TOKEN = "0/benchmarkbenchmarkbenchmark0000"
PROJECT = "1200000000000100"


@contextmanager
def emulator(*flags: str):
    """The emulator in its own process (its own core), as a user would run it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "asana_sync_pipeline.emulator", "--port", "0", "--token", TOKEN, *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = re.search(r"(http://\S+/api/1\.0)", process.stdout.readline()).group(1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def stats(base_url: str) -> dict:
    return httpx.get(base_url.removesuffix("/api/1.0") + "/_emulator/stats").json()


def model(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"row-{n:06d}" for n in range(rows)],
            "name": [f"Follow up with account {n}" for n in range(rows)],
            "due_on": ["2026-12-31"] * rows,
            "tags": ["1200000000000201"] * rows,
            "completed": [n % 7 == 0 for n in range(rows)],
        }
    )


def seed_loop(base_url: str, rows: int) -> tuple[float, int]:
    """The seed's method: one create after another, each waiting for its answer."""
    frame = model(rows)
    failures = 0
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        for row in frame.itertuples():
            body = {"data": {"name": row.name, "due_on": row.due_on, "tags": [row.tags], "completed": bool(row.completed), "projects": [PROJECT]}}
            if http.post("/tasks", json=body).status_code != 201:
                failures += 1
    return rows / (time.perf_counter() - started), failures


def project_sync(base_url: str, frame: pd.DataFrame, state_path: str, rpm: int) -> tuple[float, object]:
    store = DuckDBStateStore(state_path)
    scope = SyncScope("benchmark", PROJECT)
    plan = build_plan(frame, SyncSettings(), store.synced(scope))
    asana = AsanaSettings(access_token=TOKEN, base_url=base_url, requests_per_minute=rpm)
    started = time.perf_counter()
    _, report = run_sync(plan, asana=asana, scope=scope, store=store, run_id="benchmark", log=lambda message: None)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop-rows", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--rerun-rows", type=int, default=10_000)
    args = parser.parse_args()
    limit = 6000
    flags = ("--latency-ms", "100", "--rate-limit-per-minute", str(limit))

    with emulator(*flags) as base_url:
        loop_rate, loop_failures = seed_loop(base_url, args.loop_rows)
    with emulator(*flags) as base_url, tempfile.TemporaryDirectory() as folder:
        seconds, report = project_sync(base_url, model(args.rows), str(Path(folder) / "state.duckdb"), limit)
        emulator_stats = stats(base_url)
        tasks = emulator_stats["tasks"]
    sync_rate = report.created / seconds
    print("(a) creates at 100 ms latency, 6,000 requests/min")
    print(f"{'method':<34} {'rows':>6} {'creates/s':>10} {'vs loop':>8} {'of limit':>9} {'failed':>7}")
    print(f"{'seed: one request after another':<34} {args.loop_rows:>6} {loop_rate:>10.1f} {1:>8.1f} {loop_rate * 60 / limit:>8.0%} {loop_failures:>7}")
    print(
        f"{'this project (paced, 15 in flight)':<34} {args.rows:>6} {sync_rate:>10.1f} {sync_rate / loop_rate:>8.1f} "
        f"{sync_rate * 60 / limit:>8.0%} {report.rejected:>7}"
    )
    print(f"    tasks in the emulator: {tasks}; 429s: {emulator_stats['rate_limited']}; peak writes in flight: {emulator_stats['max_writes_in_flight']}")

    with emulator() as base_url, tempfile.TemporaryDirectory() as folder:
        state = str(Path(folder) / "state.duckdb")
        frame = model(args.rerun_rows)
        first_seconds, first = project_sync(base_url, frame, state, 60_000)
        before = stats(base_url)
        again_seconds, again = project_sync(base_url, frame, state, 60_000)
        after = stats(base_url)
    print(f"\n(b) re-run over an unchanged {args.rerun_rows:,}-row model")
    print(f"{'run':<14} {'created':>8} {'unchanged':>10} {'writes':>7} {'reads':>6} {'seconds':>8}")
    print(f"{'first':<14} {first.created:>8} {first.unchanged:>10} {before['write_requests']:>7} {before['by_method'].get('GET', 0):>6} {first_seconds:>8.2f}")
    writes = after["write_requests"] - before["write_requests"]
    reads = after["by_method"].get("GET", 0) - before["by_method"].get("GET", 0)
    print(f"{'unchanged':<14} {again.created:>8} {again.unchanged:>10} {writes:>7} {reads:>6} {again_seconds:>8.2f}")


if __name__ == "__main__":
    main()
