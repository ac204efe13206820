"""`python -m asana_sync_pipeline.emulator`: serve the Asana emulator until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import fields

import uvicorn

from . import FAULT_KINDS, EmulatorSettings, build_app, quiet_uvicorn
from .limits import __doc__ as FAULTS_DOC


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m asana_sync_pipeline.emulator",
        description="A local Asana REST API under /api/1.0, for development and tests.",
        epilog=FAULTS_DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on start)")
    parser.add_argument("--token", default="emulator-token", help="the only bearer token accepted (never printed)")
    parser.add_argument("--project-gid", default=None, help="GID of the fixture's project")
    parser.add_argument("--fixture", default=None, help="JSON file shaped like the bundled default_fixture.json")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every API request")
    parser.add_argument("--rate-limit-per-minute", type=int, default=None, help="sliding 60-s window per token")
    parser.add_argument("--max-concurrent-writes", type=int, default=15)
    parser.add_argument("--max-concurrent-reads", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of write requests that fail")
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), help="comma-separated subset of: " + ", ".join(FAULT_KINDS))
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction of writes answered only after --slow-seconds")
    parser.add_argument("--slow-seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible fault draws")
    args = parser.parse_args(argv)
    args.fault_kinds = tuple(args.fault_kinds.split(","))
    unknown = set(args.fault_kinds) - set(FAULT_KINDS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = EmulatorSettings(**{option.name: getattr(args, option.name) for option in fields(EmulatorSettings)})
    app, store, _ = build_app(settings)
    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    host, port = listener.getsockname()[:2]
    print(f"Asana emulator listening on http://{host}:{port}/api/1.0 (project {store.project_gid})", flush=True)
    quiet_uvicorn()
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off", timeout_graceful_shutdown=1))
    server.run(sockets=[listener])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
