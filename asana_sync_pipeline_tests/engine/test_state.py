"""The state store: GIDs, intents and rejections survive in the DuckDB file, written in batches."""

import duckdb
import pandas as pd

from asana_sync_pipeline.engine.state import Outcome, StateStore

PROJECT = "100"


def test_outcomes_record_gids_settle_intents_and_clear_rejections(tmp_path):
    store = StateStore(str(tmp_path / "state.duckdb"))
    store.record_intents(PROJECT, "run-1", [("a", {"name": "A"}), ("b", {"name": "B"})])
    store.start_run(PROJECT, "run-1", ["a", "b", "c"], pd.DataFrame({"primary_key": ["c"], "field": ["name"], "reason": ["empty"]}))
    store.apply(
        PROJECT,
        "run-1",
        [
            Outcome("a", task_gid="111", payload_hash=2**63 + 5, clear_intent=True),
            Outcome("b", field="due_on", reason="due_on: bad", clear_intent=True),
        ],
    )
    synced = store.synced(PROJECT)
    assert synced.to_dict("records") == [{"primary_key": "a", "task_gid": "111", "payload_hash": 2**63 + 5}]
    assert store.open_intents(PROJECT) == []
    assert store.rejections(PROJECT)[["primary_key", "field"]].to_dict("records") == [
        {"primary_key": "b", "field": "due_on"},
        {"primary_key": "c", "field": "name"},
    ]
    store.start_run(PROJECT, "run-2", ["b", "c"], pd.DataFrame(columns=["primary_key", "field", "reason"]))
    store.apply(PROJECT, "run-2", [Outcome("b", task_gid="222", payload_hash=1)])
    assert store.rejections(PROJECT).empty
    assert set(store.synced(PROJECT)["primary_key"]) == {"a", "b"}


def test_an_unsettled_intent_survives_for_the_next_run(tmp_path):
    path = str(tmp_path / "state.duckdb")
    StateStore(path).record_intents(PROJECT, "run-1", [("a", {"name": "A", "projects": [PROJECT]})])
    intents = StateStore(path).open_intents(PROJECT)
    assert [(intent.primary_key, intent.payload["name"]) for intent in intents] == [("a", "A")]


def test_state_is_kept_per_project(tmp_path):
    store = StateStore(str(tmp_path / "state.duckdb"))
    store.apply("1", "r", [Outcome("a", task_gid="11", payload_hash=1)])
    store.apply("2", "r", [Outcome("a", task_gid="22", payload_hash=1)])
    assert store.synced("1")["task_gid"].tolist() == ["11"]
    assert store.synced("2")["task_gid"].tolist() == ["22"]


def test_a_writer_waits_for_another_process_lock(tmp_path):
    import subprocess
    import sys
    import time

    path = tmp_path / "state.duckdb"
    StateStore(str(path)).synced(PROJECT)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('locked', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    StateStore(str(path)).apply(PROJECT, "r", [Outcome("a", task_gid="1", payload_hash=1)])
    assert time.monotonic() - started >= 0.5
    holder.wait()
    assert duckdb.connect(str(path)).execute("select count(*) from synced_tasks").fetchone() == (1,)
