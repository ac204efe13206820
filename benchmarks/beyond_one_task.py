"""Asana beyond one task, measured: how fast rows become tasks from a task template against the jobs
Asana lets one user run at once, and what each feature costs in requests per row.

    .venv/bin/python benchmarks/beyond_one_task.py [--rows 100] [--job-seconds 0.5,1,2] [--feature-rows 200]

1. Templates: every row instantiates the template (`task_template`): the emulator runs at most 5 jobs
   of one user at once (Asana's limit, as reported) and paces requests at 1,500 a minute (a paid
   workspace), each job taking the given time. Rows per minute beside the ceilings the job limit sets
   (5 jobs / job time) and the pace sets (1,500 / requests per row), the requests per row (the job
   polls among them), and the 429s met.
2. Requests per row of each feature on a first run (everything new) and on the next run (nothing
   changed), planning included: plain creates, creates from a template, `depends_on`, `projects`
   (by name), `attachments` (two links), and `adopt_existing` (every row adopts a task made by hand).
   No latency and a high rate limit there: requests, not the pace, are measured.

The emulator runs in this process; an observer counts every request it answers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.emulator.observe import Exchange  # noqa: E402
from asana_sync_pipeline.emulator.settings import default_fixture  # noqa: E402
from asana_sync_pipeline.engine.model.warehouse import read_model  # noqa: E402
from asana_sync_pipeline.engine.runner import plan_sync, run_sync  # noqa: E402
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings  # noqa: E402
from asana_sync_pipeline.engine.state import DuckDBStateStore, SyncScope  # noqa: E402
from asana_sync_pipeline.engine.writing.report import SyncReport  # noqa: E402

TOKEN = "0/beyond-one-task"
PROJECT = "1200000000000100"
TEMPLATE = "1200000000000901"
ASANA_JOBS_AT_ONCE = 5
PAID_PACE = 1500
PLAIN = "SELECT 'acct-' || i AS id, 'Account ' || i AS name, 'notes ' || i AS notes FROM range({rows}) t(i)"


def fixture() -> dict:
    data = default_fixture()
    data["task_templates"] = [
        {
            "gid": TEMPLATE, "name": "Churn playbook", "project": PROJECT, "notes": "Work through the playbook.",
            "subtasks": [{"name": "Call the champion"}, {"name": "Review usage"}, {"name": "Agree on a plan"}],
        }
    ]  # fmt: skip
    return data


class Tally:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    def __call__(self, exchange: Exchange) -> None:
        self.requests["write" if exchange.method != "GET" else "read"] += 1
        if exchange.path.startswith("/jobs/"):
            self.requests["job polls"] += 1
        if exchange.status == 429:
            self.requests["429"] += 1

    def reset(self) -> None:
        self.requests.clear()


def sync(server: EmulatorServer, folder: Path, query: str, settings: SyncSettings, asana: AsanaSettings) -> tuple[SyncReport, float]:
    with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
        connection.execute(f"CREATE OR REPLACE TABLE model AS {query}")
        model = read_model(connection, "SELECT * FROM model")
    store, scope = DuckDBStateStore(str(folder / "state.duckdb")), SyncScope("default", server.project_gid)
    started = time.perf_counter()
    plan = plan_sync(model, settings, store=store, scope=scope, asana=asana, see_people=False).plan
    _, report = run_sync(plan, asana=asana, scope=scope, store=store, run_id="bench", log=lambda _: None)
    return report, time.perf_counter() - started


def template_throughput(rows: int, job_seconds: float) -> str:
    tally = Tally()
    settings = EmulatorSettings(
        token=TOKEN, fixture=fixture(), job_seconds=job_seconds, max_concurrent_jobs=ASANA_JOBS_AT_ONCE, rate_limit_per_minute=PAID_PACE
    )
    with tempfile.TemporaryDirectory() as folder, EmulatorServer(settings, observers=(tally,)) as server:
        asana = AsanaSettings(access_token=TOKEN, base_url=server.base_url, requests_per_minute=PAID_PACE, reconcile_grace_seconds=1)
        report, seconds = sync(server, Path(folder), PLAIN.format(rows=rows), SyncSettings(task_template="Churn playbook"), asana)
        assert report.created == rows and server.task_count() == rows * 4, (report.summary(), server.task_count())
    per_minute = rows / seconds * 60
    per_row = sum(tally.requests[kind] for kind in ("read", "write")) / rows
    ceiling = min(ASANA_JOBS_AT_ONCE / job_seconds * 60, PAID_PACE / per_row)
    return (
        f"| {job_seconds:g} s | {rows:,} | {seconds:,.1f} s | {per_minute:,.0f} | {ASANA_JOBS_AT_ONCE / job_seconds * 60:,.0f} | "
        f"{PAID_PACE / per_row:,.0f} | {per_minute / ceiling:.0%} | {per_row:.1f} | {tally.requests['job polls'] / rows:.1f} | "
        f"{tally.requests['429']} |"
    )


def prepare_hand_made(rows: int) -> Callable[[EmulatorServer], None]:
    def made(server: EmulatorServer) -> None:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            for i in range(rows):
                api.post("/tasks", json={"data": {"name": f"Account {i}", "projects": [PROJECT]}}).raise_for_status()

    return made


FEATURES: list[tuple[str, str, dict, Callable[[int], Callable[[EmulatorServer], None]] | None]] = [
    ("plain creates (POST /tasks)", PLAIN, {}, None),
    ("task_template", PLAIN, {"task_template": "Churn playbook"}, None),
    ("depends_on (a chain of 10)", PLAIN.replace(" FROM", ", CASE WHEN i % 10 <> 0 THEN 'acct-' || (i - 1) END AS depends_on FROM"), {}, None),
    ("projects (one more, by name)", PLAIN.replace(" FROM", ", 'Quarterly Business Reviews' AS projects FROM"), {}, None),
    ("attachments (two links)", PLAIN.replace(" FROM", ", 'https://bi.example/' || i || ' https://docs.example/' || i AS attachments FROM"), {}, None),
    ("adopt_existing (every row)", PLAIN, {"adopt_existing": {"match": "name", "column": "name"}}, prepare_hand_made),
]


def feature_costs(rows: int) -> list[str]:
    lines = []
    for label, query, overrides, prepare in FEATURES:
        tally = Tally()
        with tempfile.TemporaryDirectory() as folder, EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture(), job_seconds=0.05), observers=(tally,)) as server:
            if prepare is not None:
                prepare(rows)(server)
            asana = AsanaSettings(access_token=TOKEN, base_url=server.base_url, requests_per_minute=1_000_000, reconcile_grace_seconds=0)
            settings = SyncSettings(**overrides)
            tally.reset()
            first, _ = sync(server, Path(folder), query.format(rows=rows), settings, asana)
            first_counts = Counter(tally.requests)
            tally.reset()
            sync(server, Path(folder), query.format(rows=rows), settings, asana)
            again = Counter(tally.requests)
        lines.append(
            f"| {label} | {first_counts['write'] / rows:.2f} | {first_counts['read'] / rows:.2f} | "
            f"{(first_counts['write'] + first_counts['read']) / rows:.2f} | {again['write'] + again['read']} | "
            f"{first.created:,} created, {first.adopted_existing:,} adopted |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--job-seconds", default="0.5,1,2")
    parser.add_argument("--feature-rows", type=int, default=200)
    args = parser.parse_args()
    print(f"Rows from a task template: at most {ASANA_JOBS_AT_ONCE} jobs at once per user, {PAID_PACE:,} requests a minute")
    print()
    print(
        "| job time | rows | run (planning included) | rows/min | job ceiling (5 jobs / job time) | pace ceiling (1,500 / requests per row) "
        "| of the lower ceiling | requests/row | polls/row | 429s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for job_seconds in (float(value) for value in args.job_seconds.split(",")):
        print(template_throughput(args.rows, job_seconds), flush=True)
    print()
    print(f"Requests per row, {args.feature_rows:,} rows, planning included")
    print()
    print("| feature | writes/row | reads/row | requests/row | next run, nothing changed (requests) | first run |")
    print("| --- | --- | --- | --- | --- | --- |")
    for line in feature_costs(args.feature_rows):
        print(line, flush=True)


if __name__ == "__main__":
    main()
