"""`python -m asana_sync_pipeline.local.emulator` (what `make emulator` runs): the local Asana that
remembers, for a loop of sync, edit in "Asana", sync again.

    python -m asana_sync_pipeline.local.emulator [--fixture FILE] [--port 8765] [--fresh] [--dir data/local]

A kept workspace is a folder (`data/local/` by default) holding the emulator's workspace
(`emulator.json`: the fixture it was made from and every task, story and event since) and the
sync state of the runs against it (`sync_state.duckdb`): the two go together, so a workspace
made afresh (the first time, with `--fresh`, or once `emulator.json` is removed) empties the
state too. Whoever serves the workspace holds `emulator.lock` and writes its address there:
`make run KEEP=1` and `make dev KEEP=1` sync into the emulator `make emulator` serves, or, when
none runs, serve the kept workspace themselves for as long as they run. Its token is
`emulator-token` (the fixture's `me`).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..emulator import EmulatorServer, EmulatorSettings, default_fixture
from ..emulator.data_file import DataFileError
from ..emulator.fixture import FixtureError, read_fixture_file
from ..engine import SyncConfigError
from ..lib.paths import DATA_DIR, project_path

LOCAL_TOKEN = "emulator-token"
"""The token of the local emulator's `me`: every sync's token variable gets it, unless kept."""
KEPT_DIR = DATA_DIR / "local"
STARTED_AFRESH = "new, from the fixture"


class LocalAsana(Protocol):
    """An emulator the local runs sync into: one this process serves, or one another serves."""

    @property
    def base_url(self) -> str: ...

    @property
    def project_gid(self) -> str: ...

    def task_count(self) -> int: ...


@dataclass(frozen=True)
class ServedElsewhere:
    """The kept workspace as another process (`make emulator`) serves it."""

    url: str
    project_gid: str
    fixture: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/1.0"

    def task_count(self) -> int:
        return int(httpx.get(f"{self.url}/_emulator/health", timeout=10).json()["tasks"])


def fixture_digest(fixture: dict[str, Any]) -> str:
    """What names a workspace's origin: a hash of the fixture it was made from."""
    return hashlib.sha256(json.dumps(fixture, sort_keys=True).encode()).hexdigest()


def given_fixture(fixture: str | Path | None) -> dict[str, Any]:
    """The fixture a run names (the bundled one when none), as data."""
    if fixture is None:
        return default_fixture()
    try:
        return read_fixture_file(project_path(fixture, "the fixture"))
    except FixtureError as exc:
        raise SyncConfigError(f"{exc} (the emulator's fixture format: docs/emulator.md)") from None


class KeptWorkspace:
    """A folder holding the local emulator's workspace and the sync state that goes with it."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = project_path(directory, "the kept workspace's folder") if directory else KEPT_DIR
        self.data_file = self.directory / "emulator.json"
        self.state = self.directory / "sync_state.duckdb"
        self.lock_file = self.directory / "emulator.lock"

    def served_elsewhere(self) -> ServedElsewhere | None:
        """The emulator another process serves this workspace with, if one does."""
        if not self.lock_file.exists():
            return None
        with self.lock_file.open("r") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: someone serves it
            else:
                return None
            deadline = time.monotonic() + 10
            while True:  # its address is written once it listens
                handle.seek(0)
                try:
                    found = json.loads(handle.read() or "null")
                except ValueError:
                    found = None  # being written
                if isinstance(found, dict):
                    return ServedElsewhere(found["url"], found["project_gid"], found.get("fixture", ""))
                if time.monotonic() > deadline:
                    raise SyncConfigError(f"an emulator holds {self.lock_file} but does not say where it listens")
                time.sleep(0.1)

    def _forget_state(self) -> None:
        for stale in self.directory.glob(f"{self.state.name}*"):
            stale.unlink()

    @contextlib.contextmanager
    def serve(
        self, fixture: str | Path | None, *, port: int = 0, host: str = "127.0.0.1", fresh: bool = False
    ) -> Iterator[tuple[EmulatorServer, str]]:
        """Serve this workspace (made from `fixture` when it holds none) for as long as the block
        runs; yields the server and how the workspace came to be (kept, or a new one)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SyncConfigError(
                    f"an emulator already serves {self.directory} (make emulator): use it, or stop it first"
                ) from None
            try:
                if fresh:
                    self.data_file.unlink(missing_ok=True)
                how = "reloaded" if self.data_file.exists() else STARTED_AFRESH
                if how == STARTED_AFRESH:
                    self._forget_state()  # it named tasks of a workspace that is gone
                with self._emulator(fixture, host, port) as server:
                    handle.truncate(0)
                    origin = fixture_digest(server.app.state.data_file.fixture)
                    handle.write(json.dumps({"url": server.url, "project_gid": server.project_gid, "fixture": origin}))
                    handle.flush()
                    yield server, how
            finally:
                handle.truncate(0)

    def _emulator(self, fixture: str | Path | None, host: str, port: int) -> EmulatorServer:
        settings = EmulatorSettings(
            token=LOCAL_TOKEN, fixture=project_path(fixture, "the fixture") if fixture else None, data_file=self.data_file
        )
        try:
            return EmulatorServer(settings, host=host, port=port)
        except DataFileError as exc:
            raise SyncConfigError(f"{exc} (FRESH=1 for make, --fresh here, starts the kept workspace afresh)") from None
        except FixtureError as exc:
            raise SyncConfigError(f"{exc} (the emulator's fixture format: docs/emulator.md)") from None

    def fixture_check(self, served: ServedElsewhere, fixture: str | Path | None) -> None:
        """A fixture given to a run must be the one the served workspace was made from."""
        if fixture is not None and fixture_digest(given_fixture(fixture)) != served.fixture:
            raise SyncConfigError(
                f"the emulator serving {self.directory} holds a workspace made from another fixture than {fixture}: run "
                "without FIXTURE (--fixture) to use it, or start it afresh from yours (make emulator FIXTURE=… FRESH=1)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asana_sync_pipeline.local.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", default=None, help="the workspace to start from (JSON, docs/emulator.md; default: the bundled one)")
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--fresh", action="store_true", help="start the kept workspace (and its sync state) afresh")
    parser.add_argument("--dir", default=None, help="the kept workspace's folder (default: data/local/)")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopping.set())
    kept = KeptWorkspace(args.dir)
    try:
        with kept.serve(args.fixture, port=args.port, host=args.host, fresh=args.fresh) as (server, how):
            print(describe(server, kept, how, serving=True), flush=True)
            stopping.wait()
    except SyncConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Configuration error: cannot serve on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    print(f"Stopped the emulator; its workspace is saved in {kept.data_file}", flush=True)
    return 0


def describe(server: LocalAsana, kept: KeptWorkspace, how: str, *, serving: bool = False) -> str:
    """What a person needs to use the kept workspace: where, the token, the project, what next."""
    project = server.project_gid
    lines = [
        f"Asana emulator: {server.base_url} (token: {LOCAL_TOKEN}; project {project}; nothing leaves this machine)",
        f"Workspace ({how}) kept in {kept.data_file}, the sync state beside it in {kept.state}",
    ]
    if serving:
        lines += [
            "Sync into it (the state kept between runs): make run KEEP=1 [WAREHOUSE=…], or make dev KEEP=1",
            f"Edit it as a person would: curl -H 'Authorization: Bearer {LOCAL_TOKEN}' {server.base_url}/projects/{project}/tasks, "
            "then PUT or DELETE /tasks/GID (docs/running.md, the local loop)",
            "Ctrl-C stops it (saved); make emulator again reloads it; FRESH=1 starts it afresh",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

