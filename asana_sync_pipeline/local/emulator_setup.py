"""Trying syncs on this machine, against the bundled Asana emulator: its settings and the
environment that points every sync at it. Shared by the command line's local runs
(`python -m asana_sync_pipeline`, `make run`) and the local Dagster UI
(`python -m asana_sync_pipeline.local.dev`, `make dev`).

Nothing here leaves the machine: each sync's token variable receives the emulator's
token in the environment handed to the runs (unless `keep_tokens`: then a token already set
stays, and the emulator refuses a wrong one as Asana would), and the state lives under
data/demo/ (fresh each time), or with `--keep` beside the kept workspace (`local.emulator`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from ..emulator import EmulatorServer, EmulatorSettings
from ..emulator.fixture import FixtureError
from ..emulator.settings import default_fixture
from ..engine import DEFAULT_TOKEN_ENV, SyncConfigError, check_warehouse_file, environment
from ..lib.paths import DATA_DIR, project_path
from ..lib.sync_spec import SyncSpec
from .emulator import LOCAL_TOKEN, KeptWorkspace, LocalAsana, describe, given_fixture

LOCAL_DIR = DATA_DIR / "demo"
SAMPLE_WAREHOUSE = DATA_DIR / "warehouse.duckdb"


DEMO_PERSON = "ada@acme.example"
"""The person of the bundled workspace who completes a task in the demo, under a token of her own."""


def local_emulator(fixture: str | Path | None, port: int = 0, *, person_token: str | None = None) -> EmulatorServer:
    """The local emulator (not started): its workspace a fixture file of yours, or the bundled one, where
    `person_token` (a fresh secret, for this process alone) lets `DEMO_PERSON` act in it."""
    chosen: str | Path | dict | None = project_path(fixture, "the fixture") if fixture else None
    if chosen is None and person_token:
        chosen = default_fixture({DEMO_PERSON: person_token})
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
    from ..sample.warehouse import build_sample_warehouse

    build_sample_warehouse(SAMPLE_WAREHOUSE)
    return SAMPLE_WAREHOUSE, True


def fresh_local_state() -> Path:
    """The local runs' sync state: data/demo/sync_state.duckdb, emptied each time."""
    state = LOCAL_DIR / "sync_state.duckdb"
    for stale in LOCAL_DIR.glob("sync_state.duckdb*"):
        stale.unlink()
    return state


def local_asana(
    fixture: str | None, *, keep: KeptWorkspace | None = None, fresh: bool = False, port: int = 0, person_token: str | None = None
) -> AbstractContextManager[tuple[LocalAsana, Path, str]]:
    """The emulator local runs sync into, the state they keep, and the line saying so, for as long
    as the block runs. Without `keep`: an emulator of its own, from the fixture, and a fresh state.
    With it: the kept workspace, served by `make emulator` or, when none runs, by this process,
    and the state beside it. A broken fixture is refused here, before anything starts. `person_token`:
    see `local_emulator` (a fresh emulator only)."""
    if keep is None:
        return _fresh_local(local_emulator(fixture, port=port, person_token=person_token), fixture)
    if fixture is not None:
        given_fixture(fixture)
    return _kept_local(keep, fixture, fresh, port)


@contextlib.contextmanager
def _fresh_local(emulator: EmulatorServer, fixture: str | None) -> Iterator[tuple[LocalAsana, Path, str]]:
    state = fresh_local_state()
    with emulator as server:
        where = "your fixture" if fixture else "the bundled fixture"
        yield server, state, f"Asana emulator: {server.base_url}, token {LOCAL_TOKEN} ({where}; nothing leaves this machine)"


@contextlib.contextmanager
def _kept_local(kept: KeptWorkspace, fixture: str | None, fresh: bool, port: int) -> Iterator[tuple[LocalAsana, Path, str]]:
    served = kept.served_elsewhere()
    if served is not None:
        if fresh:
            raise SyncConfigError(f"an emulator serves {kept.directory} (make emulator): start it afresh there (FRESH=1)")
        kept.fixture_check(served, fixture)
        yield served, kept.state, describe(served, kept, "served by make emulator")
        return
    with kept.serve(fixture, port=port, fresh=fresh) as (server, how):
        yield server, kept.state, describe(server, kept, f"{how}; served while this runs")


def local_environment(
    server: LocalAsana, specs: Iterable[SyncSpec], *, warehouse: Path, state: Path, keep_tokens: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The variables that point every sync of `specs` at `server`, `warehouse` and `state`; with
    `keep_tokens`, a token variable already set in `environ` keeps its value (to try a wrong one)."""
    env = {
        environment.BASE_URL.name: server.base_url,
        environment.PROJECT_GID.name: server.project_gid,
        environment.WAREHOUSE_PATH.name: str(warehouse),
        environment.STATE_PATH.name: str(state),
    }
    if warehouse.resolve() != SAMPLE_WAREHOUSE.resolve():
        # A warehouse of yours is read, never written: the outcomes go beside the local state instead.
        env[environment.OUTCOMES_PATH.name] = str(state.parent / "outcomes.duckdb")
    for variable in (DEFAULT_TOKEN_ENV, *(spec.access_token_env for spec in specs)):
        if not (keep_tokens and environ.get(variable)):
            env[variable] = LOCAL_TOKEN
    return env


def apply_to_process(env: dict[str, str]) -> None:
    """Point this process's runs at the local emulator (the command line runs them in process)."""
    os.environ.pop(environment.STATE_URL.name, None)
    os.environ.update(env)
