"""What keeping the outcomes fresh costs: the requests and seconds of a refresh (the outcomes job:
Asana read, never written, the three tables into the warehouse) against the project's size and
the share of tasks people changed, the delay from a person's change to its row in the warehouse,
and the requests of the run after a run that wrote every task.

    .venv/bin/python benchmarks/outcomes.py [--sizes 1000,10000]

For each size: a sync run creates every task (its requests, and those of the run after it, which
should read its own writes back for nothing); then refreshes of the outcomes job, in process, with
0%, 1% and 10% of the tasks changed by a person (Ada, under her own token: due dates), and with
the events token expired (one listing since the last refresh). The emulator runs in this process
(no latency, no rate limit): requests, not the pace, are measured. With `outcomes_schedule` at its
shortest (every minute), a person's change reaches the warehouse within a minute plus the job's
seconds (the table's last column).
Goals: nothing new costs 1 request; k changed tasks 1 + 2 * ceil(k/100) (the events, 100 a call, then the
changed tasks in pages of 100: 3 for up to 100); an expired token 1 + ceil(k/100) (its refusal, then one
listing of what changed since the last refresh, never a crawl of the project); the run after a big
write reads nothing back (3 requests, as unchanged). The expired step waits LISTING_SKEW first (a
token expires after hours without use; the listing starts that much before the last refresh).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.emulator.settings import default_fixture  # noqa: E402
from asana_sync_pipeline.engine.outcomes.refresh import LISTING_SKEW  # noqa: E402

TOKEN = "0/outcomes-bench"
PERSON = "person-ada-bench"
MODEL = "SELECT i AS account_id, 'Follow up with account ' || i AS name, DATE '2027-01-01' AS due_on FROM range({rows}) t(i)"


class Bench:
    def __init__(self, server: EmulatorServer, folder: Path, rows: int):
        self.server, self.folder, self.rows = server, folder, rows
        os.environ.update(
            {
                "ASANA_ACCESS_TOKEN": TOKEN, "ASANA_BASE_URL": server.base_url, "ASANA_PROJECT_GID": server.project_gid,
                "WAREHOUSE_DUCKDB_PATH": str(folder / "warehouse.duckdb"), "SYNC_STATE_DUCKDB_PATH": str(folder / "state.duckdb"),
                "ASANA_REQUESTS_PER_MINUTE": "1000000", "ASANA_SYNC_BUDGET_DIR": str(folder),
            }
        )  # fmt: skip
        os.environ.pop("SYNC_STATE_URL", None)
        with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
            connection.execute(f"CREATE OR REPLACE TABLE asana_task_model AS {MODEL.format(rows=rows)}")
        from asana_sync_pipeline.definitions import build_definitions

        self.defs = build_definitions(include_defs_folder=False)
        self.instance = dg.DagsterInstance.ephemeral()

    def requests(self) -> int:
        stats = httpx.get(f"{self.server.url}/_emulator/stats").raise_for_status().json()
        return int(sum(stats["by_method"].values()))

    def reset(self) -> None:
        httpx.post(f"{self.server.url}/_emulator/reset_stats").raise_for_status()

    def run(self, job: str) -> tuple[int, float]:
        self.reset()
        started = time.perf_counter()
        config = {"ops": {"asana_task_payloads": {"config": {"primary_key": "account_id"}}}} if job == "asana_sync_job" else {}
        result = self.defs.resolve_job_def(job).execute_in_process(run_config=config, instance=self.instance, raise_on_error=False)
        seconds = time.perf_counter() - started
        if not result.success:
            raise SystemExit(f"{job} failed")
        return self.requests(), seconds

    def change(self, count: int, day: int) -> None:
        """Ada changes the due date of `count` tasks spread over the project."""
        with duckdb.connect(str(self.folder / "state.duckdb"), read_only=True) as connection:
            gids = [row[0] for row in connection.execute("SELECT task_gid FROM synced_tasks ORDER BY primary_key").fetchall()]
        with httpx.Client(base_url=self.server.base_url, headers={"Authorization": f"Bearer {PERSON}"}) as ada:
            step = max(1, len(gids) // max(count, 1))
            for gid in gids[::step][:count]:
                ada.put(f"/tasks/{gid}", json={"data": {"due_on": f"2027-02-{day:02d}"}}).raise_for_status()


def measure(rows: int) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as name, EmulatorServer(EmulatorSettings(token=TOKEN, fixture=default_fixture({"ada@acme.example": PERSON}))) as server:
        bench = Bench(server, Path(name), rows)
        requests, seconds = bench.run("asana_sync_job")
        lines.append(f"{rows:>8,} {'sync run that wrote every task':<34} {'':>8} {requests:>9,} {'':>9} {seconds:>8.2f}")
        print(lines[-1], flush=True)
        requests, seconds = bench.run("asana_sync_job")
        lines.append(f"{rows:>8,} {'the sync run after it':<34} {'':>8} {requests:>9,} {'':>9} {seconds:>8.2f}")
        print(lines[-1], flush=True)
        steps = [("0% changed", 0), ("1% changed", rows // 100), ("10% changed", rows // 10), ("expired token, 1% changed", -(rows // 100))]
        for day, (label, count) in enumerate(steps, start=1):
            if count < 0:
                # An events token expires after hours without use: the listing reads what changed since the last
                # refresh less LISTING_SKEW (for clocks that differ), so the project is left quiet that long and
                # refreshed once (nothing new) before the change, as a schedule would.
                time.sleep(LISTING_SKEW.total_seconds() + 1)
                bench.run("asana_outcomes_job")
                bench.change(-count, day)
                httpx.post(f"{server.url}/_emulator/expire_sync_tokens").raise_for_status()
                changed = -count
            else:
                bench.change(count, day)
                changed = count
            requests, seconds = bench.run("asana_outcomes_job")
            pages = math.ceil(changed / 100)  # Asana answers 100 events, or 100 tasks, a call
            goal = 1 if not changed else 1 + pages if count < 0 else 1 + 2 * pages
            lines.append(f"{rows:>8,} {label:<34} {changed:>8,} {requests:>9,} {goal:>9,} {seconds:>8.2f}")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000", help="project sizes, comma separated")
    args = parser.parse_args()
    header = f"{'tasks':>8} {'step':<34} {'changed':>8} {'requests':>9} {'goal':>9} {'seconds':>8}"
    print(header)
    lines = [line for size in args.sizes.split(",") for line in measure(int(size))]
    print("\nrequests: every request the emulator answered in that step (a sync run's include its connection test and")
    print("writes; a refresh's are its reads of Asana alone); goal: 1 when nothing changed, else 1 + 2 * ceil(k/100) (expired: 1 + ceil(k/100));")
    print("seconds: the whole Dagster job in process, the warehouse tables written (the delay from a person's change to")
    print("its row is at most the schedule's minute plus this)")
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
