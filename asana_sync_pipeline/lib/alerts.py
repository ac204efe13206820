"""Alerts: one message to a webhook per change of a sync's state, and one when it recovers.

A sensor per sync with a webhook (`SyncSpec.alerts`) reads the sync job's finished runs from
Dagster's instance, oldest first, and works out each run's state from what Dagster recorded:

    ok                  the run succeeded and nothing below holds
    failed              the run failed (its step's reason)
    guard tripped       a guard stopped the run before any write (max_*_fraction)
    rejections          the rejection_rate_below_threshold check failed (100% rejected included)
    people's edits      more tasks edited in Asana in one run than `edits_over`

A state other than the last one alerted is posted (JSON with a `text` field: Slack's incoming
webhook shape) with the sync, the reason, the counts and a link to the run; the first `ok` after
a problem posts one "recovered". The last state lives in the sensor's cursor, so a restarted
daemon repeats nothing. A webhook that fails is logged and tried again at the next tick (the
cursor does not move), never failing a sync. The URL is a secret: read from its environment
variable when posting, never logged or shown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
from dagster._core.events import DagsterEventType

from ..engine import environment
from .io_managers import DRY_RUN_TAG
from .sync_spec import SyncSpec

WEBSERVER_URL_ENV = environment.WEBSERVER_URL.name
"""The Dagster UI's address, for links to runs in messages (e.g. https://dagster.example.com)."""
OK = "ok"
CHECKS_THAT_ALERT = {"rejection_rate_below_threshold": "rejections"}
POST_ATTEMPTS = 3


@dataclass(frozen=True)
class RunState:
    """What one finished run of a sync says: its state, why, and its counts."""

    run_id: str
    state: str
    reason: str
    counts: dict[str, Any]


def _step_failure(instance: dg.DagsterInstance, run_id: str, spec: SyncSpec) -> tuple[str, str] | None:
    """The reason and kind (`GuardError` when a guard stopped it) of the sync's failed step; a run
    that failed before any step failed counts as the sync's; None when the sync's steps did not fail."""
    failures = instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    if not failures:
        return "the run failed before any step (see the run's logs)", ""
    steps = {spec.op_name(role) for role in spec.roles}
    for record in failures:
        data = record.dagster_event.step_failure_data if record.dagster_event else None
        if data is None or record.step_key not in steps:
            continue
        if data.user_failure_data is not None:
            kind = data.user_failure_data.metadata.get("error")
            return data.user_failure_data.description or "no reason recorded", str(kind.value) if kind else ""
        if data.error is not None:
            return data.error.message.strip(), ""
    return None


def _materialized(instance: dg.DagsterInstance, run_id: str, spec: SyncSpec) -> dict[str, Any] | None:
    key = spec.asset_key("asana_tasks")
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        if materialization is not None and materialization.asset_key == key:
            return {name: value.value for name, value in materialization.metadata.items()}
    return None


def _failed_checks(instance: dg.DagsterInstance, run_id: str, spec: SyncSpec) -> list[tuple[str, str]]:
    found = []
    own = set(spec.own_asset_keys)
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.asset_check_evaluation_data if record.dagster_event else None
        if evaluation is None or evaluation.passed or evaluation.asset_key not in own:
            continue
        if evaluation.check_name in CHECKS_THAT_ALERT:
            found.append((CHECKS_THAT_ALERT[evaluation.check_name], evaluation.description or evaluation.check_name))
    return found


def run_state(instance: dg.DagsterInstance, run: dg.DagsterRun, spec: SyncSpec) -> RunState | None:
    """What a finished run says of the sync; None when it says nothing (another sync's step failed
    in a run of several, and this sync wrote nothing)."""
    if run.status == dg.DagsterRunStatus.FAILURE and (failure := _step_failure(instance, run.run_id, spec)) is not None:
        reason, kind = failure
        return RunState(run.run_id, "guard tripped" if kind == "GuardError" else "failed", reason, {})
    counts = _materialized(instance, run.run_id, spec)
    if counts is None and run.status == dg.DagsterRunStatus.FAILURE:
        return None
    counts = counts or {}
    shown = {name: counts[name] for name in ("created", "updated", "unchanged", "rejected", "edited_in_asana") if name in counts}
    for state, reason in _failed_checks(instance, run.run_id, spec):
        return RunState(run.run_id, state, reason, shown)
    edits = int(counts.get("edited_in_asana") or 0)
    if spec.alerts is not None and edits > spec.alerts.edits_over:
        reason = f"{edits:,} tasks were edited in Asana since the last run (more than {spec.alerts.edits_over:,})"
        return RunState(run.run_id, "people's edits", reason, shown)
    return RunState(run.run_id, OK, "", shown)


def message(spec: SyncSpec, state: RunState, previous: str) -> str:
    """The alert's text: the sync, what happened, the counts, a link to the run."""
    base = os.environ.get(WEBSERVER_URL_ENV, "").rstrip("/")
    link = f"{base}/runs/{state.run_id}" if base else f"run {state.run_id}"
    counts = ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in state.counts.items() if isinstance(value, int))
    if state.state == OK:
        head = f"Asana sync {spec.name!r} recovered (was: {previous})"
    else:
        head = f"Asana sync {spec.name!r}: {state.state}. {state.reason}"
    return "\n".join(part for part in (head, counts, link) if part)


def post(url: str, text: str) -> None:
    """POST `{"text": ...}`, tried a few times; raises when every attempt failed (without the URL)."""
    last = ""
    for _ in range(POST_ATTEMPTS):
        try:
            response = httpx.post(url, json={"text": text}, timeout=10)
            if response.status_code < 300:
                return
            last = f"the webhook answered {response.status_code}"
        except httpx.HTTPError as exc:
            last = f"the webhook could not be reached ({type(exc).__name__})"
    raise RuntimeError(last)


RUNS_READ = 200
"""Finished runs read per tick, newest first (of every job: a sync also runs from the asset graph)."""


def runs_the_sync(run: dg.DagsterRun, spec: SyncSpec) -> bool:
    """Whether a run tells the sync's state: a run of its job, or a run from the asset graph or
    Dagster's automation that wrote its tasks (or failed on the way); never a dry run."""
    if run.tags.get(DRY_RUN_TAG) or run.job_name == spec.dry_run_job_name:
        return False
    if run.job_name == spec.job_name:
        return True
    selected = run.asset_selection
    if selected is None:
        return False  # an op job, or a job of fixed assets that are not the sync's
    if not set(spec.own_asset_keys) & selected:
        return False
    return spec.asset_key("asana_tasks") in selected or run.status == dg.DagsterRunStatus.FAILURE


def build_alert_sensor(spec: SyncSpec) -> dg.SensorDefinition:
    assert spec.alerts is not None
    env = spec.alerts.webhook_url_env
    configured = bool(os.environ.get(env))

    @dg.sensor(
        name=spec.alert_sensor_name,
        minimum_interval_seconds=spec.alerts.interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if configured else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Posts to the webhook in {env} once per change of sync {spec.name!r}'s state (a failed run, a tripped "
            "guard, too many rejections or edits in Asana), and once when it recovers."
        ),
    )
    def alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
        url = os.environ.get(env)
        if not url:
            return dg.SkipReason(f"{env} is not set: no alert is sent")
        first = not context.cursor
        cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {"after": 0.0, "state": OK}
        records = context.instance.get_run_records(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]), limit=RUNS_READ
        )
        finished = sorted(
            (record for record in records if (record.end_time or 0.0) > cursor["after"] and runs_the_sync(record.dagster_run, spec)),
            key=lambda r: r.end_time or 0.0,
        )
        if first:
            finished = finished[-1:]  # alerts just turned on: the sync's current state, not its history
        for record in finished:
            state = run_state(context.instance, record.dagster_run, spec)
            if state is None:
                cursor = {"after": record.end_time, "state": cursor["state"]}
                continue
            if state.state != cursor["state"]:
                try:
                    post(url, message(spec, state, cursor["state"]))
                except RuntimeError as exc:
                    context.log.warning(f"Alert for sync {spec.name!r} not sent, tried again at the next tick: {exc}")
                    break
                context.log.info(f"Alert for sync {spec.name!r} sent: {state.state}")
            cursor = {"after": record.end_time, "state": state.state}
        context.update_cursor(json.dumps(cursor))
        return None

    return alert_sensor
