"""What `make run` costs a newcomer: the seconds of the demo's first run in a fresh clone (the sample
warehouse built, the emulator and the state made) and of the second run in the same clone, for this
checkout beside an older revision (default: the last one before the sample warehouse became a dbt
project and the outcomes came back to the warehouse).

    .venv/bin/python benchmarks/fresh_clone.py [--before 3341dad] [--rounds 3]

Each round clones both revisions afresh (`git clone` of this checkout, then `git checkout`) and runs
`python -m asana_sync_pipeline` (what `make run` runs, without make's install check) twice in each,
the revisions in turn, so the machine's drift falls on both. Both use this checkout's virtualenv: the
clone's own package is imported (the working folder comes first on the path). Nothing leaves the
machine: the demo runs against the local emulator. Printed: the median seconds of each run and the
ratio now/before, and what the first run of each printed last (the demo's summary).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "3341dad"
TOKENS = ("ASANA_ACCESS_TOKEN", "ASANA_BASE_URL", "ASANA_PROJECT_GID", "WAREHOUSE_DUCKDB_PATH", "SYNC_STATE_DUCKDB_PATH", "SYNC_STATE_URL")


def clone(revision: str, into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into)], check=True)
    subprocess.run(["git", "-C", str(into), "checkout", "--quiet", revision], check=True)
    return into


def demo(folder: Path) -> tuple[float, str]:
    """Seconds of one `make run` in `folder`, and its last lines."""
    environment = {name: value for name, value in os.environ.items() if name not in TOKENS and not name.endswith("_TOKEN")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "asana_sync_pipeline"], cwd=folder, env=environment, capture_output=True, text=True, timeout=900
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"make run failed in {folder} ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, "\n".join(done.stdout.strip().splitlines()[-4:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help="the older revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    revisions = {"now": head.stdout.strip(), "before": args.before}
    seconds: dict[tuple[str, str], list[float]] = {}
    tails: dict[str, str] = {}
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="fresh-clone-") as temp:
            folders = {label: clone(revision, Path(temp) / label) for label, revision in revisions.items()}
            for run in ("first", "second"):
                for label, folder in folders.items():
                    took, tail = demo(folder)
                    seconds.setdefault((label, run), []).append(took)
                    if run == "first":
                        tails[label] = tail
        print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
    print(f"make run in a fresh clone, median of {args.rounds} rounds (now: {revisions['now']}, before: {revisions['before']})\n")
    print("| run | before (s) | now (s) | now / before |")
    print("| --- | ---: | ---: | ---: |")
    for run in ("first", "second"):
        before, now = statistics.median(seconds[("before", run)]), statistics.median(seconds[("now", run)])
        print(f"| {run} | {before:.1f} | {now:.1f} | {now / before:.2f} |")
    for label, tail in tails.items():
        print(f"\nThe first run's last lines ({label}):\n{tail}")


if __name__ == "__main__":
    main()
