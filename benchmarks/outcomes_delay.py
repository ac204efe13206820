"""How long a person's change takes to reach the warehouse with `outcomes_schedule` at its shortest
(every minute), timed for real: the Dagster daemon runs the default sync's `asana_outcomes_schedule`
(`ASANA_OUTCOMES_CRON="* * * * *"`), launching each refresh as Dagster would in production (a run
in its own process), while Ada, under her own token, changes a task's due date in the emulator and
the script watches `asana_sync.asana_task_outcomes` until the new date is there.

    .venv/bin/python benchmarks/outcomes_delay.py [--samples 5] [--rows 200]

Each sample starts at a random moment of the minute (as a person's change does). Printed: each
sample's delay and the median, beside the bound docs/performance.md gives (the minute plus the
refresh job's seconds, plus the daemon's tick and a run's start in its own process).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.emulator.settings import default_fixture  # noqa: E402
from asana_sync_pipeline_tests.dagster_dev import stop_group  # noqa: E402

TOKEN = "0/outcomes-delay"
PERSON = "person-ada-delay"
BIN = Path(sys.executable).parent
DEFINITIONS = "from asana_sync_pipeline.definitions import build_definitions\n\ndefs = build_definitions(include_defs_folder=False)\n"


def warehouse_due_on(path: Path, gid: str) -> str | None:
    """The task's due date in the outcomes table, or None while the table or the file is not readable."""
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            found = connection.execute("SELECT due_on FROM asana_sync.asana_task_outcomes WHERE task_gid = ?", [gid]).fetchone()
    except duckdb.Error:
        return None
    return None if found is None or found[0] is None else str(found[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory(prefix="outcomes-delay-") as name, EmulatorServer(
        EmulatorSettings(token=TOKEN, fixture=default_fixture({"ada@acme.example": PERSON}))
    ) as server:
        folder = Path(name)
        home = folder / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        (folder / "definitions.py").write_text(DEFINITIONS)
        warehouse = folder / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute(
                f"CREATE TABLE asana_task_model AS SELECT 'acct-' || i AS id, 'Follow up ' || i AS name, "
                f"DATE '2027-01-01' AS due_on FROM range({args.rows}) t(i)"
            )
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("ASANA_", "SYNC_STATE", "WAREHOUSE_"))},
            "DAGSTER_HOME": str(home), "ASANA_ACCESS_TOKEN": TOKEN, "ASANA_BASE_URL": server.base_url,
            "ASANA_PROJECT_GID": server.project_gid, "WAREHOUSE_DUCKDB_PATH": str(warehouse),
            "SYNC_STATE_DUCKDB_PATH": str(folder / "state.duckdb"), "ASANA_OUTCOMES_CRON": "* * * * *",
            "ASANA_SYNC_BUDGET_DIR": str(folder / "budget"),
        }  # fmt: skip
        where = ["-f", str(folder / "definitions.py")]
        subprocess.run([str(BIN / "dagster"), "job", "execute", "-j", "asana_sync_job", *where], env=env, check=True,
                       capture_output=True, cwd=folder)  # fmt: skip
        subprocess.run([str(BIN / "dagster"), "schedule", "start", "asana_outcomes_schedule", *where], env=env, check=True,
                       capture_output=True, cwd=folder)  # fmt: skip
        with duckdb.connect(str(folder / "state.duckdb"), read_only=True) as connection:
            gids = [row[0] for row in connection.execute("SELECT task_gid FROM synced_tasks ORDER BY primary_key").fetchall()]
        log = (folder / "daemon.log").open("w")
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *where], env=env, cwd=folder, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        delays: list[float] = []
        try:
            with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {PERSON}"}, timeout=30) as ada:
                for sample in range(args.samples):
                    time.sleep(random.uniform(5, 60))
                    gid, day = gids[sample], f"2027-03-{sample + 1:02d}"
                    ada.put(f"/tasks/{gid}", json={"data": {"due_on": day}}).raise_for_status()
                    changed = time.monotonic()
                    while warehouse_due_on(warehouse, gid) != day:
                        if time.monotonic() - changed > 300:
                            raise SystemExit(f"sample {sample + 1}: not in the warehouse after 300 s; see {folder / 'daemon.log'}")
                        time.sleep(0.5)
                    delays.append(time.monotonic() - changed)
                    print(f"sample {sample + 1}: {delays[-1]:.1f} s", file=sys.stderr, flush=True)
        finally:
            stop_group(daemon)
    print(f"A person's change to its row in the warehouse, asana_outcomes_schedule every minute ({args.rows} tasks)\n")
    print("| sample | delay (s) |")
    print("| ---: | ---: |")
    for number, delay in enumerate(delays, start=1):
        print(f"| {number} | {delay:.1f} |")
    print(f"\nmedian {statistics.median(delays):.1f} s, longest {max(delays):.1f} s")


if __name__ == "__main__":
    main()
