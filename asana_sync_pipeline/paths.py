"""Where relative paths point: the project folder (the one holding pyproject.toml), never
the working directory, so the same job run from anywhere finds the same state."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else Path.cwd()
DATA_DIR = PROJECT_ROOT / "data"


def project_path(path: str | Path) -> Path:
    """`path` as given when absolute, else inside the project folder."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate
