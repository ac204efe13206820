"""Alerts, through the alert sensor over the runs Dagster recorded: one message per change of a
sync's state (a failed run, a tripped guard, too many rejections or edits in Asana), none while it
stays so, one "recovered"; posted to a local webhook that records what it receives."""

from __future__ import annotations

import dagster as dg

from asana_sync_pipeline.lib.factory import build_sync_definitions
from asana_sync_pipeline.lib.sync_spec import AlertSettings, SyncSpec
from asana_sync_pipeline_tests.conftest import failure_text
from asana_sync_pipeline_tests.webhook import WEBHOOK_ENV, Sync

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


def test_a_first_post_that_fails_never_replays_history_when_the_webhook_recovers(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    guard = {"query": "SELECT * FROM asana_task_model WHERE false", "sync": {"on_row_removed": "complete"}}
    assert sync.run().success
    assert not sync.run(**guard).success
    assert sync.run().success
    assert not sync.run(**guard).success, "the history: ok, guard tripped, ok, guard tripped"
    webhook.failing = 1_000
    sync.tick()
    assert webhook.received == [] and webhook.arrived, "alerts turned on while the webhook answers 500"
    webhook.failing = 0
    sync.tick()
    sync.tick()
    assert len(webhook.texts()) == 1, f"the current state once, never the history: {webhook.texts()}"
    assert webhook.texts()[0].startswith("Asana sync 'default': guard tripped.")


def test_changes_a_failing_webhook_missed_come_to_the_current_state_once(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    assert sync.run().success
    sync.tick()
    webhook.failing = 1_000
    for query in ("SELECT * FROM no_such_model", None, "SELECT * FROM no_such_model"):
        sync.run(query=query)
        sync.tick()
    assert webhook.received == [] and webhook.arrived, "failed, recovered, failed while the webhook answered 500"
    webhook.failing = 0
    sync.tick()
    sync.tick()
    assert len(webhook.texts()) == 1, f"the current state once, not each change it missed: {webhook.texts()}"
    assert webhook.texts()[0].startswith("Asana sync 'default': failed.")
    assert sync.run().success
    sync.tick()
    assert len(webhook.texts()) == 2 and webhook.texts()[1].startswith("Asana sync 'default' recovered (was: failed)")


def test_a_webhook_slower_than_the_timeout_gets_one_message_and_the_tick_stays_short(sandbox, webhook):
    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    assert not sync.run(query="SELECT * FROM no_such_model").success
    webhook.hang_seconds = 15  # answers 200, but later than the client waits
    sync.tick()
    assert len(webhook.arrived) == 1, "a post whose answer never came is not sent again in the same tick"
    assert sync.tick_seconds[-1] < 10, f"the tick blocked {sync.tick_seconds[-1]:.1f} s"
    webhook.hang_seconds = 0
    sync.tick()
    sync.tick()
    assert len(webhook.arrived) == 1, "nor at the next ticks: the channel gets it once"
    assert webhook.arrived[0]["text"].startswith("Asana sync 'default': failed.")
    assert sync.run().success
    sync.tick()
    assert len(webhook.arrived) == 2 and webhook.texts()[-1].startswith("Asana sync 'default' recovered (was: failed)")


def test_a_webhook_that_never_accepts_a_connection_keeps_each_tick_short(sandbox, webhook, monkeypatch):
    import socket

    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    assert not sync.run(query="SELECT * FROM no_such_model").success
    with socket.socket() as silent:  # listens, never accepts: once its backlog is full, connections hang
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{silent.getsockname()[1]}/services/T000/B000/x")
        fillers = []
        while True:  # fill the backlog until a connection hangs
            filler = socket.socket()
            filler.settimeout(0.5)
            fillers.append(filler)
            try:
                filler.connect(silent.getsockname())
            except TimeoutError:
                break
        sync.tick()
        for filler in fillers:
            filler.close()
    assert sync.tick_seconds[-1] < 20, f"the tick blocked {sync.tick_seconds[-1]:.1f} s"
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    sync.tick()
    [alert] = webhook.texts()
    assert alert.startswith("Asana sync 'default': failed."), "never sent, so sent at the next tick"


def test_a_webhook_url_with_a_trailing_newline_is_cleaned_and_a_broken_one_refused_unshown(sandbox, webhook, monkeypatch):
    sync = Sync(sandbox, AlertSettings())
    sandbox.write_model(MODEL)
    assert not sync.run(query="SELECT * FROM no_such_model").success
    monkeypatch.setenv(WEBHOOK_ENV, f"  {webhook.url}\n")
    sync.tick()
    [alert] = webhook.texts()
    assert alert.startswith("Asana sync 'default': failed.")
    assert not sync.run(query="SELECT * FROM no_such_model", sync={"sync_mode": "insert"}).success
    monkeypatch.setenv(WEBHOOK_ENV, "hooks.example/services/T000/B000/XoXo5ecret")
    result = sync.tick()
    assert result.skip_message and "XoXo5ecret" not in result.skip_message
    assert f"{WEBHOOK_ENV} does not hold an http(s) URL" in result.skip_message
