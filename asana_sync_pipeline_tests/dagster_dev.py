"""`dagster dev` for the tests that need the real thing (webserver + daemon): started in its own
process group on a free loopback port, waited for, and stopped with the whole group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

DAGSTER = str(Path(sys.executable).parent / "dagster")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """Stop a process started in its own session and everything in its group: SIGTERM, then SIGKILL
    after `timeout` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_ui(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Until the Dagster UI at `url` answers; fails with the end of `log` if `process` ends or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)


@contextmanager
def dagster_dev(*args: str, cwd: Path, env: dict[str, str], log: Path, timeout: float = 180) -> Iterator[tuple[str, int]]:
    """(URL, port) of a `dagster dev` serving `args` (e.g. `-f defs.py`), once its webserver answers."""
    port = free_port()
    process = subprocess.Popen(
        [DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(port), *args],
        cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ui(url, process, log, timeout)
        yield url, port
    finally:
        stop_group(process)
