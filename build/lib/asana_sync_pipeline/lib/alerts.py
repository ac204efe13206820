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
a problem posts one "recovered". The last state alerted lives in the sensor's cursor, so a
restarted daemon repeats nothing.

Catching up: the first tick (alerts just turned on), and every tick after a post that failed,
alert the sync's current state alone (its newest run that tells it), if it differs from the last
state alerted: never the history, nor each change the webhook missed while it was down.

Delivery, never failing a sync and never holding a tick for long (Dagster gives a tick 60 s):
- answered 2xx: sent;
- never sent (no connection) or answered with an error: tried once more at once, then at the next
  tick (catching up, as above);
- sent, but no answer in time (`POST_TIMEOUT`: the webhook may have received it, as a slow one
  does): counted as sent once, logged, never repeated (a message posted twice, or four times, is
  worse than one a slow webhook may have dropped); the next change of state is posted as usual;
- a tick starts a try only while it fits in `TICK_SECONDS`; what is left waits for the next tick.

The URL is a secret: read from its environment variable when posting (surrounding whitespace, a
pasted newline, dropped), never logged or shown, kept out of httpx's own log lines too
(`quiet_http_logs`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
from dagster._core.events import DagsterEventType

from ..engine import environment, quiet_http_logs
from .io_managers import DRY_RUN_TAG
from .sync_spec import SyncSpec

WEBSERVER_URL_ENV = environment.WEBSERVER_URL.name
"""The Dagster UI's address, for links to runs in messages (e.g. https://dagster.example.com)."""
OK = "ok"
CHECKS_THAT_ALERT = {"rejection_rate_below_threshold": "rejections"}
POST_ATTEMPTS = 2
"""Tries of a post that certainly did not arrive (no connection, an error answered), within a tick."""
POST_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
"""Per try: 3 s to connect, 5 s to send and to read the answer (webhooks answer in well under a second)."""
NEVER_SENT = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError
)  # fmt: skip
"""What httpx raises before a request left: safe to try again."""
TRY_SECONDS = 8.0
"""The longest one try takes (connecting, then waiting for the answer)."""
TICK_SECONDS = 20.0
"""The most a tick spends posting (a try starts only if it fits), well under Dagster's 60 s for a tick."""


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


class NotSent(Exception):
    """The webhook certainly did not take the message (its reason says why, never the URL)."""


def webhook_url(env: str) -> str | None:
    """The webhook's URL from `env`, surrounding whitespace dropped; None when unset or blank.
    Raises `NotSent` (without the URL) when it is not an http(s) URL."""
    url = os.environ.get(env, "").strip()
    if not url:
        return None
    try:
        parsed = httpx.URL(url)
        valid = parsed.scheme in ("http", "https") and bool(parsed.host)
    except httpx.InvalidURL:
        valid = False
    if not valid or any(character.isspace() for character in url):
        raise NotSent(
            f"{env} does not hold an http(s) URL ({len(url)} characters, not shown: a webhook's URL is a secret); "
            "set it to the address the webhook's service gave, such as https://hooks.slack.com/services/…"
        )
    return url


def post(url: str, text: str, *, deadline: float) -> bool:
    """POST `{"text": ...}`: True when the webhook answered 2xx, False when it was sent but no answer
    came in time (it may have arrived: counted as sent); raises `NotSent` (without the URL) when it
    certainly did not arrive after `POST_ATTEMPTS` tries, or when too little is left before
    `deadline` (monotonic) for a whole try: a try is never cut short."""
    last = "no time was left in this tick"
    for _ in range(POST_ATTEMPTS):
        if deadline - time.monotonic() < TRY_SECONDS:
            break
        try:
            with quiet_http_logs():
                response = httpx.post(url, json={"text": text}, timeout=POST_TIMEOUT)
        except NEVER_SENT as exc:
            last = f"the webhook could not be reached ({type(exc).__name__})"
            continue
        except httpx.TransportError:
            return False  # sent, but no answer (a timeout, a dropped connection): it may have arrived
        except Exception as exc:  # whatever it is, its message could hold the URL
            raise NotSent(f"the request could not be made ({type(exc).__name__})") from None
        if response.status_code < 300:
            return True
        last = f"the webhook answered {response.status_code}"
    raise NotSent(last)


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
    configured = bool(os.environ.get(env, "").strip())

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
        try:
            url = webhook_url(env)
        except NotSent as exc:
            return dg.SkipReason(str(exc))
        if not url:
            return dg.SkipReason(f"{env} is not set: no alert is sent")
        deadline = time.monotonic() + TICK_SECONDS
        cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {"after": 0.0, "state": OK, "catch_up": True}
        records = context.instance.get_run_records(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]), limit=RUNS_READ
        )
        finished = sorted(
            (record for record in records if (record.end_time or 0.0) > cursor["after"] and runs_the_sync(record.dagster_run, spec)),
            key=lambda r: r.end_time or 0.0,
        )
        told = [(record, state) for record in finished if (state := run_state(context.instance, record.dagster_run, spec))]
        if cursor.get("catch_up") or not cursor["after"]:  # (no run read yet: a cursor of an earlier version)
            told = told[-1:]  # the sync's current state, not its history nor what a failing webhook missed
        for record, state in told:
            if state.state != cursor["state"]:
                if deadline - time.monotonic() < TRY_SECONDS:
                    break  # this tick's time is spent: the rest waits for the next tick, as it is
                try:
                    answered = post(url, message(spec, state, cursor["state"]), deadline=deadline)
                except NotSent as exc:
                    context.log.warning(
                        f"Alert for sync {spec.name!r} not sent ({exc}); tried again at the next tick, with the sync's state then"
                    )
                    cursor = {**cursor, "catch_up": True}
                    break
                if not answered:
                    context.log.warning(
                        f"Alert for sync {spec.name!r} sent, but the webhook did not answer within "
                        f"{POST_TIMEOUT.read:g} s: counted as sent, not repeated"
                    )
                    cursor = {"after": record.end_time, "state": state.state}
                    break  # a slow webhook: the rest waits for the next tick
                context.log.info(f"Alert for sync {spec.name!r} sent: {state.state}")
            cursor = {"after": record.end_time, "state": state.state}
        else:
            if finished:
                cursor = {"after": max(cursor["after"], finished[-1].end_time or 0.0), "state": cursor["state"]}
        context.update_cursor(json.dumps(cursor))
        return None

    return alert_sensor
