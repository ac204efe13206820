"""Exactly once at scale: faults and repeated SIGKILLs, then a final run; counts must be exact.

    .venv/bin/python benchmarks/exactly_once.py [--rows 5000] [--kills 20] [--fault-rate 0.2]

Phase 1: one sync over the model against an emulator failing `--fault-rate` of
writes (500, 503, spurious 429, resets before and after processing).
Phase 2: a fresh emulator without faults; the sync is started and SIGKILLed at a
random moment `--kills` times, then run to completion.
Phase 3: every row has the same name and only its notes differ, no sync key
field (matching on everything sent), writes failing with resets after
processing and 503s at `--fault-rate` x 1.5; runs until every row is settled.
Phase 4: comments. `--comment-rows` rows, each with a comment column that
changes once (v1, then v2), writes failing as in phase 3; runs until settled.
Exact when every task carries exactly its two comments, in order.
Each phase prints tasks in the emulator, distinct contents, GIDs in the state DB,
and whether each row's task holds that row's content.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings  # noqa: E402

TOKEN = "0/exactlyonceexactlyonceexactlyonc"


def write_model(path: Path, rows: int, repeated_names: bool = False, comment: str | None = None) -> None:
    """Rows whose content is `Task i` (in the name, or with one name for all, in the notes);
    with `comment`, each row's comment is '<comment> for Task i'."""
    name, notes = ("'Follow up with account'", "'Task ' || i") if repeated_names else ("'Task ' || i", "NULL")
    comments = f"'{comment} for Task ' || i" if comment else "NULL"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE OR REPLACE TABLE asana_task_model AS SELECT 'row-' || lpad(i::VARCHAR, 6, '0') AS id, "
            f"{name} AS name, {notes} AS notes, DATE '2026-12-01' + (i % 30)::INTEGER AS due_on, {comments} AS comment "
            f"FROM range({rows}) t(i)"
        )


def sync_process(server: EmulatorServer, folder: Path, writes: int = 15) -> subprocess.Popen:
    env = {
        **os.environ,
        "ASANA_ACCESS_TOKEN": TOKEN,
        "ASANA_BASE_URL": server.base_url,
        "ASANA_PROJECT_GID": server.project_gid,
        "WAREHOUSE_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "SYNC_STATE_DUCKDB_PATH": str(folder / "state.duckdb"),
        "ASANA_MAX_CONCURRENT_WRITES": str(writes),
    }
    return subprocess.Popen([sys.executable, "-m", "asana_sync_pipeline", "--sync", "default"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def verdict(server: EmulatorServer, folder: Path, rows: int) -> str:
    """Exact when every row's content is on exactly one task, and the state maps each row to that task."""
    content = {gid: task.name if task.name.startswith("Task ") else task.notes for gid, task in server.store.tasks.items()}
    seen = Counter(content.values())
    with duckdb.connect(str(folder / "state.duckdb"), read_only=True) as connection:
        mapped = dict(connection.execute("SELECT primary_key, task_gid FROM synced_tasks").fetchall())
        intents = connection.execute("SELECT count(*) FROM create_intents").fetchone()[0]
    rows_on_their_task = all(content.get(gid) == f"Task {int(key.removeprefix('row-'))}" for key, gid in mapped.items())
    exact = (
        len(seen) == rows and max(seen.values()) == 1 and set(mapped.values()) == set(content)
        and len(mapped) == rows and rows_on_their_task and intents == 0
    )
    return (
        f"{rows:>6} {len(content):>6} {len(seen):>9} {sum(count > 1 for count in seen.values()):>10} "
        f"{len(mapped):>11} {'yes' if exact else 'NO':>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--comment-rows", type=int, default=1000)
    args = parser.parse_args()
    header = f"{'phase':<30} {'rows':>6} {'tasks':>6} {'distinct':>9} {'duplicated':>10} {'state rows':>11} {'exact':>6} {'seconds':>8}"
    lines = []

    with tempfile.TemporaryDirectory() as name, EmulatorServer(EmulatorSettings(token=TOKEN, fault_rate=args.fault_rate, seed=1)) as server:
        folder = Path(name)
        write_model(folder / "warehouse.duckdb", args.rows)
        started = time.monotonic()
        process = sync_process(server, folder)
        output, _ = process.communicate()
        if process.returncode:
            print(output[-3000:])
        faults = sum(server.stats.faults.values())
        lines.append(f"{f'faults ({faults} injected)':<30} {verdict(server, folder, args.rows)} {time.monotonic() - started:>8.1f}")

    chooser = random.Random(5)
    with tempfile.TemporaryDirectory() as name, EmulatorServer(EmulatorSettings(token=TOKEN, latency_ms=20)) as server:
        folder = Path(name)
        write_model(folder / "warehouse.duckdb", args.rows)
        started = time.monotonic()
        kills = 0
        for _ in range(args.kills):
            process = sync_process(server, folder)
            target = len(server.store.tasks) + 1
            deadline = time.monotonic() + 60
            while len(server.store.tasks) < target and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if process.poll() is not None:
                break
            time.sleep(chooser.uniform(0, 1.0))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        process = sync_process(server, folder)
        process.communicate()
        lines.append(f"{f'{kills} SIGKILLs + final run':<30} {verdict(server, folder, args.rows)} {time.monotonic() - started:>8.1f}")

    settings = EmulatorSettings(
        token=TOKEN, fault_rate=min(1.0, args.fault_rate * 1.5), fault_kinds=("reset_after", "error_503"), seed=7
    )
    with tempfile.TemporaryDirectory() as name, EmulatorServer(settings) as server:
        folder = Path(name)
        write_model(folder / "warehouse.duckdb", args.rows, repeated_names=True)
        started = time.monotonic()
        runs = 0
        while runs < 5:
            runs += 1
            output, _ = sync_process(server, folder).communicate()
            if "rejected: 0" in output:
                break
        faults = sum(server.stats.faults.values())
        label = f"one name, {faults} faults, {runs} runs"
        lines.append(f"{label:<30} {verdict(server, folder, args.rows)} {time.monotonic() - started:>8.1f}")

    settings = EmulatorSettings(
        token=TOKEN, fault_rate=min(1.0, args.fault_rate * 1.5), fault_kinds=("reset_after", "error_503"), seed=9
    )
    with tempfile.TemporaryDirectory() as name, EmulatorServer(settings) as server:
        folder = Path(name)
        started = time.monotonic()
        runs = 0
        for version in (1, 2):
            write_model(folder / "warehouse.duckdb", args.comment_rows, comment=f"v{version}")
            for _ in range(5):
                runs += 1
                output, _ = sync_process(server, folder).communicate()
                if "rejected: 0" in output:
                    break
        store = server.store
        comments = {
            gid: [story.text for story in store.stories_of(gid) if story.resource_subtype == "comment_added"]
            for gid in store.tasks
        }
        exact_tasks = sum(
            texts == [f"v1 for Task {int(task.name.split()[1])}", f"v2 for Task {int(task.name.split()[1])}"]
            for (gid, texts), task in zip(comments.items(), store.tasks.values())
        )
        twice = sum(len(texts) != len(set(texts)) for texts in comments.values())
        faults = sum(server.stats.faults.values())
        label = f"comments, {faults} faults, {runs} runs"
        lines.append(
            f"{label:<30} {args.comment_rows:>6} {len(store.tasks):>6} {sum(len(t) for t in comments.values()):>9} "
            f"{twice:>10} {exact_tasks:>11} {'yes' if exact_tasks == args.comment_rows == len(store.tasks) else 'NO':>6} "
            f"{time.monotonic() - started:>8.1f}"
        )

    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
