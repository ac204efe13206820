"""Build the sample warehouse (`data/warehouse.duckdb`) with dbt: the sample is a dbt project.

`data/` is a dbt project (dbt-duckdb): seeds (the CSV extracts: accounts, usage signals, the CS
team's overrides, the data-quality check results) and models (`asana_task_model`,
`failed_data_checks`). The build runs `dbt build` into a new file beside the target and renames
it, so an interrupted build never leaves a half-made warehouse behind; the models are tables, so
the renamed file reads as built.

dbt runs offline: anonymous usage statistics off, no version check, no packages (no `dbt deps`).
dbt is an extra of this package (`pip install "asana-sync-pipeline[dbt]"`, which the dev extras
include): the engine, the Dagster surface and `AsanaSyncComponent` import none of it.

    python -m asana_sync_pipeline.sample.warehouse [--path data/warehouse.duckdb]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import duckdb
from filelock import FileLock

from ..engine import SyncConfigError, count_rows, counted

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
"""The sample's dbt project, beside the package in a checkout."""
MODEL_TABLE = "asana_task_model"
WAREHOUSE_ENV = "ASANA_SYNC_SAMPLE_WAREHOUSE"
"""Where the sample's dbt profile writes the warehouse (absolute); unset: `warehouse.duckdb` in `data/`."""
OFFLINE = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DBT_VERSION_CHECK": "false",
    "DBT_USE_COLORS": "false",
}
"""dbt's environment here: nothing leaves the machine."""
SOURCES = ("dbt_project.yml", "profiles.yml", "models", "seeds")
OUTCOMES_TAG = "outcomes"
"""The models built on the syncs' outcomes (`churn_follow_up_rate`): built after a sync, never with the warehouse."""
FIGURE_MODEL = "churn_follow_up_rate"
DBT_TIMEOUT_SECONDS = 600


def dbt_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment dbt runs in: this process's, offline, and `extra`."""
    return {**os.environ, **OFFLINE, **(extra or {})}


def run_dbt(args: list[str], project_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """Run dbt (`python -m dbt.cli.main`, in a process of its own) in `project_dir`; its output, or an
    error holding the end of it."""
    if importlib.util.find_spec("dbt.cli") is None or importlib.util.find_spec("dbt.adapters.duckdb") is None:
        raise SyncConfigError(
            "the sample warehouse is a dbt project and dbt is not installed here: install the dbt extra "
            '(pip install -e ".[dbt]"; `make run` installs it with the dev extras)'
        )
    command = [sys.executable, "-m", "dbt.cli.main", *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    done = subprocess.run(
        command, cwd=project_dir, env=dbt_environment(env), capture_output=True, text=True, timeout=DBT_TIMEOUT_SECONDS
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise SyncConfigError(f"dbt {args[0]} of the sample warehouse ({project_dir}) failed:\n{tail}")
    return done.stdout


def build_sample_warehouse(
    database_path: str | os.PathLike[str], *, replace: bool = True, data_dir: Path = DATA_DIR
) -> int:
    """Build the warehouse at `database_path` (`dbt build`: seeds, then models) and return the row
    count of `asana_task_model`.

    With `replace=False` an existing warehouse is kept as it is (a user may have
    edited it) and only its row count is read.
    """
    target = Path(database_path).absolute()
    if not replace and target.exists():
        with duckdb.connect(str(target), read_only=True) as connection:
            return count_rows(connection, MODEL_TABLE)
    if not (data_dir / "dbt_project.yml").is_file():
        raise FileNotFoundError(
            f"The sample warehouse sources are missing: {data_dir / 'dbt_project.yml'} not found "
            "(run from a checkout of the repository, which holds the data/ folder, a dbt project)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f".{target.name}.{os.getpid()}.building"
    partial = building / target.name  # the same name, so DuckDB's catalog is named as the warehouse's
    try:
        building.mkdir()
        run_dbt(
            ["build", "--exclude", f"tag:{OUTCOMES_TAG}", "--target-path", str(building / "target"), "--log-path", str(building / "logs")],
            data_dir,
            {WAREHOUSE_ENV: str(partial)},
        )
        with duckdb.connect(str(partial)) as connection:
            connection.execute("CHECKPOINT")
            rows = count_rows(connection, MODEL_TABLE)
        Path(f"{target}.wal").unlink(missing_ok=True)  # belongs to the database being replaced
        os.replace(partial, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return int(rows)


def prepare_sample_project(data_dir: Path = DATA_DIR) -> Path:
    """The sample dbt project's manifest (`data/target/manifest.json`), which dagster-dbt's component
    reads when the code location loads: made with `dbt parse` when it is missing or older than the
    project's files (a fresh clone, an edited model), once across processes."""
    manifest = data_dir / "target" / "manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(manifest.parent / ".asana_sync_prepare.lock"), timeout=DBT_TIMEOUT_SECONDS):
        if not manifest.is_file() or manifest.stat().st_mtime < _newest_source(data_dir):
            run_dbt(["parse", "--target-path", "target", "--log-path", str(manifest.parent / "logs")], data_dir)
    return manifest


def _newest_source(data_dir: Path) -> float:
    paths = [data_dir / name for name in SOURCES]
    files = [path for folder in paths for path in ([folder] if folder.is_file() else folder.rglob("*")) if path.is_file()]
    return max((path.stat().st_mtime for path in files), default=0.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default=str(DATA_DIR / "warehouse.duckdb"), help="where to build it (default: data/warehouse.duckdb)")
    args = parser.parse_args(argv)
    rows = build_sample_warehouse(args.path)
    print(f"Built {args.path} with dbt: table {MODEL_TABLE} with {counted(rows, 'row')} (dbt project: {DATA_DIR})")


if __name__ == "__main__":
    main()


def build_follow_up_figure(database_path: str | os.PathLike[str], *, data_dir: Path = DATA_DIR) -> dict[str, object]:
    """Build the sample's figure on the default sync's outcomes (`dbt build --select churn_follow_up_rate`)
    in the warehouse at `database_path`, and return its one row."""
    target = Path(database_path).absolute()
    logs = target.parent / f".{target.name}.figure"
    try:
        run_dbt(
            ["build", "--select", FIGURE_MODEL, "--target-path", str(logs / "target"), "--log-path", str(logs / "logs")],
            data_dir,
            {WAREHOUSE_ENV: str(target)},
        )
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    with duckdb.connect(str(target), read_only=True) as connection:
        found = connection.execute(f"SELECT * FROM main.{FIGURE_MODEL}")
        names = [column[0] for column in found.description]
        row = found.fetchone()
    return dict(zip(names, row or ()))
