"""The outcomes as tables: what became of each task, the changes of its fields, and every action
of every run, in the model's terms and under the model's own column names (pure, from the state).

- `outcomes_frame`: one row per primary key the sync ever gave a task (its latest task, whatever
  became of it), with Asana's current values: the fixed columns (`OUTCOME_COLUMNS`), then every
  mapped column of the model and every `outcome_fields` column, each holding the value of the
  field it maps to as the model would write it (names, emails, dates, numbers).
- `history_frame`: one row per change of a captured field, oldest first.
- `sync_log_frame`: one row per action of every run kept.
The primary key comes back as the model holds it (an integer key as integers), so that
`model JOIN outcomes USING (key)` works as written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from ..fields.value_rules import COMMENT, CUSTOM_FIELD_PREFIX, PARENT_KEY
from ..observing.task_values import model_terms
from ..planning import Plan
from ..state import StateStore, SyncScope, utc_now
from .history import SYNC_AUTHOR

OUTCOME_COLUMNS = (
    "task_gid", "permalink_url", "sync_status", "name", "completed", "completed_at", "completed_by", "assignee", "section",
    "due_on", "tags", "num_subtasks", "num_completed_subtasks", "created_at", "modified_at", "first_synced_at",
    "last_written_at", "last_run_id", "edits_in_asana",
)  # fmt: skip
"""The fixed columns of `asana_task_outcomes`, after the primary key (mapped columns come between
`tags` and `num_subtasks`)."""
HISTORY_COLUMNS = ("task_gid", "field", "old_value", "new_value", "changed_by", "changed_at", "run_id")
SYNC_LOG_COLUMNS = ("run_id", "run_started_at", "task_gid", "action", "fields", "status", "error", "http_status", "at")
NOT_AN_ASANA_FIELD = (COMMENT, "task_gid")


def outcome_layout(plan: Plan) -> dict[str, Any]:
    """How the outcomes are laid out, from a run's plan: the primary key's column and kind, and each
    mapped (and `outcome_fields`) column with the Asana field it shows."""
    columns = [[column, field] for field, column in plan.mapping.fields.items() if field not in NOT_AN_ASANA_FIELD]
    columns += [[column, field] for column, field in plan.settings.outcome_fields.items()]
    return {"primary_key": plan.settings.primary_key, "key_kind": plan.key_kind, "columns": columns}


def _keys(values: pd.Series, kind: str) -> pd.Series:
    """State keys (text) back as the model holds them."""
    if kind == "integer":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if kind == "number":
        return pd.to_numeric(values, errors="coerce")
    return values.astype(object)


def _time(values: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601")


def _date(values: list[Any]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", format="ISO8601").dt.date.astype(object)


def _field_value(terms: Mapping[str, Any], field: str, key_of: Mapping[str, str]) -> Any:
    """The value of one mapped field in the model's terms (a parent as its row's key)."""
    if field == PARENT_KEY:
        return key_of.get(terms.get("parent") or "")
    if field == "section":
        return terms.get("section")
    if field.startswith(CUSTOM_FIELD_PREFIX):
        wanted = field[len(CUSTOM_FIELD_PREFIX) :].strip()
        if f"{CUSTOM_FIELD_PREFIX}{wanted}" in terms:
            return terms[f"{CUSTOM_FIELD_PREFIX}{wanted}"]
        lowered = {name.lower(): value for name, value in terms.items() if name.startswith(CUSTOM_FIELD_PREFIX)}
        return lowered.get(f"{CUSTOM_FIELD_PREFIX}{wanted}".lower())
    return terms.get(field)


def outcomes_frame(
    snapshots: pd.DataFrame, history: pd.DataFrame, layout: Mapping[str, Any] | None, project_gid: str
) -> pd.DataFrame:
    """`asana_task_outcomes` (see the module doc) from the state's snapshots and history."""
    layout = layout or {"primary_key": "primary_key", "key_kind": "text", "columns": []}
    key_column = str(layout["primary_key"])
    parsed = pd.Series(
        [json.loads(task) if isinstance(task, str) else {} for task in snapshots["task"]], index=snapshots.index, dtype=object
    )
    latest = snapshots.sort_values(["first_synced_at", "task_gid"]).drop_duplicates("primary_key", keep="last")
    tasks = parsed.loc[latest.index].tolist()  # each snapshot's JSON parsed once
    terms = [model_terms(task, project_gid) if task else {} for task in tasks]
    key_of = dict(zip(snapshots["task_gid"].astype(str), snapshots["primary_key"].astype(str)))
    completed_subtasks = _completed_subtasks(parsed.tolist())
    people_edits = _edits(history, layout)
    gids = latest["task_gid"].astype(str).tolist()
    frame = pd.DataFrame(
        {
            key_column: _keys(latest["primary_key"].reset_index(drop=True), str(layout.get("key_kind", "text"))),
            "task_gid": gids,
            "permalink_url": [task.get("permalink_url") for task in tasks],
            "sync_status": latest["status"].tolist(),
            "name": [term.get("name") for term in terms],
            "completed": pd.array([term.get("completed") if term else None for term in terms], dtype="boolean"),
            "completed_at": _time([term.get("completed_at") for term in terms]),
            "completed_by": [term.get("completed_by") for term in terms],
            "assignee": [term.get("assignee") for term in terms],
            "section": [term.get("section") for term in terms],
            "due_on": _date([term.get("due_on") for term in terms]),
            "tags": [term.get("tags") if term else None for term in terms],
        }
    )
    for column, field in layout.get("columns") or []:
        if column in frame.columns:
            continue  # a column of the fixed layout already shows this field (or shows its own)
        frame[column] = [_field_value(term, str(field), key_of) if term else None for term in terms]
    frame["num_subtasks"] = pd.array([task.get("num_subtasks") for task in tasks], dtype="Int64")
    frame["num_completed_subtasks"] = pd.array(
        [completed_subtasks.get(gid) if (task.get("num_subtasks") or 0) <= completed_subtasks.get(f"{gid}:known", 0) else None
         for gid, task in zip(gids, tasks)],
        dtype="Int64",
    )  # fmt: skip
    frame["created_at"] = _time([task.get("created_at") for task in tasks])
    frame["modified_at"] = _time([task.get("modified_at") for task in tasks])
    frame["first_synced_at"] = pd.to_datetime(latest["first_synced_at"].to_numpy(), utc=True)
    frame["last_written_at"] = pd.to_datetime(latest["last_written_at"].to_numpy(), utc=True)
    frame["last_run_id"] = latest["last_run_id"].tolist()
    frame["edits_in_asana"] = pd.array([people_edits.get(gid, 0) for gid in gids], dtype="Int64")
    return frame.reset_index(drop=True)


def _completed_subtasks(tasks: list[dict[str, Any]]) -> dict[str, int]:
    """Per parent task, how many of the subtasks the sync reads are completed (`<gid>`), and how many
    it reads (`<gid>:known`): the count is only given when the sync reads every subtask of the task."""
    found: dict[str, int] = {}
    for task in tasks:
        parent = task.get("parent") if task else None
        if isinstance(parent, dict) and parent.get("gid"):
            gid = str(parent["gid"])
            found[f"{gid}:known"] = found.get(f"{gid}:known", 0) + 1
            found[gid] = found.get(gid, 0) + int(bool(task.get("completed")))
    return found


def _edits(history: pd.DataFrame, layout: Mapping[str, Any]) -> dict[str, int]:
    """Per task, how many changes people made to the fields the sync writes."""
    if history.empty:
        return {}
    synced = {str(field).lower() for _, field in layout.get("columns") or []}
    people = history[history["changed_by"].notna() & (history["changed_by"] != SYNC_AUTHOR)]
    is_synced = people["field"].map(lambda name: str(name).lower() in synced).astype(bool)
    return {str(gid): int(count) for gid, count in people[is_synced].groupby("task_gid").size().items()}


def history_frame(history: pd.DataFrame, layout: Mapping[str, Any] | None) -> pd.DataFrame:
    """`asana_task_history`: the primary key under the model's column name, then `HISTORY_COLUMNS`."""
    layout = layout or {"primary_key": "primary_key", "key_kind": "text"}
    frame = pd.DataFrame({str(layout["primary_key"]): _keys(history["primary_key"], str(layout.get("key_kind", "text")))})
    for column in HISTORY_COLUMNS:
        frame[column] = history[column].to_numpy() if column != "changed_at" else pd.to_datetime(history[column], utc=True)
    return frame.reset_index(drop=True)


def sync_log_frame(log: pd.DataFrame, layout: Mapping[str, Any] | None) -> pd.DataFrame:
    """`asana_sync_log`: `run_id`, `run_started_at`, the primary key under the model's column name, then the rest."""
    layout = layout or {"primary_key": "primary_key", "key_kind": "text"}
    frame = log[["run_id", "run_started_at"]].copy()
    frame[str(layout["primary_key"])] = _keys(log["primary_key"], str(layout.get("key_kind", "text"))).to_numpy()
    for column in SYNC_LOG_COLUMNS[2:]:
        # http_status stays a nullable integer (to_numpy would make it a float with NaN for "no answer")
        frame[column] = log[column].to_numpy() if column != "http_status" else log[column].astype("Int64").array
    return frame.reset_index(drop=True)



@dataclass(frozen=True)
class OutcomeTables:
    """The three tables of what became of a sync's work (see the module doc)."""

    outcomes: pd.DataFrame
    history: pd.DataFrame
    sync_log: pd.DataFrame


def outcome_tables(store: StateStore, scope: SyncScope, *, sync_log_days: int) -> OutcomeTables:
    """The outcomes of `scope` as the state holds them: no request to Asana. The sync log keeps
    `sync_log_days` days; older lines leave the state."""
    layout = store.outcome_cursor(scope).layout
    history = store.history(scope)
    since = utc_now() - timedelta(days=sync_log_days)
    return OutcomeTables(
        outcomes_frame(store.snapshots(scope), history, layout, scope.project_gid),
        history_frame(history, layout),
        sync_log_frame(store.sync_log(scope, since), layout),
    )
