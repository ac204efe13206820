"""The state store: GIDs, intents, rejections and runs survive, per (sync, project), written in batches.

Every test here that takes `store` runs against each store (a DuckDB file, a fresh
PostgreSQL database); the DuckDB file's own behaviours (locks, damaged files, the
migration of older files) follow. PostgreSQL's own (a lock across processes, errors
without the password, the schema completed in place) are in test_postgres_store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from asana_sync_pipeline.engine.errors import StateStoreError
from asana_sync_pipeline.engine.state import (
    DEFAULT_SYNC,
    RUN_COUNTS,
    DuckDBStateStore,
    EventCursor,
    Outcome,
    PostgresStateStore,
    StateStore,
    SyncScope,
)

PROJECT = "100"
SCOPE = SyncScope("default", PROJECT)
FIXTURES = Path(__file__).with_name("fixtures")
NO_REJECTIONS = pd.DataFrame(columns=["primary_key", "field", "reason"])


@pytest.fixture(params=["duckdb", "postgres"])
def open_store(request, tmp_path) -> Callable[[], StateStore]:
    """Opens a new store object on one place: the same file, or the same database."""
    if request.param == "duckdb":
        return lambda: DuckDBStateStore(str(tmp_path / "state.duckdb"))
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresStateStore(url)


@pytest.fixture
def store(open_store) -> StateStore:
    return open_store()


def run_row(run_id: str, **counts) -> dict:
    moment = datetime(2026, 11, 29, tzinfo=UTC)
    base = dict.fromkeys(RUN_COUNTS, 0)
    return {"run_id": run_id, "sync_mode": "upsert", "started_at": moment, "finished_at": moment, **base, **counts}


def test_outcomes_record_gids_settle_intents_and_clear_rejections(store):
    store.record_intents(SCOPE, "run-1", [("a", {"name": "A"}), ("b", {"name": "B"})])
    store.start_run(SCOPE, "run-1", ["a", "b", "c"], pd.DataFrame({"primary_key": ["c"], "field": ["name"], "reason": ["empty"]}))
    store.apply(
        SCOPE,
        "run-1",
        [
            Outcome("a", task_gid="111", payload_hash=2**63 + 5, clear_intent=True),
            Outcome("b", field="due_on", reason="due_on: bad", clear_intent=True),
        ],
    )
    synced = store.synced(SCOPE)[["primary_key", "task_gid", "payload_hash"]]
    assert synced.to_dict("records") == [{"primary_key": "a", "task_gid": "111", "payload_hash": 2**63 + 5}]
    assert store.open_intents(SCOPE) == []
    assert store.rejections(SCOPE)[["primary_key", "field"]].to_dict("records") == [
        {"primary_key": "b", "field": "due_on"},
        {"primary_key": "c", "field": "name"},
    ]
    store.start_run(SCOPE, "run-2", ["b", "c"], NO_REJECTIONS)
    store.apply(SCOPE, "run-2", [Outcome("b", task_gid="222", payload_hash=1)])
    assert store.rejections(SCOPE).empty
    assert set(store.synced(SCOPE)["primary_key"]) == {"a", "b"}
    assert store.task_gids(SCOPE) == {"111", "222"}


def test_an_unsettled_intent_survives_for_the_next_run(store, open_store):
    store.record_intents(SCOPE, "run-1", [("a", {"name": "A", "projects": [PROJECT]})])
    intents = open_store().open_intents(SCOPE)
    assert [(intent.primary_key, intent.payload["name"]) for intent in intents] == [("a", "A")]


def test_state_is_kept_per_sync_and_project(store):
    scopes = [SyncScope("default", "1"), SyncScope("default", "2"), SyncScope("checks", "1")]
    for number, scope in enumerate(scopes):
        store.apply(scope, "r", [Outcome("a", task_gid=f"{number}", payload_hash=1)])
        store.record_intents(scope, "r", [("b", {"name": scope.sync})])
    assert [store.synced(scope)["task_gid"].tolist() for scope in scopes] == [["0"], ["1"], ["2"]]
    assert [intent.payload["name"] for intent in store.open_intents(SyncScope("checks", "1"))] == ["checks"]
    store.forget_task(SyncScope("checks", "1"), "a")
    assert store.synced(SyncScope("checks", "1")).empty and len(store.synced(SyncScope("default", "1"))) == 1


def test_run_history_keeps_every_count(store):
    store.record_run(SCOPE, run_row("run-1", created=5, rejected=1, recreated=2))
    store.record_run(SyncScope("checks", PROJECT), run_row("run-2", updated=3))
    [run] = store.runs(SCOPE).to_dict("records")
    assert (run["run_id"], run["created"], run["rejected"], run["recreated"]) == ("run-1", 5, 1, 2)


def test_payload_hashes_keep_all_64_bits_and_missing_ones_stay_missing(store):
    hashes = {"zero": 0, "top bit": 2**63, "largest": 2**64 - 1, "none": None}
    store.apply(SCOPE, "r", [Outcome(key, task_gid=f"gid-{key}", payload_hash=value) for key, value in hashes.items()])
    synced = store.synced(SCOPE).set_index("primary_key")["payload_hash"]
    assert {key: (None if pd.isna(value) else int(value)) for key, value in synced.items()} == hashes


def test_a_batch_of_thousands_of_outcomes_is_recorded_at_once(store):
    keys = [f"row-{number:05d}" for number in range(5000)]
    store.record_intents(SCOPE, "r", [(key, {"name": key}) for key in keys])
    store.apply(SCOPE, "r", [Outcome(key, task_gid=str(number), payload_hash=number, clear_intent=True) for number, key in enumerate(keys)])
    assert len(store.synced(SCOPE)) == 5000 and store.open_intents(SCOPE) == []


def test_a_dry_run_leaves_no_state_behind(tmp_path):
    store = DuckDBStateStore(str(tmp_path / "nested" / "state.duckdb"))
    assert store.synced(SCOPE).empty and store.task_gids(SCOPE) == set() and store.open_intents(SCOPE) == []
    assert not (tmp_path / "nested").exists()


def test_a_writer_waits_for_another_process_lock(tmp_path):
    path = tmp_path / "state.duckdb"
    DuckDBStateStore(str(path)).apply(SCOPE, "r", [Outcome("z", task_gid="0", payload_hash=1)])
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('locked', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    told: list[str] = []
    DuckDBStateStore(str(path), log=told.append).apply(SCOPE, "r", [Outcome("a", task_gid="1", payload_hash=1)])
    assert time.monotonic() - started >= 0.5
    [message] = told
    assert message.startswith(f"The sync state at {path} is open in another process (PID {holder.pid}, ")
    assert message.endswith("waiting up to 120 s for it to close")
    holder.wait()
    assert duckdb.connect(str(path)).execute("select count(*) from synced_tasks").fetchone() == (2,)


def test_two_runs_of_one_sync_take_turns_while_other_syncs_go_ahead(store):
    log: list[str] = []
    order: list[str] = []
    with store.exclusive(SCOPE, log.append):

        def second_run() -> None:
            with store.exclusive(SCOPE, log.append):
                order.append("second")

        waiting = threading.Thread(target=second_run)
        waiting.start()
        with store.exclusive(SyncScope("checks", PROJECT), log.append):
            order.append("other sync")
        time.sleep(0.3)
        order.append("first done")
    waiting.join(5)
    assert order == ["other sync", "first done", "second"]
    assert log == [f"Another run of sync 'default' in project {PROJECT} holds its lock on {store.location}; waiting for it to finish"]


@pytest.mark.parametrize("content", [b"not a database at all", b"\x00" * 4096])
def test_a_damaged_state_file_fails_at_once_and_is_left_as_it_is(tmp_path, content):
    path = tmp_path / "state.duckdb"
    path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(StateStoreError) as raised:
        DuckDBStateStore(str(path)).synced(SCOPE)
    message = str(raised.value)
    assert f"The sync state at {path} cannot be used" in message
    assert "will not delete or replace it" in message and "SYNC_STATE_DUCKDB_PATH" in message
    assert time.monotonic() - started < 5
    assert path.read_bytes() == content


def test_a_state_file_from_before_syncs_were_named_belongs_to_the_default_sync(tmp_path):
    path = tmp_path / "state.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute((FIXTURES / "state_v1.sql").read_text())
    store = DuckDBStateStore(str(path))
    scope = SyncScope(DEFAULT_SYNC, "1200000000000100")
    synced = store.synced(scope).sort_values("primary_key")[["primary_key", "task_gid", "payload_hash"]].to_dict("records")
    assert synced == [
        {"primary_key": "acct-1", "task_gid": "1210000000000001", "payload_hash": 12345678901234567890},
        {"primary_key": "acct-2", "task_gid": "1210000000000002", "payload_hash": 42},
    ]
    assert store.synced(SyncScope(DEFAULT_SYNC, "1200000000000110"))["task_gid"].tolist() == ["1210000000000003"]
    assert store.synced(SyncScope("checks", "1200000000000100")).empty
    [intent] = store.open_intents(scope)
    assert (intent.primary_key, intent.payload["name"]) == ("acct-3", "Call Initech")
    assert store.rejections(scope)["primary_key"].tolist() == ["acct-4"]
    [run] = store.runs(scope).to_dict("records")
    assert (run["run_id"], run["created"], run["recreated"]) == ("run-1", 2, 0)
    store.apply(scope, "run-2", [Outcome("acct-3", task_gid="1210000000000004", payload_hash=1, clear_intent=True)])
    assert len(DuckDBStateStore(str(path)).synced(scope)) == 3 and store.open_intents(scope) == []


def test_removal_marks_deletions_and_comments_are_remembered(store):
    from asana_sync_pipeline.engine.state import COMPLETED, CommentIntent

    store.apply(SCOPE, "r1", [Outcome("a", task_gid="1", payload_hash=7), Outcome("b", task_gid="2", payload_hash=8)])
    moment = datetime(2026, 11, 29, tzinfo=UTC)
    store.record_comment_intents(SCOPE, "r1", [CommentIntent("a", "1", "Revenue down 10%", 99, moment)])
    assert [(intent.primary_key, intent.text, intent.comment_hash) for intent in store.open_comment_intents(SCOPE)] == [
        ("a", "Revenue down 10%", 99)
    ]
    store.apply(SCOPE, "r2", [Outcome("a", comment_hash=99), Outcome("b", task_gid="2", payload_hash=8, removed=COMPLETED)])
    assert store.open_comment_intents(SCOPE) == []
    rows = store.synced(SCOPE).set_index("primary_key")
    assert rows.loc["a", "comment_hash"] == 99 and rows.loc["b", "removed"] == COMPLETED
    store.apply(SCOPE, "r3", [Outcome("a", task_gid="1", payload_hash=9), Outcome("b", forget=True)])
    rows = store.synced(SCOPE).set_index("primary_key")
    assert list(rows.index) == ["a"] and rows.loc["a", "comment_hash"] == 99 and rows.loc["a", "payload_hash"] == 9


def test_the_values_each_row_was_synced_with_are_kept_until_an_outcome_brings_new_ones(store):
    store.apply(SCOPE, "run-1", [Outcome("a", task_gid="1", payload_hash=1, written={"notes": "Call", "tags": "11,12"}),
                                 Outcome("b", task_gid="2", payload_hash=2)])
    assert store.written(SCOPE, ["a", "b", "zz"]) == {"a": {"notes": "Call", "tags": "11,12"}}
    store.apply(SCOPE, "run-2", [Outcome("a", task_gid="1", payload_hash=3, removed="completed")])
    assert store.written(SCOPE, ["a"]) == {"a": {"notes": "Call", "tags": "11,12"}}, "an outcome without values keeps them"
    store.apply(SCOPE, "run-3", [Outcome("a", task_gid="1", payload_hash=4, written={"notes": "Café ✓"})])
    assert store.written(SCOPE, ["a"]) == {"a": {"notes": "Café ✓"}}
    assert store.written(SyncScope("other", PROJECT), ["a"]) == {}


def test_rows_are_renamed_without_touching_their_tasks(store):
    store.apply(SCOPE, "run-1", [Outcome("1.00", task_gid="7", payload_hash=5, written={"name": "A"}), Outcome("2", task_gid="8")])
    store.start_run(SCOPE, "run-1", ["1.00"], pd.DataFrame({"primary_key": ["1.00"], "field": ["x"], "reason": ["y"]}))
    store.save_observation(SCOPE, EventCursor("t", datetime(2026, 12, 4, tzinfo=UTC)), {"1.00": {"notes": "by hand"}})
    store.rekey(SCOPE, {"1.00": "1"})
    assert store.people_edits(SCOPE) == {"1": {"notes": "by hand"}}
    synced = store.synced(SCOPE).set_index("primary_key")
    assert synced.loc["1", "task_gid"] == "7" and int(synced.loc["1", "payload_hash"]) == 5 and "1.00" not in synced.index
    assert store.written(SCOPE, ["1"]) == {"1": {"name": "A"}}
    assert store.rejections(SCOPE)["primary_key"].tolist() == ["1"]


def test_released_tasks_are_kept_until_their_release_is_cleared(store):
    store.apply(SCOPE, "run-1", [Outcome("a", task_gid="1", removed="released"), Outcome("b", task_gid="2", removed="released"),
                                 Outcome("c", task_gid="3")])
    assert store.clear_releases(SCOPE, ["b", "c"]) == ["b"], "only a released task's row is forgotten"
    assert sorted(store.synced(SCOPE)["primary_key"]) == ["a", "c"]
    assert store.clear_releases(SCOPE) == ["a"]
    assert store.synced(SCOPE)["primary_key"].tolist() == ["c"]


def test_the_event_cursor_and_peoples_edits_are_kept_together_per_sync_and_project(store):
    assert store.event_cursor(SCOPE) is None and store.people_edits(SCOPE) == {}
    moment = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    edits = {"a": {"notes": "by hand", "tags": ["1", "2"]}, "b": {"custom_fields.301": 12.5, "due_on": None}}
    store.save_observation(SCOPE, EventCursor("token-1", moment), edits)
    assert store.people_edits(SCOPE) == edits
    store.save_observation(SCOPE, EventCursor("token-2", moment), {"b": {"due_on": "2027-01-01"}})
    assert store.event_cursor(SCOPE) == EventCursor("token-2", moment)
    assert store.people_edits(SCOPE) == {"b": {"due_on": "2027-01-01"}}, "each run replaces the edits still in place"
    assert store.event_cursor(SyncScope("other", PROJECT)) is None and store.people_edits(SyncScope("other", PROJECT)) == {}


def test_the_sync_log_keeps_its_days_and_older_lines_leave_the_state(store):
    from datetime import timedelta

    store.start_run(SCOPE, "run-1", ["a", "b"], NO_REJECTIONS)
    store.apply(
        SCOPE,
        "run-1",
        [Outcome("a", task_gid="111", payload_hash=1, action="create"), Outcome("b", field="due_on", reason="due_on: bad", action="reject")],
    )
    logged = store.sync_log(SCOPE, since=datetime.now(UTC) - timedelta(days=90))
    assert sorted(zip(logged["primary_key"], logged["status"], strict=True)) == [("a", "ok"), ("b", "rejected")], logged
    assert store.sync_log(SCOPE, since=datetime.now(UTC) + timedelta(seconds=1)).empty, "lines older than the days kept"
    assert store.sync_log(SCOPE, since=datetime.now(UTC) - timedelta(days=90)).empty, "and they left the state for good"
    store.start_run(SCOPE, "run-2", ["a"], NO_REJECTIONS)
    store.apply(SCOPE, "run-2", [Outcome("a", task_gid="111", payload_hash=2, action="update")])
    assert list(store.sync_log(SCOPE, since=datetime.now(UTC) - timedelta(days=90))["run_id"]) == ["run-2"]
