"""An update of one field on 10,000 tasks: field by field (this release) beside the full update
(every field in a PUT, the task read, its create-only fields compared: what each row got before
fields were recorded, and still gets once after an upgrade).

    .venv/bin/python benchmarks/field_updates.py [--rows 10000]

The emulator runs in this process (no latency, a high rate limit: requests and bytes, not
the pace, are measured); an observer adds up every request and the bytes of every request
body. The model names things as people do (an assignee by email, tags, a section and a
custom field by name), so a full update has create-only fields to check. Goal: one request
per task.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.emulator.observe import Exchange  # noqa: E402
from asana_sync_pipeline.engine.model.warehouse import read_model  # noqa: E402
from asana_sync_pipeline.engine.runner import plan_sync, run_sync  # noqa: E402
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings  # noqa: E402
from asana_sync_pipeline.engine.state import DuckDBStateStore, SyncScope  # noqa: E402

TOKEN = "0/field-updates"
CONNECTION_TEST = 2
"""Reads every run makes once, whatever its size: /users/me and the project."""
MODEL = """
SELECT 'acct-' || i AS id, 'Follow up with account ' || i AS name, '{notes} ' || i AS notes,
       DATE '2026-12-01' + (i % 30)::INTEGER AS due_on, ['ada@acme.example', 'grace@acme.example'][1 + i % 2] AS assignee,
       ['churn-risk', 'churn-risk, enterprise'][1 + i % 2] AS tags, ['To triage', 'In progress'][1 + i % 2] AS section,
       ['Green', 'Yellow', 'Red'][1 + i % 3] AS "custom_fields.Health"
FROM range({rows}) t(i)
"""


class Tally:
    """Requests and request-body bytes the emulator answered."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.bytes = 0

    def __call__(self, exchange: Exchange) -> None:
        self.requests["write" if exchange.method != "GET" else "read"] += 1
        self.bytes += len(exchange.request_body)

    def reset(self) -> None:
        self.requests.clear()
        self.bytes = 0


def sync(server: EmulatorServer, folder: Path, rows: int, notes: str, tally: Tally) -> tuple[float, int]:
    with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
        connection.execute(f"CREATE OR REPLACE TABLE model AS {MODEL.format(notes=notes, rows=rows)}")
        model = read_model(connection, "SELECT * FROM model")
    asana = AsanaSettings(access_token=TOKEN, base_url=server.base_url, requests_per_minute=1_000_000, reconcile_grace_seconds=0)
    store, scope = DuckDBStateStore(str(folder / "state.duckdb")), SyncScope("default", server.project_gid)
    plan = plan_sync(model, SyncSettings(), store=store, scope=scope, asana=asana).plan
    tally.reset()
    started = time.perf_counter()
    _, report = run_sync(plan, asana=asana, scope=scope, store=store, run_id=notes, log=lambda _: None)
    return time.perf_counter() - started, report.updated


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    tally = Tally()
    lines = []
    with tempfile.TemporaryDirectory() as name, EmulatorServer(EmulatorSettings(token=TOKEN), observers=(tally,)) as server:
        folder = Path(name)
        seconds, _ = sync(server, folder, args.rows, "first", tally)
        print(f"created {args.rows:,} tasks in {seconds:.0f} s")
        for label, notes, forget_fields in (("field by field (this release)", "second", False), ("full update (before)", "third", True)):
            if forget_fields:
                with duckdb.connect(str(folder / "state.duckdb")) as connection:
                    connection.execute("UPDATE synced_tasks SET written = NULL")
            seconds, updated = sync(server, folder, args.rows, notes, tally)
            requests = sum(tally.requests.values()) - CONNECTION_TEST
            lines.append(
                f"{label:<32} {updated:>8,} {requests / updated:>13.2f} {tally.requests['write'] / updated:>15.2f} "
                f"{tally.bytes / updated:>14,.0f} {seconds:>8.1f}"
            )
    print(f"one field (notes) changed on every one of {args.rows:,} tasks; emulator in process, no latency")
    print(f"{'update':<32} {'tasks':>8} {'requests/task':>13} {'writes/task':>15} {'bytes sent/task':>14} {'seconds':>8}")
    print("\n".join(lines))
    print(f"(requests per task leave out the run's connection test, {CONNECTION_TEST} reads; the schema is read while planning)")


if __name__ == "__main__":
    main()
