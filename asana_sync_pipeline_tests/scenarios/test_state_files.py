"""Where the sync state may live, end to end: never in the warehouse or another program's database,
and a state that cannot be written (a read-only mount, a full disk) says so and what to do."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import duckdb
import pytest

from asana_sync_pipeline_tests.conftest import failure_text, materialization

MODEL = "SELECT 'a' AS id, 'Task A' AS name UNION ALL SELECT 'b', 'Task B'"


def tables_of(path) -> dict[str, list[tuple]]:
    """Every table of a DuckDB file with its columns, as (name, type)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns ORDER BY table_name, ordinal_position"
        ).fetchall()
    found: dict[str, list[tuple]] = {}
    for table, column, kind in rows:
        found.setdefault(table, []).append((column, kind))
    return found


@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry_run"])
def test_the_state_pointed_at_the_warehouse_is_refused_before_anything_is_written(sandbox, monkeypatch, dry):
    sandbox.write_model(MODEL)
    before = tables_of(sandbox.warehouse)
    monkeypatch.setenv("SYNC_STATE_DUCKDB_PATH", str(sandbox.warehouse))
    result = sandbox.sync(dry=dry)
    assert not result.success
    text = failure_text(result)
    assert f"The sync state at {sandbox.warehouse} is the warehouse" in text, text
    assert "SYNC_STATE_DUCKDB_PATH" in text and "WAREHOUSE_DUCKDB_PATH" in text and "nothing was written" in text, text
    assert tables_of(sandbox.warehouse) == before
    assert sandbox.tasks() == []


@pytest.mark.parametrize(
    ("tables", "said"),
    [
        ("CREATE TABLE synced_tasks (id INTEGER, title VARCHAR, owner VARCHAR); INSERT INTO synced_tasks VALUES (1, 'x', 'y')",
         "its table synced_tasks is not the sync state's (columns id, title, owner)"),
        ("CREATE TABLE orders (id INTEGER, total DECIMAL(10, 2)); CREATE VIEW big_orders AS SELECT * FROM orders",
         "it holds big_orders, orders, and no sync state"),
    ],
    ids=["synced_tasks_of_another_shape", "other_tables"],
)  # fmt: skip
def test_another_programs_duckdb_file_is_refused_as_the_state_and_left_as_it_is(sandbox, tables, said):
    sandbox.write_model(MODEL)
    with duckdb.connect(str(sandbox.state)) as connection:
        connection.execute(tables)
    before = tables_of(sandbox.state)
    result = sandbox.sync()
    assert not result.success
    text = failure_text(result)
    assert f"The sync state at {sandbox.state} is another program's database: {said}" in text, text
    assert "SYNC_STATE_DUCKDB_PATH" in text and "nothing was written" in text, text
    assert "Binder" not in text and "Exception" not in text, text
    assert tables_of(sandbox.state) == before
    assert sandbox.tasks() == []


def test_a_state_beside_other_tables_keeps_working(sandbox):
    """A copy of a warehouse that once held the state (the way to move it out) is still the state."""
    sandbox.write_model(MODEL)
    assert sandbox.sync().success
    with duckdb.connect(str(sandbox.state)) as connection:
        connection.execute("CREATE TABLE asana_task_model AS SELECT 'a' AS id")
    again = sandbox.sync()
    assert again.success, failure_text(again)
    assert len(sandbox.tasks()) == 2


def _namespaces_work() -> bool:
    """Whether this machine lets a process mount file systems of its own (a user and mount namespace)."""
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


MOUNTS = pytest.mark.skipif(not _namespaces_work(), reason="needs user and mount namespaces (unshare -Urm) to mount a file system")


def in_own_mounts(sandbox, script: str, **env: str) -> subprocess.CompletedProcess:
    """`script` (sh) in a mount namespace of its own, where `$SYNC` runs the default sync from the
    command line against the sandbox: what it mounts is seen by nothing else and goes with it."""
    environment = {**os.environ, **sandbox.environment(**env), "SYNC": f"{shlex.quote(sys.executable)} -m asana_sync_pipeline --sync default"}
    return subprocess.run(["unshare", "-Urm", "sh", "-c", script], env=environment, capture_output=True, text=True, timeout=300)


@MOUNTS
@pytest.mark.parametrize("existing", [True, False], ids=["existing_state", "new_state"])
def test_a_state_on_a_read_only_mount_says_so_and_what_to_do(sandbox, monkeypatch, tmp_path, existing):
    folder = tmp_path / "state"
    folder.mkdir()
    state = folder / "state.duckdb"
    sandbox.write_model(MODEL)
    if existing:
        monkeypatch.setenv("SYNC_STATE_DUCKDB_PATH", str(state))
        assert sandbox.sync().success
    sandbox.write_model(MODEL + " UNION ALL SELECT 'c', 'Task C'")
    files = sorted(path.name for path in folder.iterdir())
    done = in_own_mounts(
        sandbox,
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && $SYNC",
        SYNC_STATE_DUCKDB_PATH=str(state),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    where = f"The sync state at {state}" + ("" if existing else " cannot be created: its folder")
    assert f"{where} is on a read-only file system" in output, output
    assert "Nothing was written, to the state or to Asana. Mount it read-write" in output, output
    assert "restore it" not in output.lower() and "OSError" not in output and "Traceback" not in output, output
    assert len(sandbox.tasks()) == (2 if existing else 0)
    assert sorted(path.name for path in folder.iterdir()) == files


@MOUNTS
def test_a_full_disk_under_the_state_fails_saying_so_and_the_next_run_loses_nothing(sandbox, tmp_path):
    folder, outputs = tmp_path / "state", tmp_path / "outputs"
    folder.mkdir()
    outputs.mkdir()
    rows = "SELECT 'row-' || i AS id, 'Task ' || i AS name FROM range({}) t(i)"
    sandbox.write_model(rows.format(5))
    done = in_own_mounts(
        sandbox,
        f"mount -t tmpfs -o size=12m none {folder} && "
        f"$SYNC > {outputs}/first 2>&1 && "
        f"(dd if=/dev/zero of={folder}/filler bs=4k 2>/dev/null || true) && "
        f"($SYNC --query {shlex.quote(rows.format(300))} > {outputs}/full 2>&1; echo $? > {outputs}/full_code) && "
        f"rm {folder}/filler && "
        f"$SYNC --query {shlex.quote(rows.format(300))} > {outputs}/after 2>&1 && "
        f"cp {folder}/state.duckdb {tmp_path}/after.duckdb",
        SYNC_STATE_DUCKDB_PATH=str(folder / "state.duckdb"),
    )
    read = {path.name: path.read_text() for path in outputs.iterdir()}
    assert done.returncode == 0, (done.stderr, read)
    full = read["full"]
    assert read["full_code"].strip() == "1", full
    assert f"The sync state at {folder / 'state.duckdb'} could not be written: the disk holding it is full." in full, full
    assert "nothing before it was lost" in full and "Free space on that disk" in full, full
    assert "TransactionException" not in full and "Traceback" not in full, full
    tasks = sandbox.tasks()
    assert sorted(task["name"] for task in tasks) == sorted(f"Task {i}" for i in range(300))
    with duckdb.connect(str(tmp_path / "after.duckdb"), read_only=True) as connection:
        recorded = dict(connection.execute("SELECT primary_key, task_gid FROM synced_tasks").fetchall())
    assert sorted(recorded.values()) == sorted(task["gid"] for task in tasks)


class FillsUp:
    """A state connection whose first commit of recorded tasks fails as DuckDB's does on a full disk
    (the transaction rolled back): injected where the store connects, so the rest is the real path."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, disk: dict):
        self._connection = connection
        self._disk = disk
        self._tasks_recorded = False

    def __getattr__(self, name: str):
        return getattr(self._connection, name)

    def register(self, name: str, frame):
        self._tasks_recorded = self._tasks_recorded or name.startswith("synced_batch")
        return self._connection.register(name, frame)

    def execute(self, query, *args):
        if str(query).strip() == "COMMIT" and self._tasks_recorded and self._disk["full"]:
            self._connection.execute("ROLLBACK")
            raise duckdb.TransactionException(
                f'TransactionContext Error: Failed to commit: Could not write file "{self._disk["path"]}.wal": No space left on device'
            )
        return self._connection.execute(query, *args)


def test_a_full_disk_while_recording_creates_fails_saying_so_and_the_next_run_creates_nothing_twice(sandbox, monkeypatch):
    from asana_sync_pipeline.engine.state import duckdb_store

    sandbox.write_model("SELECT 'row-' || i AS id, 'Task ' || i AS name FROM range(40) t(i)")
    disk = {"full": True, "path": str(sandbox.state)}
    real_connect = duckdb_store.connect
    monkeypatch.setattr(duckdb_store, "connect", lambda *args, **kwargs: FillsUp(real_connect(*args, **kwargs), disk))
    full = sandbox.sync()
    assert not full.success
    text = failure_text(full)
    assert text.startswith(f"The sync state at {sandbox.state} could not be written: the disk holding it is full."), text
    assert "nothing before it was lost" in text and "never made twice" in text and "Free space on that disk" in text, text
    assert "TransactionException" not in text, text
    made = sandbox.tasks()
    assert made and sandbox.state_rows("synced_tasks") == [] and len(sandbox.state_rows("create_intents")) == 40

    disk["full"] = False
    again = sandbox.sync()
    assert again.success, failure_text(again)
    found = materialization(again, "asana_tasks")
    assert found["adopted_after_interruption"] == len(made) and found["created"] == 40 - len(made), found
    tasks = sandbox.tasks()
    assert sorted(task["name"] for task in tasks) == sorted(f"Task {i}" for i in range(40))
    assert sorted(row["task_gid"] for row in sandbox.state_rows("synced_tasks")) == sorted(task["gid"] for task in tasks)
