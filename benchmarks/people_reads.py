"""What seeing people's work costs: the reads a run spends on the project's events (or, without a
valid sync token, on one listing), against the project's size, and the time from a hand edit to
its report.

    .venv/bin/python benchmarks/people_reads.py [--sizes 1000,10000]

For each size, a project of that many synced tasks, then runs of the sync with nothing changed in
the model: right after the run that wrote every task (its own writes come back as events, and are
read to be compared), unchanged, after 1% of the tasks were edited by hand (notes, through the
API, by Ada under her own token: edits under the sync's own token are its own), after one hand edit, and with the sync token expired (the fallback: one listing). The
emulator runs in this process (no latency, a high rate limit): reads, not the pace, are measured.
Goals: an unchanged project costs about one read; the fallback one listing (size / 100 pages).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.emulator.settings import default_fixture  # noqa: E402
from asana_sync_pipeline.engine.model.warehouse import read_model  # noqa: E402
from asana_sync_pipeline.engine.runner import plan_sync, run_sync  # noqa: E402
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings  # noqa: E402
from asana_sync_pipeline.engine.state import DuckDBStateStore, SyncScope  # noqa: E402
from asana_sync_pipeline.engine.writing.report import SyncReport  # noqa: E402

TOKEN = "0/people-reads"
PERSON = "person-ada-reads"
MODEL = "SELECT 'acct-' || i AS id, 'Follow up with account ' || i AS name, 'notes ' || i AS notes FROM range({rows}) t(i)"
FIXTURE = {"ada@acme.example": PERSON}
"""The bundled workspace's people with a token of their own: Ada."""


class Project:
    """One emulated project, its warehouse and its state."""

    def __init__(self, server: EmulatorServer, folder: Path, rows: int):
        self.server, self.folder, self.rows = server, folder, rows
        self.asana = AsanaSettings(
            access_token=TOKEN, base_url=server.base_url, requests_per_minute=1_000_000, reconcile_grace_seconds=0
        )
        with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
            connection.execute(f"CREATE OR REPLACE TABLE model AS {MODEL.format(rows=rows)}")

    def sync(self) -> tuple[SyncReport, float]:
        with duckdb.connect(str(self.folder / "warehouse.duckdb"), read_only=True) as connection:
            model = read_model(connection, "SELECT * FROM model")
        store, scope = DuckDBStateStore(str(self.folder / "state.duckdb")), SyncScope("default", self.server.project_gid)
        plan = plan_sync(model, SyncSettings(), store=store, scope=scope, asana=self.asana).plan
        started = time.perf_counter()
        _, report = run_sync(plan, asana=self.asana, scope=scope, store=store, run_id="bench", log=lambda _: None)
        return report, time.perf_counter() - started

    def edit_by_hand(self, count: int, start: int = 0) -> None:
        """A person changes the notes of `count` tasks spread over the project (from the `start`th)."""
        with httpx.Client(base_url=self.server.base_url, headers={"Authorization": f"Bearer {PERSON}"}) as person:
            gids, offset = [], None
            while True:
                params = {"project": self.server.project_gid, "limit": 100, **({"offset": offset} if offset else {})}
                page = person.get("/tasks", params=params).raise_for_status().json()
                gids += [task["gid"] for task in page["data"]]
                if not page.get("next_page"):
                    break
                offset = page["next_page"]["offset"]
            step = max(1, len(gids) // count)
            for gid in gids[start::step][:count]:
                person.put(f"/tasks/{gid}", json={"data": {"notes": "changed by hand"}}).raise_for_status()

    def expire_tokens(self) -> None:
        httpx.post(f"{self.server.url}/_emulator/expire_sync_tokens").raise_for_status()


def measure(rows: int) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as name, EmulatorServer(EmulatorSettings(token=TOKEN, fixture=default_fixture(FIXTURE))) as server:
        project = Project(server, Path(name), rows)
        report, seconds = project.sync()
        print(f"  {rows:,} tasks created in {seconds:.0f} s", flush=True)
        steps = (
            ("right after the run that wrote them", lambda: None),
            ("unchanged", lambda: None),
            ("1% edited by hand", lambda: project.edit_by_hand(rows // 100)),
            ("one edit by hand", lambda: project.edit_by_hand(1, start=1)),
            ("token expired (fallback listing)", project.expire_tokens),
        )
        for label, before in steps:
            before()
            report, seconds = project.sync()
            lines.append(
                f"{rows:>8,} {label:<38} {report.asana_reads:>7,} {report.requests:>9,} {report.edited_in_asana:>7,} "
                f"{report.unmatched_after_run:>9,} {seconds:>8.2f}"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000", help="project sizes, comma separated")
    args = parser.parse_args()
    header = f"{'tasks':>8} {'run':<38} {'reads':>7} {'requests':>9} {'edited':>7} {'differing':>9} {'seconds':>8}"
    print(header)
    lines = [line for size in args.sizes.split(",") for line in measure(int(size))]
    print("\nreads: spent seeing what people did (events, the changed tasks, or the listing); requests: the whole run,")
    print("connection test included; edited: tasks with edits new since the last run; differing: tasks whose synced")
    print("fields still differ from the model (on_asana_edit: keep); seconds: the run, from the plan to its report")
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
