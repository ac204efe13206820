"""The component in a data team's own Dagster project (issue 29, item 4): this package built as a wheel
and installed into another environment, offline; `dg` finds its component there through the entry
point integration libraries use (`dagster_dg_cli.registry_modules`), scaffolds a sync, checks it, and
a run of it writes tasks to the emulator with only the resources the component brings; and the
library imports no dbt."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import duckdb
import pytest

from asana_sync_pipeline.lib.paths import PROJECT_ROOT
from asana_sync_pipeline_tests.conftest import TOKEN

PIP = [sys.executable, "-m", "pip"]
TOOLS = {"dg": "dagster_dg_cli.cli", "dagster": "dagster.cli"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """This package as a wheel, built offline from a copy of the checkout: setuptools writes a `build/`
    folder beside the sources, and two builds of one folder (parallel test workers) trip on each other."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_ROOT / name, source / name)
    shutil.copytree(PROJECT_ROOT / "asana_sync_pipeline", source / "asana_sync_pipeline",
                    ignore=shutil.ignore_patterns("__pycache__", "*.duckdb*"))  # fmt: skip
    built = subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [found] = out.glob("asana_sync_pipeline-*.whl")
    return found


@pytest.fixture(scope="module")
def environment(wheel, tmp_path_factory) -> Path:
    """Another Python environment: the wheel installed in it (with pip, no network), the rest of
    what it needs (Dagster, dg) seen from this one's packages, not this checkout."""
    venv = tmp_path_factory.mktemp("team-env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    (site / "shared_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([*PIP, "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for name, module in TOOLS.items():
        (venv / "bin" / name).write_text(f"#!{python}\nimport sys\nfrom {module} import main\nsys.exit(main())\n")
        (venv / "bin" / name).chmod(0o755)
    return venv


def team_project(tmp_path: Path) -> Path:
    """A data team's dg project, as `create-dagster project` lays one out, knowing nothing of this package."""
    root = tmp_path / "team_analytics"
    (root / "team_analytics" / "defs").mkdir(parents=True)
    (root / "team_analytics" / "__init__.py").write_text("")
    (root / "team_analytics" / "definitions.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """
        )
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "team-analytics"\nversion = "0.1.0"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "team_analytics"\n'
    )
    return root


def dg(venv: Path, root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("ASANA_", "WAREHOUSE_", "SYNC_STATE_", "PYTHON"))}
    environment["PATH"] = os.pathsep.join([str(venv / "bin"), environment.get("PATH", "")])
    environment.pop("DAGSTER_HOME", None)
    return subprocess.run([str(venv / "bin" / "dg"), *args], cwd=root, env={**environment, **(env or {})}, capture_output=True, text=True, timeout=300)


def test_the_wheel_needs_no_dbt_and_declares_the_component_for_dg(wheel):
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt"))).decode()
    required = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert required and not [line for line in required if "dbt" in line], required
    assert any("dbt" in line and 'extra == "dbt"' in line for line in metadata.splitlines())
    assert "[dagster_dg_cli.registry_modules]\nasana_sync_pipeline = asana_sync_pipeline" in entry_points


def test_the_library_imports_no_dbt():
    code = (
        "import sys, asana_sync_pipeline.engine, asana_sync_pipeline.lib.factory, asana_sync_pipeline.lib.bindings, "
        "asana_sync_pipeline.components.asana_sync.component; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('dbt', 'dagster_dbt')}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_a_sync_scaffolded_in_a_teams_own_project_loads_and_runs_there(environment, sandbox, tmp_path):
    root = team_project(tmp_path)
    where = subprocess.run([str(environment / "bin" / "python"), "-c", "import asana_sync_pipeline; print(asana_sync_pipeline.__file__)"],
                           cwd=root, capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(str(environment)), "the package comes from the wheel, not this checkout"

    listed = dg(environment, root, "list", "components", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "asana_sync_pipeline.AsanaSyncComponent" in {entry["key"] for entry in json.loads(listed.stdout)["items"]}

    scaffolded = dg(environment, root, "scaffold", "defs", "asana_sync_pipeline.AsanaSyncComponent", "churn")
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    written = root / "team_analytics" / "defs" / "churn" / "defs.yaml"
    text = written.read_text()
    assert "type: asana_sync_pipeline.AsanaSyncComponent" in text and "name: churn" in text
    written.write_text(
        text.replace("project_gid: ''", f"project_gid: '{sandbox.project_gid}'").replace("SELECT * FROM churn", "SELECT id, name FROM churn_risk")
    )
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:  # the team's warehouse, in its project folder
        connection.execute("CREATE TABLE churn_risk AS SELECT 'a-' || i AS id, 'Churn risk ' || i AS name FROM range(1, 4) AS t(i)")

    # Relative paths are read in the team's project folder; the token from the variable the sync names.
    env = {
        "ASANA_ACCESS_TOKEN": TOKEN,
        "ASANA_BASE_URL": sandbox.server.base_url,
        "WAREHOUSE_DUCKDB_PATH": "warehouse.duckdb",
        "SYNC_STATE_DUCKDB_PATH": "state/sync_state.duckdb",
    }
    checked = dg(environment, root, "check", "defs", env=env)
    assert checked.returncode == 0 and "All definitions loaded successfully" in checked.stdout + checked.stderr, checked.stdout + checked.stderr
    defined = dg(environment, root, "list", "defs", "--json", env=env)
    assert defined.returncode == 0, defined.stderr
    resources = {entry["name"] for entry in json.loads(defined.stdout)["resources"]}
    assert resources == {"asana", "warehouse", "sync_state", "asana_sync_io_manager", "warehouse_io_manager"}, "the component brings what its assets use"

    (root / "state").mkdir()
    launched = dg(environment, root, "launch", "--job", "churn_asana_sync_job", env=env)
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    assert sorted(task["name"] for task in sandbox.tasks()) == ["Churn risk 1", "Churn risk 2", "Churn risk 3"]
    assert (root / "state" / "sync_state.duckdb").exists()
