"""`python -m asana_sync_pipeline.local.dev` (what `make dev` runs): the Dagster UI (`dg dev`) with every
sync pointed at the bundled Asana emulator, so that nothing leaves this machine.

    python -m asana_sync_pipeline.local.dev [--fixture FILE] [--warehouse FILE] [--port 3000] [--emulator-port 8765]
        [--keep [DIR]] [--fresh] [--keep-tokens]

The emulator holds the bundled workspace, or your fixture (docs/emulator.md); the models read the
sample warehouse (built fresh), or your DuckDB file (read, never written); the state lives in
data/demo/ and starts fresh. With --keep, the emulator is the kept workspace (`make emulator`'s,
or served from data/local/ while the UI runs) and the state is kept beside it. Every sync's token
variable gets the emulator's token (`emulator-token`), or with --keep-tokens only those unset, so
that a wrong token can be tried. Ctrl-C, or SIGTERM from a script or a service manager, stops the
UI, its daemon and the emulator together: no terminal is needed, and nothing is left running.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..engine import environment
from ..lib.paths import PROJECT_ROOT
from ..sample.warehouse import WAREHOUSE_ENV
from .emulator import KEPT_DIR, KeptWorkspace, ServedElsewhere
from .emulator_setup import local_asana, local_environment, local_warehouse

DG = str(Path(sys.executable).parent / "dg")
STOP_SECONDS = 60.0
LEFTOVER_SECONDS = 10.0


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Stop `dg dev` and everything it started (its own process group), politely first: `dg dev`
    leaves its code servers to time out on their own heartbeat, so whatever outlives it is ended too."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + LEFTOVER_SECONDS
    while _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL)
        time.sleep(0.2)
    return process.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asana_sync_pipeline.local.dev", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", default=None, help="the emulator's workspace (JSON; default: the bundled one)")
    parser.add_argument("--warehouse", default=None, help="the DuckDB warehouse the models read (default: the sample)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="the Dagster UI's port")
    parser.add_argument("--emulator-port", type=int, default=8765, help="the emulator's port (0: any free one)")
    parser.add_argument(
        "--keep", nargs="?", const=str(KEPT_DIR), default=None, metavar="DIR",
        help="the kept workspace (make emulator's, or served from DIR while the UI runs) and its state, kept between runs",
    )  # fmt: skip
    parser.add_argument("--fresh", action="store_true", help="with --keep: start the kept workspace and its state afresh")
    parser.add_argument(
        "--keep-tokens", action="store_true",
        help="leave a sync's token variable as it is when set (to try a wrong one); the unset ones get the emulator's",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from ..definitions import sync_specs
    from ..engine import SyncConfigError

    if args.fresh and args.keep is None:
        args.keep = str(KEPT_DIR)
    try:
        warehouse, sample = local_warehouse(args.warehouse)
        kept = KeptWorkspace(args.keep) if args.keep is not None else None
        emulator = local_asana(args.fixture, keep=kept, fresh=args.fresh, port=args.emulator_port)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: stopping.set())
        with emulator as (server, state, where):
            env = {key: value for key, value in os.environ.items() if key != environment.STATE_URL.name}
            env.update(local_environment(server, sync_specs().values(), warehouse=warehouse, state=state, keep_tokens=args.keep_tokens))
            env["DAGSTER_HOME"] = str(PROJECT_ROOT / "dagster_home")
            env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # the dbt dagster-dbt runs
            if sample:  # the sample's dbt models, materialized in the UI, rebuild the warehouse the syncs read
                env[WAREHOUSE_ENV] = str(warehouse)
            print(f"{where}; models read {warehouse}", flush=True)
            elsewhere = isinstance(server, ServedElsewhere)
            stops = "it (make emulator's emulator goes on)" if elsewhere else "it and the emulator"
            print(f"Dagster UI: http://{args.host}:{args.port} (Ctrl-C stops {stops})", flush=True)
            code = _serve_ui(args, env, stopping)
    except SyncConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    print("Stopped the Dagster UI" if elsewhere else "Stopped the Dagster UI and the emulator", flush=True)
    return 0 if stopping.is_set() else code


def _serve_ui(args: argparse.Namespace, env: dict[str, str], stopping: threading.Event) -> int:
    """`dg dev` in its own process group, until it stops or we are asked to stop."""
    process = subprocess.Popen(
        [DG, "dev", "--host", args.host, "--port", str(args.port)], cwd=PROJECT_ROOT, env=env, start_new_session=True
    )
    while not stopping.is_set() and process.poll() is None:
        stopping.wait(0.5)
    return _stop(process)


if __name__ == "__main__":
    sys.exit(main())
