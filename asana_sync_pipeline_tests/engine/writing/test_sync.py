"""The executor against the emulator: Asana's 429s waited out, writes capped, progress logged."""

import pandas as pd

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.engine.asana.client import AsanaClient
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.runner import run_sync
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings
from asana_sync_pipeline.engine.state import DuckDBStateStore as StateStore
from asana_sync_pipeline.engine.state import SyncScope
from asana_sync_pipeline_tests.conftest import TOKEN


def model(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{n}" for n in range(rows)], "name": [f"Task {n}" for n in range(rows)]})


def sync(server, store, frame, **options):
    asana = AsanaSettings(access_token=TOKEN, base_url=server.base_url, **options)
    messages = []
    plan = build_plan(frame, SyncSettings(), store.synced(SyncScope("default", server.project_gid)))
    _, report = run_sync(plan, asana=asana, scope=SyncScope("default", server.project_gid), store=store, run_id="test", log=messages.append)
    return report, messages


def test_429s_from_asana_are_waited_out_and_every_row_succeeds(tmp_path):
    settings = EmulatorSettings(token=TOKEN, latency_ms=50, max_concurrent_writes=3)
    with EmulatorServer(settings) as server:
        report, messages = sync(server, StateStore(str(tmp_path / "state.duckdb")), model(20), max_concurrent_writes=6)
        assert server.stats.rate_limited > 0
        assert any("429" in message for message in messages)
        assert (report.created, report.rejected) == (20, 0)
        assert server.task_count() == 20


def test_writes_in_flight_stay_within_max_concurrent_writes(tmp_path):
    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=30)) as server:
        report, _ = sync(server, StateStore(str(tmp_path / "state.duckdb")), model(60), max_concurrent_writes=4)
        assert report.created == 60
        assert server.stats.max_writes_in_flight == 4
        assert server.stats.rate_limited == 0


def test_long_syncs_log_progress_with_rate_and_time_left(tmp_path):
    import asyncio

    from asana_sync_pipeline.engine.writing.context import RunContext
    from asana_sync_pipeline.engine.writing.executor import SyncOptions
    from asana_sync_pipeline.engine.writing.sync import TaskSync

    messages = []
    options = SyncOptions(progress_every_seconds=0.2, flush_every_seconds=0.1)
    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=40)) as server:
        asana = AsanaSettings(access_token=TOKEN, base_url=server.base_url, max_concurrent_writes=2)
        store = StateStore(str(tmp_path / "state.duckdb"))

        async def run():
            async with AsanaClient(asana) as client:
                run = RunContext(client, store, SyncScope("default", server.project_gid), "t", "1", messages.append, options)
                return await TaskSync(run).run_plan(build_plan(model(60), SyncSettings()))

        report = asyncio.run(run())
    assert report.created == 60
    progress = [message for message in messages if message.startswith("Progress:")]
    assert progress, messages
    assert "/60 rows written" in progress[0] and "rows/s" in progress[0] and "s left" in progress[0]


def test_a_state_that_stops_accepting_writes_stops_the_writes_to_asana(tmp_path):
    import asyncio

    import pytest

    from asana_sync_pipeline.engine.errors import StateStoreError
    from asana_sync_pipeline.engine.writing.context import RunContext
    from asana_sync_pipeline.engine.writing.executor import SyncOptions
    from asana_sync_pipeline.engine.writing.sync import TaskSync

    class LosesItsLock(StateStore):
        """A store whose lock is lost after its first batch (as a PostgreSQL store's would be)."""

        batches = 0

        def apply(self, scope, run_id, outcomes, **kwargs):
            LosesItsLock.batches += 1
            if LosesItsLock.batches > 1:
                raise StateStoreError("Lost the connection to the sync state while this run held its lock")
            super().apply(scope, run_id, outcomes, **kwargs)

    options = SyncOptions(flush_every_seconds=0.05, flush_every_rows=500)
    with EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=20)) as server:
        asana = AsanaSettings(access_token=TOKEN, base_url=server.base_url, max_concurrent_writes=2)
        store = LosesItsLock(str(tmp_path / "state.duckdb"))
        scope = SyncScope("default", server.project_gid)

        async def run():
            async with AsanaClient(asana) as client:
                run = RunContext(client, store, scope, "t", "1", lambda _: None, options)
                return await TaskSync(run).run_plan(build_plan(model(300), SyncSettings()))

        with pytest.raises(StateStoreError):
            asyncio.run(run())
        written = server.task_count()
    assert written < 60, f"{written} tasks written after the state stopped accepting them"
    recorded = len(StateStore(str(tmp_path / "state.duckdb")).synced(scope))
    assert recorded <= written
