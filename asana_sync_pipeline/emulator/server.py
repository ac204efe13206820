"""Serving the app with uvicorn: in a background thread (`EmulatorServer`, for tests,
benchmarks and the demo) or in the foreground (the CLI).

The listening socket is bound and listening before uvicorn starts, so the port
is known at once (port 0 picks a free one) and no early connection is refused.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from .app import create_app
from .auth import exposure_problem
from .observe import Observer
from .settings import EmulatorSettings
from .stats import Stats
from .store import AsanaStore

START_TIMEOUT_SECONDS = 10


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    return listener


def uvicorn_server(app: Any) -> uvicorn.Server:
    """Uvicorn without its own logging setup or access log (the Gate keeps a token-free one)."""
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    config = uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=1, server_header=False,
    )
    return uvicorn.Server(config)


class EmulatorServer:
    """The emulator on a free loopback port in a background thread; a context manager.

    `base_url` ends in /api/1.0; `url` is the root (for /_emulator/*); `state` (alias
    `store`) is the in-memory Asana; `stats` the request counters; `observers` see
    every answer (see `observe`).
    """

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        observers: tuple[Observer, ...] = (),
    ):
        self.settings = settings or EmulatorSettings()
        self.app = create_app(self.settings, observers)
        self.state: AsanaStore = self.app.state.emulator
        self.stats: Stats = self.app.state.stats
        self._host, self._port = host, port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> AsanaStore:
        return self.state

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/1.0"

    @property
    def project_gid(self) -> str:
        return self.state.project_gid

    def task_count(self) -> int:
        return len(self.state.tasks)

    def start(self) -> EmulatorServer:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the Asana emulator is already started")
        problem = exposure_problem(self._host, self.settings.token)
        if problem:
            raise RuntimeError(problem)
        self._socket = listening_socket(self._host, self._port)
        self._host, self._port = self._socket.getsockname()[:2]
        self._server = uvicorn_server(self.app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="asana-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError("the Asana emulator did not start")
            time.sleep(0.005)
        self.state.served_at(self.url)
        if self.app.state.data_file is not None:
            self.app.state.data_file.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        if self._server is not None and self.app.state.data_file is not None:
            self.app.state.data_file.stop()  # saved once more, after the last request
        self._server = self._thread = self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
