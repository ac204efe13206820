"""A local Asana for development, tests, benchmarks and the demo.

Real HTTP on loopback (Starlette + uvicorn), Asana's REST API under /api/1.0:
users, workspaces, tags, projects with custom field settings and sections, tasks
(create, read, update, delete, list with pagination, addTag/removeTag,
addFollowers/removeFollowers, addProject/removeProject, setParent), `opt_fields`,
Asana's validation rules and error bodies, a bearer-token check, Asana's rate
and concurrency limits, latency and fault injection (see `limits`).

Not part of Asana's API: GET /_emulator/stats (request counters, tasks held),
POST /_emulator/reset_stats, GET /_emulator/health. They need no token.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .limits import FAULT_KINDS, Limits, Stats
from .store import AsanaStore, default_fixture

__all__ = ["EmulatorServer", "EmulatorSettings", "FAULT_KINDS", "build_app", "default_fixture"]


@dataclass
class EmulatorSettings(Limits):
    """How the emulator behaves: its `Limits` plus the fixture; the CLI flags map one to one onto these."""

    token: str = "emulator-token"
    project_gid: str | None = None
    fixture: str | Path | dict[str, Any] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"EmulatorSettings(project_gid={self.project_gid!r}, latency_ms={self.latency_ms}, fault_rate={self.fault_rate})"

    def load_fixture(self) -> dict[str, Any]:
        if self.fixture is None:
            return default_fixture()
        if isinstance(self.fixture, dict):
            return self.fixture
        return json.loads(Path(self.fixture).read_text())


def build_app(settings: EmulatorSettings) -> tuple[Any, AsanaStore, Stats]:
    store = AsanaStore(settings.load_fixture(), settings.project_gid)
    stats = Stats()
    return create_app(store, settings, stats), store, stats


def quiet_uvicorn() -> None:
    """Dropped connections are deliberate here: keep uvicorn from printing their tracebacks."""
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    logging.getLogger("uvicorn.access").disabled = True


class EmulatorServer:
    """The emulator in a background thread on a free loopback port; use as a context manager."""

    def __init__(self, settings: EmulatorSettings | None = None, host: str = "127.0.0.1", port: int = 0):
        self.settings = settings or EmulatorSettings()
        self.app, self.store, self.stats = build_app(self.settings)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        quiet_uvicorn()
        config = uvicorn.Config(self.app, log_level="critical", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/1.0"

    @property
    def project_gid(self) -> str:
        return self.store.project_gid

    def task_count(self) -> int:
        return len(self.store.tasks)

    def start(self) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Asana emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
