"""A local webhook for the alert sensor's tests, and the default sync with alerts on one instance,
its runs and its alert sensor's ticks evaluated as Dagster's daemon evaluates them (a tick that does
not move the cursor leaves it as it was; a tick that raises leaves it too)."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg

from asana_sync_pipeline.definitions import build_resources
from asana_sync_pipeline.lib.factory import build_sync_definitions
from asana_sync_pipeline.lib.sync_spec import AlertSettings, SyncSpec

WEBHOOK_ENV = "ASANA_SYNC_ALERT_WEBHOOK_URL"
SECRET_PART = "B000/XoXo5ecretW3bhookP4rt"
"""The part of the webhook's URL that is its secret (as in Slack's /services/T…/B…/<secret>)."""


class Webhook:
    """A local receiver of alerts that fails, hangs and recovers.

    `failing`: answer 500 to that many posts first; `hang_seconds`: answer each post only after that
    long (a webhook slower than the client's timeout); `arrived`: every post that reached it, answered
    or not; `received`: those it answered 200."""

    def __init__(self) -> None:
        self.arrived: list[dict] = []
        self.received: list[dict] = []
        self.failing = 0
        self.hang_seconds = 0.0
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.arrived.append(body)
                if receiver.hang_seconds:
                    receiver.released.wait(receiver.hang_seconds)
                if receiver.failing:
                    receiver.failing -= 1
                    self.send_response(500)
                else:
                    receiver.received.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/{SECRET_PART}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [message["text"] for message in self.received]

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class Sync:
    """The default sync with alerts, its runs and its alert sensor's ticks, on one instance."""

    def __init__(self, sandbox, alerts: AlertSettings):
        self.sandbox = sandbox
        self.defs = dg.Definitions.merge(
            build_sync_definitions(SyncSpec(alerts=alerts)), dg.Definitions(resources=build_resources(os.environ))
        )
        self.cursor: str | None = None
        self.tick_seconds: list[float] = []

    def run(self, query: str | None = None, sync: dict | None = None) -> dg.ExecuteInProcessResult:
        ops: dict = {"asana_task_payloads": {"config": sync or {}}}
        if query:
            ops["warehouse_model"] = {"config": {"query": query}}
        return self.defs.resolve_job_def("asana_sync_job").execute_in_process(
            run_config={"ops": ops}, instance=self.sandbox.instance, raise_on_error=False
        )

    def tick(self) -> dg.SensorExecutionData:
        """One evaluation of the alert sensor; the cursor kept as the daemon keeps it."""
        sensor = self.defs.resolve_sensor_def("asana_sync_alerts")
        started = time.monotonic()
        try:
            with dg.build_sensor_context(instance=self.sandbox.instance, cursor=self.cursor) as context:
                result = sensor.evaluate_tick(context)
        finally:
            self.tick_seconds.append(time.monotonic() - started)
        self.cursor = result.cursor
        return result
