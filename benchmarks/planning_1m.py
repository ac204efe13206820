"""Planning a 1,000,000-row model: load + validate + normalize + diff, beside DuckDB's own read.

    .venv/bin/python benchmarks/planning_1m.py [--rows 1000000]

Builds a warehouse model of realistic shape in a temporary DuckDB file, then in
this one process measures (a) DuckDB alone reading the rows into pandas
(`SELECT * ... .df()`), (b) the project's own read of the model
(`warehouse.read_model`: repeated text as categoricals) and (c) the whole
planning step as a run does it (`runner.plan_sync`): that read, the field rules, the
hashes and the diff against a DuckDB sync state holding half the rows with the field
values each was last synced with, 1% of them changed since (their field changes
computed from those values), and again with 10% changed. (d) does the same for a model written in
names — four custom fields by name (an enum option, multi-enum options, a date,
a person by email), tags and a section by name, assignees by email — whose
schema is read from an emulator first (a handful of requests), beside DuckDB's
read of that model. All are timed several times, alternating, after a warm-up;
the table shows medians. Peak memory is the process's maximum RSS; the state's size
on disk per row is printed too. (e) times the dry-run job (`warehouse_model` + `asana_task_payloads`
through Dagster) against an empty state and against the state of (c). Goal: (c), (d) and (e) at
most 3x DuckDB's read, at most 2 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from asana_sync_pipeline.engine.asana.client import AsanaClient  # noqa: E402
from asana_sync_pipeline.engine.asana.connection import check_connection  # noqa: E402
from asana_sync_pipeline.engine.fields.mapping import resolve_mapping  # noqa: E402
from asana_sync_pipeline.engine.fields.rule_selection import schema_needs  # noqa: E402
from asana_sync_pipeline.engine.fields.schema import ProjectSchema, SchemaNeeds, read_schema  # noqa: E402
from asana_sync_pipeline.engine.model.warehouse import read_model  # noqa: E402
from asana_sync_pipeline.engine.planning import Operation, build_plan  # noqa: E402
from asana_sync_pipeline.engine.runner import plan_sync  # noqa: E402
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings  # noqa: E402
from asana_sync_pipeline.engine.state import DuckDBStateStore, Outcome, SyncScope  # noqa: E402
from asana_sync_pipeline.lib.assets import build_sync_assets  # noqa: E402
from asana_sync_pipeline.lib.io_managers import DRY_RUN_TAG, SyncIOManager  # noqa: E402
from asana_sync_pipeline.lib.resources import AsanaResource, SyncStateResource  # noqa: E402
from asana_sync_pipeline.lib.sync_spec import SyncSpec  # noqa: E402

QUERY = "SELECT * FROM asana_task_model"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

MODEL_SQL = """
CREATE TABLE asana_task_model AS
SELECT
    'acct-' || lpad(i::VARCHAR, 8, '0') AS id,
    'Follow up with account ' || i AS name,
    CASE WHEN i % 3 = 0 THEN 'Usage dropped ' || (i % 60) || '% in 30 days' END AS notes,
    CASE WHEN i % 7 = 0 THEN '<body>Check <strong>renewal</strong> for ' || (i % 500) || '</body>' END AS html_notes,
    CASE WHEN i % 5 <> 0 THEN DATE '2026-01-01' + (i % 365)::INTEGER END AS due_on,
    CASE WHEN i % 5 = 0 THEN TIMESTAMPTZ '2026-01-01 09:00:00+00' + to_hours(i % 2000) END AS due_at,
    ['ada@acme.example', 'grace@acme.example', '1200000000000013', 'me'][1 + i % 4] AS assignee,
    CASE i % 4 WHEN 0 THEN '1200000000000201' WHEN 1 THEN '1200000000000201, 1200000000000202'
        WHEN 2 THEN '1200000000000204' END AS tags,
    i % 11 = 0 AS completed,
    '{"1200000000000302": ' || (i % 1000) * 100 || ', "1200000000000303": "120000000000031' || (1 + i % 3) || '"}'
        AS custom_fields,
    TIMESTAMP '2026-01-01' + to_minutes(i) AS updated_at
FROM range(?) t(i)
"""
NAMED_QUERY = "SELECT * FROM asana_task_model_named"
NAMED_MODEL_SQL = """
CREATE TABLE asana_task_model_named AS
SELECT
    'acct-' || lpad(i::VARCHAR, 8, '0') AS id,
    'Follow up with account ' || i AS name,
    CASE WHEN i % 3 = 0 THEN 'Usage dropped ' || (i % 60) || '% in 30 days' END AS notes,
    CASE WHEN i % 5 <> 0 THEN DATE '2026-01-01' + (i % 365)::INTEGER END AS due_on,
    ['ada@acme.example', 'Grace@acme.example', 'alan@acme.example', 'me'][1 + i % 4] AS assignee,
    ['churn-risk', 'churn-risk, Enterprise', 'renewal', NULL][1 + i % 4] AS tags,
    ['To triage', 'In progress'][1 + i % 2] AS section,
    ['Green', 'yellow', 'RED'][1 + i % 3] AS "custom_fields.Health",
    ['Analytics', 'Analytics, Warehouse', 'reverse etl, warehouse'][1 + i % 3] AS "custom_fields.Products",
    DATE '2026-06-01' + (i % 400)::INTEGER AS "custom_fields.Renewal date",
    ['ada@acme.example', 'grace@acme.example', 'katherine@acme.example'][1 + i % 3] AS "custom_fields.Account executive",
    i % 11 = 0 AS completed
FROM range(?) t(i)
"""


def schema_of(base_url: str, project_gid: str, needs: SchemaNeeds) -> ProjectSchema:
    async def read() -> ProjectSchema:
        async with AsanaClient(AsanaSettings(access_token="0/planning", base_url=base_url)) as client:
            info = await check_connection(client, project_gid)
            return await read_schema(client, info.project_gid, info.workspace_gid, info.user_gid, needs)

    return asyncio.run(read())


def state_with_half_the_rows(model: pd.DataFrame, folder: str, every: int) -> tuple[DuckDBStateStore, SyncScope]:
    """A DuckDB state holding half the rows with the values each was synced with; one in `every` changed since."""
    first = build_plan(model.head(len(model) // 2), SyncSettings())
    outcomes = []
    for n, row in enumerate(first.rows()):
        written = first.written_values(row.position)
        changed = n % every == 0
        if changed:
            written["notes"] = "an older note"
        outcomes.append(
            Outcome(row.key, task_gid=str(1_300_000_000_000_000 + n), payload_hash=row.payload_hash ^ int(changed), written=written)
        )
    store, scope = DuckDBStateStore(str(Path(folder) / f"state-{every}.duckdb")), SyncScope("default", "1200000000000100")
    store.apply(scope, "prepared", outcomes)
    return store, scope


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dry_run_through_dagster(
    warehouse: str, folder: str, *, pickled: bool = False, query: str = QUERY, state: str = "state.duckdb"
) -> float:
    """Seconds of the dry-run job: the first two assets materialized, as `asana_dry_run_job` does (no Asana
    request); `pickled`: with Dagster's filesystem IO manager between them instead (before this release);
    `query`: another model (one row: what the run costs Dagster whatever the model); `state`: the
    sync state's file in `folder` (an empty one by default: every row a create)."""
    io_manager = dg.FilesystemIOManager(base_dir=str(Path(folder) / "io")) if pickled else SyncIOManager(base_dir=str(Path(folder) / "io"))
    resources = {
        "asana": AsanaResource(access_token=None, project_gid="1200000000000100"),
        "warehouse": DuckDBResource(database=warehouse, connection_config={"access_mode": "READ_ONLY"}),
        "sync_state": SyncStateResource(database=str(Path(folder) / state)),
        "io_manager": io_manager,
    }
    with dg.instance_for_test() as instance:
        started = time.perf_counter()
        warehouse_model, asana_task_payloads, _ = build_sync_assets(SyncSpec(model_query=query))
        result = dg.materialize(
            [warehouse_model, asana_task_payloads], resources=resources, instance=instance, run_config=QUIET,
            tags={DRY_RUN_TAG: "true"},
        )  # fmt: skip
        seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit("the dry run through Dagster failed")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "warehouse.duckdb")
        with duckdb.connect(path) as connection:
            connection.execute(MODEL_SQL, [args.rows])
            connection.execute(NAMED_MODEL_SQL, [args.rows])

        def read(query: str = QUERY) -> pd.DataFrame:
            with duckdb.connect(path, read_only=True) as connection:
                return connection.execute(query).df()

        def load(query: str = QUERY) -> pd.DataFrame:
            with duckdb.connect(path, read_only=True) as connection:
                return read_model(connection, query)

        started = time.perf_counter()
        stores = {every: state_with_half_the_rows(load(), folder, every) for every in (100, 10)}
        store, scope = stores[100]
        state_rows = len(store.synced(scope))
        state_bytes = (Path(folder) / "state-100.duckdb").stat().st_size
        prepared = time.perf_counter() - started

        read_times, load_times = [], []
        plan_times: dict[int, list[float]] = {every: [] for every in stores}
        for _ in range(args.repeats):
            for reader, times in ((read, read_times), (load, load_times)):
                started = time.perf_counter()
                model = reader()
                times.append(time.perf_counter() - started)
                del model
            for every, (store, scope) in stores.items():
                started = time.perf_counter()
                plan = plan_sync(load(), SyncSettings(), store=store, scope=scope, asana=None).plan
                plan_times[every].append(time.perf_counter() - started)
                counts = plan.counts()
                field_changes = sum(len(changes) for changes in plan.changes.values())
                assert counts[Operation.UPDATE] == -(-state_rows // every) and field_changes == counts[Operation.UPDATE]
                del plan
        sample = load(NAMED_QUERY).head(1000)
        needs = schema_needs(sample, resolve_mapping(list(sample.columns), SyncSettings()))
        with EmulatorServer(EmulatorSettings(token="0/planning")) as server:
            schema = schema_of(server.base_url, server.project_gid, needs)
        named_read_times, named_plan_times = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            model = read(NAMED_QUERY)
            named_read_times.append(time.perf_counter() - started)
            del model
            started = time.perf_counter()
            named = build_plan(load(NAMED_QUERY), SyncSettings(), None, schema)
            named_plan_times.append(time.perf_counter() - started)
            named_counts = named.counts()
            del named
        named_read, named_plan = statistics.median(named_read_times), statistics.median(named_plan_times)
        read_seconds = statistics.median(read_times)
        plan_seconds = {every: statistics.median(times) for every, times in plan_times.items()}
        load_seconds = statistics.median(load_times)
        planning_rss = peak_rss_mb()
        dry_run_through_dagster(path, folder)
        dagster_seconds = statistics.median(dry_run_through_dagster(path, folder) for _ in range(args.repeats))
        pickled_seconds = statistics.median(dry_run_through_dagster(path, folder, pickled=True) for _ in range(args.repeats))
        run_overhead = statistics.median(dry_run_through_dagster(path, folder, query=f"{QUERY} LIMIT 1") for _ in range(3))
        with_state = statistics.median(dry_run_through_dagster(path, folder, state="state-100.duckdb") for _ in range(args.repeats))

    print(
        f"rows: {args.rows:,}   (state: {state_rows:,} rows with their synced field values, {state_bytes / state_rows:,.0f} "
        f"bytes per row on disk, prepared in {prepared:.1f} s)"
    )
    print(f"{'step':<44} {'seconds':>8} {'ratio':>7}")
    print(f"{'DuckDB read into pandas':<44} {read_seconds:>8.2f} {1.0:>7.2f}")
    print(f"{'read_model (repeated text as categoricals)':<44} {load_seconds:>8.2f} {load_seconds / read_seconds:>7.2f}")
    for every, seconds in plan_seconds.items():
        label = f"plan, {100 // every}% of the state's rows changed"
        print(f"{label:<44} {seconds:>8.2f} {seconds / read_seconds:>7.2f}")
    print(f"{'dry-run job (see below)':<44} {dagster_seconds:>8.2f} {dagster_seconds / read_seconds:>7.2f}")
    print(f"{'the same, pickled between the steps (before)':<44} {pickled_seconds:>8.2f} {pickled_seconds / read_seconds:>7.2f}")
    print(f"{'the dry-run job of a one-row model':<44} {run_overhead:>8.2f} {run_overhead / read_seconds:>7.2f}")
    own = dagster_seconds - run_overhead
    print(f"{'dry-run job less that (its work on 1M rows)':<44} {own:>8.2f} {own / read_seconds:>7.2f}")
    print(f"{'dry-run job against the state of (c), 1%':<44} {with_state:>8.2f} {with_state / read_seconds:>7.2f}")
    print(f"{'model in names: DuckDB read into pandas':<44} {named_read:>8.2f} {1.0:>7.2f}")
    print(f"{'model in names: plan, schema read ' + str(schema.reads) + ' requests':<44} {named_plan:>8.2f} {named_plan / named_read:>7.2f}")
    print(f"medians of {args.repeats} alternating repetitions, after a warm-up; peak RSS: {planning_rss:,.0f} MB")
    print("dry-run job: warehouse_model + asana_task_payloads materialized by dg.materialize as asana_dry_run_job does (after")
    print("a first run; SyncIOManager hands the model over in memory and stores nothing), against an empty state")
    print("(every row a create; then against the state of the 1%-changed plan: 500,000 synced rows, 5,000 updates);")
    print("before: Dagster's filesystem IO manager pickling the model and the plan between them")
    print(f"operations (10% changed): {counts} ({field_changes:,} field changes); model in names: {named_counts}")


if __name__ == "__main__":
    main()
