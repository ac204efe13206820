"""Trying syncs on this machine, against the bundled Asana emulator: its settings and the
environment that points every sync at it. Shared by the command line's local runs
(`python -m asana_sync_pipeline`, `make run`) and the local Dagster UI
(`python -m asana_sync_pipeline.local.dev`, `make dev`).

Nothing here leaves the machine: each sync's token variable receives the emulator's
token in the environment handed to the runs, and the state lives under data/demo/.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..emulator import EmulatorServer, EmulatorSettings
from ..emulator.fixture import FixtureError
from ..emulator.settings import default_fixture
from ..engine import DEFAULT_TOKEN_ENV, SyncConfigError, check_warehouse_file, environment
from ..lib.paths import DATA_DIR, project_path
from ..lib.sync_spec import SyncSpec

LOCAL_TOKEN = "emulator-token"
LOCAL_DIR = DATA_DIR / "demo"
SAMPLE_WAREHOUSE = DATA_DIR / "warehouse.duckdb"


DEMO_PERSON = "ada@acme.example"
"""The person of the bundled workspace who completes a task in the demo, under a token of her own."""


def local_emulator(fixture: str | Path | None, port: int = 0, *, person_token: str | None = None) -> EmulatorServer:
    """The local emulator (not started): its workspace a fixture file of yours, or the bundled one, where
    `person_token` (a fresh secret, for this process alone) lets `DEMO_PERSON` act in it."""
    chosen: str | Path | dict | None = project_path(fixture, "the fixture") if fixture else None
    if chosen is None and person_token:
        chosen = default_fixture()
        for user in chosen["users"]:
            if user["email"] == DEMO_PERSON:
                user["token"] = person_token
    settings = EmulatorSettings(token=LOCAL_TOKEN, fixture=chosen)
    try:
        return EmulatorServer(settings, port=port)
    except FixtureError as exc:
        raise SyncConfigError(f"{exc} (the emulator's fixture format: docs/emulator.md)") from None


def local_warehouse(warehouse: str | Path | None) -> tuple[Path, bool]:
    """The warehouse local runs read, and whether it is the sample (built fresh for them)."""
    if warehouse:
        path = project_path(warehouse, "the warehouse")
        check_warehouse_file(str(path), hint="Point --warehouse (WAREHOUSE= for make) at a DuckDB database file.")
        return path, False
    from .sample_warehouse import build_sample_warehouse

    build_sample_warehouse(SAMPLE_WAREHOUSE)
    return SAMPLE_WAREHOUSE, True


def fresh_local_state() -> Path:
    """The local runs' sync state: data/demo/sync_state.duckdb, emptied each time."""
    state = LOCAL_DIR / "sync_state.duckdb"
    for stale in LOCAL_DIR.glob("sync_state.duckdb*"):
        stale.unlink()
    return state


def local_environment(server: EmulatorServer, specs: Iterable[SyncSpec], *, warehouse: Path, state: Path) -> dict[str, str]:
    """The variables that point every sync of `specs` at `server`, `warehouse` and `state`."""
    env = {
        DEFAULT_TOKEN_ENV: LOCAL_TOKEN,
        environment.BASE_URL.name: server.base_url,
        environment.PROJECT_GID.name: server.project_gid,
        environment.WAREHOUSE_PATH.name: str(warehouse),
        environment.STATE_PATH.name: str(state),
    }
    if warehouse.resolve() != SAMPLE_WAREHOUSE.resolve():
        # A warehouse of yours is read, never written: the outcomes go beside the local state instead.
        env[environment.OUTCOMES_PATH.name] = str(state.parent / "outcomes.duckdb")
    env.update({spec.access_token_env: LOCAL_TOKEN for spec in specs})
    return env


def apply_to_process(env: dict[str, str]) -> None:
    """Point this process's runs at the local emulator (the command line runs them in process)."""
    os.environ.pop(environment.STATE_URL.name, None)
    os.environ.update(env)
