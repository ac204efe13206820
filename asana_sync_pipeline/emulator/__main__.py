"""`python -m asana_sync_pipeline.emulator`: serve the Asana emulator until SIGTERM or Ctrl-C.

A setting it cannot use (a port out of range or taken, a missing or malformed
fixture, a bad flag value, the default token on an address other machines can
reach) is one line on stderr and exit status 2 (1 for a port in use), never a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import fields
from typing import NoReturn

from . import faults, limits
from .app import create_app
from .auth import DEFAULT_TOKEN, exposure_problem
from .fixture import FixtureError
from .gate import access_logger
from .outside_api import token_free_help
from .server import listening_socket, uvicorn_server
from .settings import FAULT_KINDS, EmulatorSettings

PROG = "python -m asana_sync_pipeline.emulator"


class OneLineErrors(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr like every other refusal here."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see --help)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineErrors(
        prog=PROG,
        description=(
            "A local Asana REST API under /api/1.0, for development and tests (docs/emulator.md). "
            "Outside the API, without a token:\n" + token_free_help()
        ),
        epilog=f"{limits.__doc__}\n{faults.__doc__}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on start)")
    parser.add_argument(
        "--token", default=DEFAULT_TOKEN,
        help="the token of the fixture's `me` (never printed; users of the fixture may have tokens of their own); "
             "refused with the default off loopback",
    )  # fmt: skip
    parser.add_argument("--project-gid", default=None, help="GID of the fixture's project (default: the fixture's)")
    parser.add_argument("--fixture", default=None, help="JSON file shaped like the bundled default_fixture.json")
    parser.add_argument(
        "--data-file", default=None,
        help="keep the workspace in this JSON file: loaded at start when it exists (made from the same fixture), "
             "saved as it changes and at exit",
    )  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every admitted API request")
    parser.add_argument("--rate-limit-per-minute", type=int, default=None, help="sliding 60-s window (default: none)")
    parser.add_argument("--max-concurrent-writes", type=int, default=15, help="writes in flight before 429")
    parser.add_argument("--max-concurrent-reads", type=int, default=50, help="reads in flight before 429")
    parser.add_argument("--max-concurrent-jobs", type=int, default=5, help="template jobs of one user running before 429")
    parser.add_argument(
        "--job-seconds", type=float, default=None,
        help="how long a template instantiation job takes (default: the fixture's job_seconds, else 0.2)",
    )  # fmt: skip
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of write requests that fail")
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), help="comma-separated subset of the kinds below")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction of writes answered only after --slow-seconds")
    parser.add_argument("--slow-seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible fault draws")
    parser.add_argument("--access-log", action="store_true", help="log method, path, status, time to stderr (never headers)")
    parser.add_argument(
        "--rate-window-seconds", type=float, default=60.0,
        help="the window the rate limit is counted over, at the same rate (default: Asana's 60 s)",
    )  # fmt: skip
    parser.add_argument(
        "--events-token-ttl-seconds", type=float, default=None,
        help="how long a sync token of the events API stays valid (default: always; Asana: 24 h at most)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        fail(f"--port must be between 0 and 65535, got {args.port}")
    problem = exposure_problem(args.host, args.token)
    if problem:
        fail(problem)
    try:
        args.settings = EmulatorSettings(**{option.name: getattr(args, option.name) for option in fields(EmulatorSettings)})
    except ValueError as exc:
        fail(str(exc))
    return args


def fail(message: str, status: int = 2) -> NoReturn:
    """One line on stderr, then exit: what a person running the command needs, not a traceback."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(status)


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.access_log:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access_logger.addHandler(handler)
        access_logger.setLevel(logging.INFO)
    # uvicorn re-raises the signal that stopped it once it is done: exit 0 then, without a traceback.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    try:
        app = create_app(args.settings)
    except FixtureError as exc:
        fail(str(exc))
    try:
        listener = listening_socket(args.host, args.port)
    except OSError as exc:
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    host, port = listener.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    app.state.emulator.served_at(f"http://{shown_host}:{port}")
    print(f"Asana emulator listening on http://{shown_host}:{port}/api/1.0 (project {app.state.emulator.project_gid})", flush=True)
    data_file = app.state.data_file
    if data_file is not None:
        data_file.start()
        print(f"Its workspace is kept in {data_file.path} (saved as it changes and at exit)", flush=True)
    try:
        uvicorn_server(app).run(sockets=[listener])
    finally:
        if data_file is not None:
            data_file.stop()


if __name__ == "__main__":
    main()
