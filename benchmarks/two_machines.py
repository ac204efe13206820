"""Two machines sharing one token, each with its own DuckDB state (documented as unsupported: their
budgets cannot meet), against a low limit: both must still finish, without a storm of 429s.

    .venv/bin/python benchmarks/two_machines.py [--rows 120] [--limit 150] [--latency-ms 100]

Two command-line syncs (`python -m asana_sync_pipeline`), each into its own project, with the same
token, each with its own ASANA_SYNC_BUDGET_DIR and sync state (what two machines have), started
together against the emulator's sliding-minute limit. Each paces itself at the whole token's rate,
so together they send twice what the token allows. The table shows the tasks made, the time until
both finished, the requests, the 429s and the runs that failed.
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

TOKEN = "0/twomachinestwomachinestwomachines"
PROJECTS = ("1200000000000100", "1200000000000110")


def run(rows: int, limit: int, latency_ms: float, window: float) -> str:
    settings = EmulatorSettings(token=TOKEN, rate_limit_per_minute=limit, rate_window_seconds=window, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as name, EmulatorServer(settings) as server:
        folder = Path(name)
        processes = []
        started = time.monotonic()
        for n, project in enumerate(PROJECTS):
            warehouse = folder / f"warehouse-{n}.duckdb"
            duckdb.connect(str(warehouse)).close()
            env = {
                **{key: value for key, value in os.environ.items() if key != "SYNC_STATE_URL"},
                "ASANA_ACCESS_TOKEN": TOKEN, "ASANA_BASE_URL": server.base_url, "ASANA_PROJECT_GID": project,
                "ASANA_REQUESTS_PER_MINUTE": str(limit), "WAREHOUSE_DUCKDB_PATH": str(warehouse),
                "SYNC_STATE_DUCKDB_PATH": str(folder / f"state-{n}.duckdb"), "ASANA_SYNC_BUDGET_DIR": str(folder / f"budget-{n}"),
            }  # fmt: skip
            query = f"SELECT 'm{n}-' || i AS id, 'Task ' || i AS name FROM range({rows}) t(i)"
            command = [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default", "--query", query]
            processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [process.communicate()[0] for process in processes]
        seconds = time.monotonic() - started
        stats = server.stats.snapshot()
        tasks = server.task_count()
    failed = sum(1 for process in processes if process.returncode != 0)
    if failed:
        print("\n".join(output[-1500:] for output in outputs))
    return (
        f"{limit:>6,}/min over {window:g} s {2 * rows:>6,} {tasks:>6,} {seconds:>8.1f} {stats['requests']:>9,} "
        f"{stats['rate_limited']:>6,} {stats['rate_limited'] / stats['requests']:>7.1%} {failed:>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=120, help="rows per machine")
    parser.add_argument("--limit", type=int, default=150, help="the token's requests per minute (150: a free workspace)")
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--window", type=float, default=60.0, help="the limit's sliding window (Asana: 60 s)")
    args = parser.parse_args()
    print(f"two machines, {args.rows:,} rows each, one token, {args.latency_ms:g} ms latency")
    print(f"{'limit':<22} {'rows':>6} {'tasks':>6} {'seconds':>8} {'requests':>9} {'429s':>6} {'429 share':>7} {'failed':>6}")
    print(run(args.rows, args.limit, args.latency_ms, args.window), flush=True)


if __name__ == "__main__":
    main()
