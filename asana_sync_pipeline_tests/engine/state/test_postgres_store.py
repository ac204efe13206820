"""The state in PostgreSQL, beyond the shared suite of test_state: a lock that holds across
processes and is never outlived by its writes, errors that say what to do and never show the
password, reading that creates nothing, and tables completed in place."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from asana_sync_pipeline.engine.errors import StateStoreError
from asana_sync_pipeline.engine.state import RUN_COUNTS, Outcome, PostgresStateStore, SyncScope, open_state_store, utc_now
from asana_sync_pipeline.engine.state.postgres_store import lock_key
from asana_sync_pipeline.engine.state.tables import TABLES

SCOPE = SyncScope("default", "100")
HOLD_THE_LOCK = """
import os, time
from asana_sync_pipeline.engine.state import PostgresStateStore, SyncScope
with PostgresStateStore(os.environ["SYNC_STATE_URL"]).exclusive(SyncScope("default", "100"), print):
    print("locked", flush=True)
    time.sleep(1.5)
"""


def table_names(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()
    return {row[0] for row in rows}


def test_reading_an_empty_database_creates_nothing(postgres_url):
    store = PostgresStateStore(postgres_url)
    assert store.synced(SCOPE).empty and store.task_gids(SCOPE) == set() and store.open_intents(SCOPE) == []
    assert store.rejections(SCOPE).empty and store.runs(SCOPE).empty
    assert table_names(postgres_url) == set()
    store.apply(SCOPE, "r", [Outcome("a", task_gid="1", payload_hash=1)])
    assert table_names(postgres_url) == {table.name for table in TABLES}


def test_the_url_chooses_postgresql_and_its_password_shows_nowhere(postgres_server, postgres_url):
    store = open_state_store(url=postgres_url, database="unused.duckdb")
    assert isinstance(store, PostgresStateStore)
    database = postgres_url.rsplit("/", 1)[1]
    assert store.location == postgres_server.masked_url(database)
    assert postgres_server.password not in repr(store) + str(store.url) + store.location


def test_a_run_in_another_process_holds_the_lock_and_this_one_waits_saying_so(postgres_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK], env={**os.environ, "SYNC_STATE_URL": postgres_url}, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    store = PostgresStateStore(postgres_url)
    log: list[str] = []
    started = time.monotonic()
    with store.exclusive(SCOPE, log.append):
        waited = time.monotonic() - started
    holder.wait(10)
    assert waited >= 0.5
    assert log == [f"Another run of sync 'default' in project 100 holds its lock on {store.location}; waiting for it to finish"]


def test_writes_stop_when_the_lock_is_lost_and_another_run_may_go_ahead(postgres_server, postgres_url):
    store = PostgresStateStore(postgres_url)
    with store.exclusive(SCOPE, print):
        store.apply(SCOPE, "r", [Outcome("a", task_gid="1", payload_hash=1)])
        with postgres_server.connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = (%s::bigint & 4294967295)",
                [lock_key(SCOPE)],
            )
        with pytest.raises(StateStoreError, match="Lost the connection to the sync state .* while this run held its lock"):
            store.apply(SCOPE, "r", [Outcome("b", task_gid="2", payload_hash=1)])
        other: list[str] = []
        with PostgresStateStore(postgres_url).exclusive(SCOPE, other.append):
            assert other == []
    assert store.synced(SCOPE)["primary_key"].tolist() == ["a"]


def test_a_wrong_password_fails_with_what_to_do_and_without_the_password(postgres_server, postgres_url):
    database = postgres_url.rsplit("/", 1)[1]
    wrong = "Wr0ng-passw0rd-never-shown"
    with pytest.raises(StateStoreError) as raised:
        PostgresStateStore(postgres_server.url(database, password=wrong)).synced(SCOPE)
    message = str(raised.value)
    assert message.startswith(f"Cannot connect to the sync state at {postgres_server.masked_url(database)}: ")
    assert "password authentication failed" in message and "Check SYNC_STATE_URL" in message
    assert wrong not in message and postgres_server.password not in message


def test_a_server_that_is_down_fails_at_once_without_the_password():
    url = "postgresql://sync:s3cret-never-shown@127.0.0.1:9/state"
    started = time.monotonic()
    with pytest.raises(StateStoreError) as raised:
        with PostgresStateStore(url).exclusive(SCOPE, print):
            pass
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "Cannot connect to the sync state at postgresql://sync:***@127.0.0.1:9/state" in message
    assert "is running and accepts connections" in message and "s3cret-never-shown" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://sync:s3cret-never-shown@db.internal:port/state",
        "mysql://sync:s3cret-never-shown@db.internal/state",
        "postgresql://sync:s3cret-never-shown@db.internal:5432/",
        "sync:s3cret-never-shown@db.internal/state",
    ],
)
def test_a_url_that_cannot_be_read_is_refused_without_being_repeated(url):
    with pytest.raises(StateStoreError) as raised:
        PostgresStateStore(url)
    assert "SYNC_STATE_URL is not a PostgreSQL URL" in str(raised.value)
    assert "s3cret-never-shown" not in str(raised.value)


def test_tables_of_an_earlier_version_gain_what_is_missing(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE synced_tasks (sync_name TEXT NOT NULL, project_gid TEXT NOT NULL, primary_key TEXT NOT NULL, "
            "task_gid TEXT NOT NULL, payload_hash NUMERIC(20, 0), synced_at TIMESTAMPTZ NOT NULL, "
            "PRIMARY KEY (sync_name, project_gid, primary_key))"
        )
        connection.execute("INSERT INTO synced_tasks VALUES ('default', '100', 'old', '9', 7, now())")
    store = PostgresStateStore(postgres_url)
    store.apply(SCOPE, "run-2", [Outcome("new", task_gid="10", payload_hash=8)])
    counts = {**dict.fromkeys(RUN_COUNTS, 0), "created": 1}
    store.record_run(SCOPE, {"run_id": "run-2", "sync_mode": "upsert", "started_at": utc_now(), "finished_at": utc_now(), **counts})
    assert store.synced(SCOPE).sort_values("primary_key")["task_gid"].tolist() == ["10", "9"]
    assert store.runs(SCOPE)["created"].tolist() == [1]


def test_processes_opening_a_new_database_at_once_all_succeed(postgres_url):
    errors: list[BaseException] = []

    def first_write(number: int) -> None:
        try:
            PostgresStateStore(postgres_url).apply(SyncScope(f"sync_{number}", "100"), "r", [Outcome("a", task_gid=str(number))])
        except BaseException as exc:  # noqa: BLE001 (collected for the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [PostgresStateStore(postgres_url).task_gids(SyncScope(f"sync_{number}", "100")) for number in range(6)] == [
        {str(number)} for number in range(6)
    ]



def test_an_unencoded_password_gets_the_hint_and_a_password_option_is_used():
    from asana_sync_pipeline.engine.state.postgres_url import PostgresURL

    with pytest.raises(StateStoreError) as raised:
        PostgresURL.parse("postgresql://sync:p@ss:w0rd/x@db.internal:5432/state")
    assert "must be percent-encoded, @ as %40" in str(raised.value) and "w0rd" not in str(raised.value)
    assert PostgresURL.parse("postgresql://sync@db.internal/state?password=from%20option&sslmode=require").password == "from option"
