"""Processes on one token, outside Dagster (a scheduled sync beside a manual one): together they
stay within the token's limit, which the emulator counts over a sliding minute as Asana does.

    .venv/bin/python benchmarks/one_token.py [--rows 600] [--limit 1500] [--latency-ms 100]

One, two and three command-line syncs (`python -m asana_sync_pipeline`), each into its own project,
all with the same token, started together; then the same two with their budgets kept apart (each
process in its own ASANA_SYNC_BUDGET_DIR: what happened before budgets were shared). The table
shows the creates of all of them together per second over the writing window, that rate as a share
of the limit (goal: at least 85%), and the 429s answered (goal: at most 2% of the requests).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.emulator.observe import Exchange  # noqa: E402

TOKEN = "0/onetokenonetokenonetokenonetoken"
PROJECTS = ("1200000000000100", "1200000000000110", "1200000000000120")


class Writes:
    """When the emulator answered each create: the writing window."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, exchange: Exchange) -> None:
        if exchange.method == "POST" and exchange.path == "/tasks" and exchange.status == 201:
            self.times.append(time.monotonic())


def run(count: int, rows: int, limit: int, latency_ms: float, shared: bool) -> str:
    writes = Writes()
    settings = EmulatorSettings(token=TOKEN, rate_limit_per_minute=limit, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as name, EmulatorServer(settings, observers=(writes,)) as server:
        folder = Path(name)
        processes = []
        for n, project in enumerate(PROJECTS[:count]):
            warehouse = folder / f"warehouse-{n}.duckdb"
            duckdb.connect(str(warehouse)).close()
            env = {
                **{key: value for key, value in os.environ.items() if key != "SYNC_STATE_URL"},
                "ASANA_ACCESS_TOKEN": TOKEN, "ASANA_BASE_URL": server.base_url, "ASANA_PROJECT_GID": project,
                "ASANA_REQUESTS_PER_MINUTE": str(limit), "WAREHOUSE_DUCKDB_PATH": str(warehouse),
                "SYNC_STATE_DUCKDB_PATH": str(folder / f"state-{n}.duckdb"),
                "ASANA_SYNC_BUDGET_DIR": str(folder / ("budget" if shared else f"budget-{n}")),
            }  # fmt: skip
            query = f"SELECT 'p{n}-' || i AS id, 'Task ' || i AS name FROM range({rows}) t(i)"
            command = [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default", "--query", query]
            processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [process.communicate()[0] for process in processes]
        stats = server.stats.snapshot()
        tasks = server.task_count()
    failed = sum(1 for process in processes if process.returncode != 0)
    window = max(writes.times) - min(writes.times) if len(writes.times) > 1 else float("nan")
    rate = len(writes.times) / window
    label = f"{count} process{'es' if count > 1 else ''}" + ("" if shared else ", budgets apart (before)")
    if failed:
        print("\n".join(output[-1500:] for output in outputs))
    return (
        f"{label:<34} {tasks:>6,} {window:>8.1f} {rate:>9.1f} {rate * 60 / limit:>8.0%} {stats['requests']:>9,} "
        f"{stats['rate_limited']:>6,} {stats['rate_limited'] / stats['requests']:>7.1%} {failed:>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=600, help="rows per process")
    parser.add_argument("--limit", type=int, default=1500, help="the token's requests per minute")
    parser.add_argument("--latency-ms", type=float, default=100)
    args = parser.parse_args()
    header = (
        f"{'runs':<34} {'tasks':>6} {'window':>8} {'creates/s':>9} {'of limit':>8} {'requests':>9} {'429s':>6} "
        f"{'429 share':>7} {'failed':>6}"
    )
    print(f"{args.rows:,} rows per process, {args.limit:,} requests/min per token, {args.latency_ms:g} ms latency")
    print(header)
    lines = []
    for count, shared in ((1, True), (2, True), (3, True), (2, False)):
        lines.append(run(count, args.rows, args.limit, args.latency_ms, shared))
        print(lines[-1], flush=True)


if __name__ == "__main__":
    main()
