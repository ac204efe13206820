"""Three syncs on one token, launched at once through Dagster: together they stay at Asana's
rate limit, never above it.

    .venv/bin/python benchmarks/three_syncs.py [--rows 700] [--limit 1500]

`dagster dev` (webserver + daemon, the project's instance settings: every sync's
writes in its token's pool, limit 1) serves three syncs, each into its own
project, all with the same token. Their jobs are submitted at the same moment
through GraphQL. The emulator enforces `--limit` requests a minute for that
token (at 100 ms latency). The table shows the creates of all three together:
per second over the writing window (first to last write the emulator saw),
that rate as a share of the limit (goal: at least 90%), the 429s answered
(goal: 0), and the whole span from submission to the last run's end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import httpx
from dagster_graphql import DagsterGraphQLClient

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "0/threesyncsthreesyncsthreesyncs00"
PROJECTS = ("1200000000000100", "1200000000000110", "1200000000000120")
RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status startTime endTime } } } }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_models(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as connection:
        for number in range(len(PROJECTS)):
            connection.execute(
                f"CREATE TABLE model_{number} AS SELECT 'row-' || i AS id, 'Sync {number}: task ' || i AS name, "
                f"DATE '2026-12-01' + (i % 30)::INTEGER AS due_on FROM range({rows}) t(i)"
            )


DEFINITIONS = textwrap.dedent(
    """
    import os

    import dagster as dg

    from asana_sync_pipeline.definitions import build_resources
    from asana_sync_pipeline.lib.factory import build_sync_definitions
    from asana_sync_pipeline.lib.sync_spec import SyncSpec

    PROJECTS = {projects!r}
    defs = dg.Definitions.merge(
        *(
            build_sync_definitions(SyncSpec(name=f"sync_{{number}}", model_query=f"SELECT * FROM model_{{number}}", project_gid=project))
            for number, project in enumerate(PROJECTS)
        ),
        dg.Definitions(resources=build_resources(os.environ)),
    )
    """
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=700, help="rows per sync")
    parser.add_argument("--limit", type=int, default=1500, help="requests per minute for the token")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="three-syncs-"))
    (folder / "home").mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", folder / "home" / "dagster.yaml")
    write_models(folder / "warehouse.duckdb", args.rows)
    (folder / "three_syncs.py").write_text(DEFINITIONS.format(projects=PROJECTS))
    emulator = subprocess.Popen(
        [sys.executable, "-m", "asana_sync_pipeline.emulator", "--port", "0", "--token", TOKEN,
         "--latency-ms", "100", "--rate-limit-per-minute", str(args.limit)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    base_url = re.search(r"(http://\S+/api/1\.0)", emulator.stdout.readline()).group(1)
    stats_url = base_url.removesuffix("/api/1.0") + "/_emulator/stats"
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(folder / "home"),
        "ASANA_ACCESS_TOKEN": TOKEN,
        "ASANA_BASE_URL": base_url,
        "ASANA_REQUESTS_PER_MINUTE": str(args.limit),
        "WAREHOUSE_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "SYNC_STATE_DUCKDB_PATH": str(folder / "state.duckdb"),
        "PYTHONPATH": str(ROOT),
    }
    dev = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-f", str(folder / "three_syncs.py")],
        cwd=folder, env=env, stdout=(folder / "dagster.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        submitted = time.monotonic()
        run_ids = [client.submit_job_execution(f"sync_{number}_asana_sync_job") for number in range(len(PROJECTS))]
        first_write = last_write = None
        writes = 0
        while True:
            stats = httpx.get(stats_url).json()
            now = time.monotonic()
            if stats["write_requests"] > writes:
                first_write = first_write or now
                last_write = now
                writes = stats["write_requests"]
            statuses = {run_id: client.get_run_status(run_id).value for run_id in run_ids}
            if all(status in ("SUCCESS", "FAILURE", "CANCELED") for status in statuses.values()):
                break
            time.sleep(0.25)
        ended = time.monotonic()
        stats = httpx.get(stats_url).json()
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(timeout=60)
        emulator.terminate()
        emulator.wait(timeout=10)
    window = (last_write - first_write) if first_write and last_write else float("nan")
    rate = stats["tasks"] / window
    print(f"three syncs, one token, {args.limit:,} requests/min (100 ms latency), {args.rows:,} rows each")
    print(f"{'runs':<24} {'tasks':>6} {'write window s':>15} {'creates/s':>10} {'of limit':>9} {'429s':>5} {'span s':>7}")
    print(
        f"{', '.join(sorted(set(statuses.values()))):<24} {stats['tasks']:>6} {window:>15.1f} {rate:>10.1f} "
        f"{rate * 60 / args.limit:>8.0%} {stats['rate_limited']:>5} {ended - submitted:>7.1f}"
    )
    if not os.environ.get("KEEP"):
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(folder)


if __name__ == "__main__":
    main()
