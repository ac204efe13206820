"""Alerts, through the alert sensor over the runs Dagster recorded: one message per change of a
sync's state (a failed run, a tripped guard, too many rejections or edits in Asana), none while it
stays so, one "recovered"; posted to a local webhook that records what it receives."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from asana_sync_pipeline.definitions import build_resources
from asana_sync_pipeline.lib.factory import build_sync_definitions
from asana_sync_pipeline.lib.sync_spec import AlertSettings, SyncSpec
from asana_sync_pipeline_tests.conftest import failure_text

WEBHOOK_ENV = "ASANA_SYNC_ALERT_WEBHOOK_URL"


class Webhook:
    """A local receiver of alerts; `failing` answers 500 to that many posts first."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.failing = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/B000/secret-part"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [message["text"] for message in self.received]


@pytest.fixture
def webhook(monkeypatch) -> Iterator[Webhook]:
    hook = Webhook()
    monkeypatch.setenv(WEBHOOK_ENV, hook.url)
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://dagster.example")
    yield hook
    hook.server.shutdown()


class Sync:
    """The default sync with alerts, its runs and its alert sensor's ticks, on one instance."""

    def __init__(self, sandbox, alerts: AlertSettings):
        self.sandbox = sandbox
        self.defs = dg.Definitions.merge(
            build_sync_definitions(SyncSpec(alerts=alerts)), dg.Definitions(resources=build_resources(os.environ))
        )
        self.cursor: str | None = None

    def run(self, query: str | None = None, sync: dict | None = None) -> dg.ExecuteInProcessResult:
        ops: dict = {"asana_task_payloads": {"config": sync or {}}}
        if query:
            ops["warehouse_model"] = {"config": {"query": query}}
        return self.defs.resolve_job_def("asana_sync_job").execute_in_process(
            run_config={"ops": ops}, instance=self.sandbox.instance, raise_on_error=False
        )

    def tick(self) -> None:
        sensor = self.defs.resolve_sensor_def("asana_sync_alerts")
        with dg.build_sensor_context(instance=self.sandbox.instance, cursor=self.cursor) as context:
            result = sensor.evaluate_tick(context)
        self.cursor = result.cursor


MODEL = "SELECT 'k' || i AS id, 'Task ' || i AS name FROM range(10) t(i)"


def test_one_alert_per_change_of_state_and_one_when_it_recovers(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    assert sync.defs.resolve_sensor_def("asana_sync_alerts").default_status == dg.DefaultSensorStatus.RUNNING
    sandbox.write_model(MODEL)
    failed = sync.run(query="SELECT * FROM no_such_model")
    assert not failed.success
    sync.tick()
    [alert] = webhook.texts()
    assert alert.startswith("Asana sync 'default': failed. The model query failed: Catalog Error")
    assert f"http://dagster.example/runs/{failed.run_id}" in alert
    assert not sync.run(query="SELECT * FROM no_such_model").success
    sync.tick()
    assert len(webhook.texts()) == 1, "still failing: no second alert"
    assert sync.run().success
    sync.tick()
    assert len(webhook.texts()) == 2 and webhook.texts()[1].startswith("Asana sync 'default' recovered (was: failed)")
    assert "10 created" in webhook.texts()[1]
    assert sync.run().success
    sync.tick()
    assert len(webhook.texts()) == 2, "still fine: nothing more"
    assert all(webhook.url not in text for text in webhook.texts())


def test_a_tripped_guard_and_a_run_with_every_row_rejected_alert_each(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    assert sync.run().success
    sync.tick()
    assert webhook.texts() == [], "a healthy sync says nothing"
    tripped = sync.run(query="SELECT * FROM asana_task_model WHERE false", sync={"on_row_removed": "complete"})
    assert not tripped.success and "max_removed_fraction" in failure_text(tripped)
    sync.tick()
    assert webhook.texts()[-1].startswith("Asana sync 'default': guard tripped. This run would complete 10 of the sync's 10")
    assert sync.run(query="SELECT 'k' || i AS id, 'Task ' || i AS name, 'never' AS due_on FROM range(10) t(i)").success
    sync.tick()
    assert webhook.texts()[-1].startswith("Asana sync 'default': rejections. 10 of 10 rows (100.0%) were rejected")
    assert "10 rejected" in webhook.texts()[-1] and len(webhook.texts()) == 2


def test_many_edits_in_asana_alert_once(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings(edits_over=2))
    sandbox.write_model(MODEL)
    assert sync.run().success
    with sandbox.api() as person:
        for task in sandbox.tasks()[:3]:
            person.put(f"/tasks/{task['gid']}", json={"data": {"name": task["name"] + " (by hand)"}}).raise_for_status()
    assert sync.run().success
    sync.tick()
    assert webhook.texts()[-1].startswith("Asana sync 'default': people's edits. 3 tasks were edited in Asana since the last run")


def test_a_webhook_that_fails_is_tried_again_and_never_fails_the_sync(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    assert not sync.run(query="SELECT * FROM no_such_model").success
    webhook.failing = 3
    sync.tick()
    assert webhook.texts() == []
    sync.tick()
    assert len(webhook.texts()) == 1 and webhook.texts()[0].startswith("Asana sync 'default': failed."), "sent at the next tick"


def test_without_a_webhook_the_sensor_is_off_and_says_why(sandbox, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    sync = Sync(sandbox, AlertSettings())
    sensor = sync.defs.resolve_sensor_def("asana_sync_alerts")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    with dg.build_sensor_context(instance=sandbox.instance) as context:
        result = sensor.evaluate_tick(context)
    assert result.skip_message == f"{WEBHOOK_ENV} is not set: no alert is sent"


def test_runs_from_the_asset_graph_alert_and_other_syncs_or_dry_runs_do_not(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    other = SyncSpec(name="other", model_query="SELECT * FROM no_such_model", project_gid=sandbox.project_gid)
    sync.defs = dg.Definitions.merge(sync.defs, build_sync_definitions(other))
    ours = [dg.AssetKey(role) for role in ("warehouse_model", "asana_task_payloads", "asana_tasks")]
    theirs = [dg.AssetKey(["other", key.path[0]]) for key in ours]
    sandbox.write_model(MODEL)

    def materialize(keys: list[dg.AssetKey], query: str | None = None) -> dg.ExecuteInProcessResult:
        """As Lineage -> Materialize (or Dagster's automation) runs assets: in Dagster's asset job."""
        run_config = {"ops": {"warehouse_model": {"config": {"query": query}}}} if query else {}
        job = sync.defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=sandbox.instance, asset_selection=keys, run_config=run_config, raise_on_error=False)

    assert sync.run().success
    sync.tick()
    assert not materialize(ours + theirs).success, "the other sync's model fails; this one syncs"
    sync.tick()
    assert webhook.texts() == [], "another sync's failure in a run of both says nothing of this one"
    failed = materialize(ours, query="SELECT * FROM no_such_model")
    assert not failed.success
    sync.tick()
    [alert] = webhook.texts()
    assert alert.startswith("Asana sync 'default': failed. The model query failed") and failed.run_id in alert
    assert materialize(ours[:2]).success and sync.defs.resolve_job_def("asana_dry_run_job").execute_in_process(
        instance=sandbox.instance, raise_on_error=False
    ).success
    sync.tick()
    assert len(webhook.texts()) == 1, "dry runs (a job's or the first two assets') tell nothing of the sync's state"
    assert materialize(ours).success
    sync.tick()
    assert len(webhook.texts()) == 2 and webhook.texts()[1].startswith("Asana sync 'default' recovered (was: failed)")
