"""Build the sample warehouse (`data/warehouse.duckdb`) from the text sources in `data/`.

The sources are CSV files and one SQL script, so the repository holds no binary
database; the build writes to a temporary file and renames it, so an interrupted
build never leaves a half-made warehouse behind.

    python -m asana_sync_pipeline.sample_warehouse [--path data/warehouse.duckdb]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MODEL_SQL = "asana_task_model.sql"


def build_sample_warehouse(database_path: str | os.PathLike[str], *, data_dir: Path = DATA_DIR) -> int:
    """(Re)build the warehouse at `database_path`; returns the row count of `asana_task_model`."""
    script = data_dir / MODEL_SQL
    if not script.is_file():
        raise FileNotFoundError(f"The sample warehouse sources are missing: {script} not found")
    target = Path(database_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".building")
    partial.unlink(missing_ok=True)
    sql = script.read_text().replace("{data_dir}", data_dir.as_posix())
    with duckdb.connect(str(partial)) as connection:
        connection.execute(sql)
        rows = connection.execute("SELECT count(*) FROM asana_task_model").fetchone()[0]
    Path(str(partial) + ".wal").unlink(missing_ok=True)
    os.replace(partial, target)
    return int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default=os.environ.get("WAREHOUSE_DUCKDB_PATH", "data/warehouse.duckdb"))
    args = parser.parse_args()
    rows = build_sample_warehouse(args.path)
    print(f"Built {args.path}: asana_task_model has {rows} rows")


if __name__ == "__main__":
    main()
