"""A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temporary folder as an
unprivileged user (PostgreSQL refuses to run as root), a free loopback port, stopped and deleted
afterwards.

Each pytest-xdist worker is its own process with its own session, so each starts its own server
on its own port; a test gets a fresh database (`new_database`). Clients connect over TCP with a
password (SCRAM), as they would in production, so wrong passwords can be tested. The password is
random per server and never printed: `repr` leaves it out.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from asana_sync_pipeline_tests.dagster_dev import free_port

SUPERUSER = "asana_sync"
SERVICE_ACCOUNT = "postgres"
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
"""For tests only: a throwaway server need not survive a power cut. Benchmarks keep the defaults."""


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the server did not start."""


def binary(name: str) -> str:
    """A PostgreSQL server binary: on PATH, else in Debian's versioned folder (where apt puts it)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise PostgresUnavailable(f"{name} not found: install PostgreSQL (`make postgres` does, with apt-get)")
    return found


def _service_account() -> str | None:
    """The unprivileged user to run the server as when we are root (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_ACCOUNT],
            check=True,
        )
    return SERVICE_ACCOUNT


@dataclass
class PostgresServer:
    """One running server; `url(database)` is a postgresql:// URL with the password in it."""

    folder: Path
    port: int
    password: str = field(repr=False)
    account: str | None = None
    process_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.process_log = self.folder / "server.log"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        return f"postgresql://{SUPERUSER}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def masked_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:***@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True)

    def new_database(self) -> str:
        """A fresh, empty database; its name."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def rows(self, database: str, table: str) -> list[dict]:
        with psycopg.connect(self.url(database), row_factory=psycopg.rows.dict_row) as connection:
            return connection.execute(f"SELECT * FROM {table}").fetchall()

    def _run(self, *command: str, **options) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.account, "--"] if self.account else []
        return subprocess.run([*prefix, *command], cwd=self.folder, capture_output=True, text=True, **options)

    def start(self, *, durable: bool = False) -> PostgresServer:
        self.data.mkdir()
        (self.folder / "password").write_text(self.password)
        if self.account:
            shutil.chown(self.folder, self.account)
            for path in (self.data, self.folder / "password"):
                shutil.chown(path, self.account)
        initialised = self._run(
            binary("initdb"), "--pgdata", str(self.data), "--username", SUPERUSER, "--pwfile", str(self.folder / "password"),
            "--auth-host", "scram-sha-256", "--auth-local", "peer", "--encoding", "UTF8", "--locale", "C", "--no-sync",
            timeout=120,
        )  # fmt: skip
        (self.folder / "password").unlink()
        if initialised.returncode:
            raise PostgresUnavailable(f"initdb failed: {initialised.stderr.strip()[-2000:]}")
        settings = [
            f"port={self.port}", "listen_addresses=127.0.0.1", f"unix_socket_directories={self.folder}",
            "max_connections=200", *(() if durable else FAST_SETTINGS),
        ]  # fmt: skip
        options = " ".join(f"-c {setting}" for setting in settings)
        started = self._run(
            binary("pg_ctl"), "start", "--pgdata", str(self.data), "--wait", "--timeout", "60",
            "--log", str(self.process_log), "-o", options,
            timeout=90,
        )  # fmt: skip
        if started.returncode:
            log = self.process_log.read_text()[-2000:] if self.process_log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()}\n{log}")
        self._wait_for_connections()
        return self

    def _wait_for_connections(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.connect():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable("the server started but accepts no connection") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.data.exists():
            self._run(binary("pg_ctl"), "stop", "--pgdata", str(self.data), "--mode", "fast", "--wait", timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server(*, durable: bool = False) -> PostgresServer:
    """A new server on a free loopback port, in a folder under the system's temporary directory
    (the unprivileged account must reach it, which pytest's private tmp folders do not allow)."""
    account = _service_account()
    for attempt in range(3):
        folder = Path(tempfile.mkdtemp(prefix="asana-sync-pg-"))
        server = PostgresServer(folder=folder, port=free_port(), password=secrets.token_urlsafe(18), account=account)
        try:
            return server.start(durable=durable)
        except PostgresUnavailable:
            server.stop()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")

