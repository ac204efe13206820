"""Where relative paths point: the project folder, never the working directory, so the same job
run from anywhere finds the same state.

The project folder is the checkout holding this package (beside its pyproject.toml), or, for a
package installed elsewhere (a Docker image), the folder `ASANA_SYNC_PROJECT_DIR` names; with
neither, a relative path is refused rather than read against the working directory."""

from __future__ import annotations

import os
from pathlib import Path

from ..engine import SyncConfigError, environment

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR_ENV = environment.PROJECT_DIR.name
CHECKOUT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
PROJECT_ROOT = CHECKOUT or Path(os.environ.get(PROJECT_DIR_ENV) or Path.cwd()).resolve()
DATA_DIR = PROJECT_ROOT / "data"


def project_path(path: str | Path, setting: str = "the path", root: Path | None = None) -> Path:
    """`path` as given when absolute, else inside the project folder (`root`: a Dagster project's own
    folder, where `AsanaSyncComponent` is used outside this checkout; ASANA_SYNC_PROJECT_DIR wins)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    if root is not None and CHECKOUT is None and not os.environ.get(PROJECT_DIR_ENV):
        return root / candidate
    if CHECKOUT is None and not os.environ.get(PROJECT_DIR_ENV):
        raise SyncConfigError(
            f"{setting} is relative ({path}) and this installation has no project folder to read it against: "
            f"give an absolute path, or set {PROJECT_DIR_ENV} to the folder relative paths start from"
        )
    return PROJECT_ROOT / candidate
