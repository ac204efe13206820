"""Build the sample warehouse (`data/warehouse.duckdb`) from the text sources in `data/`.

The sources are CSV files and one SQL script, so the repository holds no binary
database; the build writes to a temporary file and renames it, so an interrupted
build never leaves a half-made warehouse behind.

    python -m asana_sync_pipeline.local.sample_warehouse [--path data/warehouse.duckdb]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb

from ..engine import count_rows, counted

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
"""The sample's text sources, beside the package in a checkout."""
MODEL_SQL = "asana_task_model.sql"
MODEL_TABLE = "asana_task_model"


def build_sample_warehouse(
    database_path: str | os.PathLike[str], *, replace: bool = True, data_dir: Path = DATA_DIR
) -> int:
    """Build the warehouse at `database_path` and return the row count of `asana_task_model`.

    With `replace=False` an existing warehouse is kept as it is (a user may have
    edited it) and only its row count is read.
    """
    target = Path(database_path)
    if not replace and target.exists():
        with duckdb.connect(str(target), read_only=True) as connection:
            return count_rows(connection, MODEL_TABLE)
    script = data_dir / MODEL_SQL
    if not script.is_file():
        raise FileNotFoundError(
            f"The sample warehouse sources are missing: {script} not found "
            "(run from a checkout of the repository, which holds the data/ folder)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.building")
    sql = script.read_text().replace("{data_dir}", data_dir.as_posix())
    try:
        with duckdb.connect(str(partial)) as connection:
            connection.execute(sql)
            connection.execute("CHECKPOINT")
            rows = count_rows(connection, MODEL_TABLE)
        Path(f"{target}.wal").unlink(missing_ok=True)  # belongs to the database being replaced
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    return int(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default=str(DATA_DIR / "warehouse.duckdb"), help="where to build it (default: data/warehouse.duckdb)")
    args = parser.parse_args(argv)
    rows = build_sample_warehouse(args.path)
    print(f"Built {args.path}: table {MODEL_TABLE} with {counted(rows, 'row')} (sources: {DATA_DIR})")


if __name__ == "__main__":
    main()
