"""A task's dates as Asana rules them: a date or a date-time for the due and the
start, and the rules that span fields.

Every rule is checked on the task as the write would leave it (the stored
fields merged with the request), so an update that only clears `due_at` is
refused when it would leave a `start_at` behind, as in Asana:
- one of `due_on` / `due_at`, one of `start_on` / `start_at`, per request;
- a start needs a due date, a `start_at` needs a `due_at`;
- the start is not after the due (`start_on` against the due date, which a
  `due_at` also sets, `start_at` against `due_at`);
- milestones have no start.
"""

from __future__ import annotations

from typing import Any, Protocol

from .errors import ApiError
from .values import check_date, check_datetime

PAIRS = (("due_on", "due_at"), ("start_on", "start_at"))


class Dated(Protocol):
    resource_subtype: str
    due_on: str | None
    due_at: str | None
    start_on: str | None
    start_at: str | None


def apply_dates(task: Dated, data: dict[str, Any]) -> None:
    """Write the request's dates onto `task`, then check the rules on the result."""
    for on_key, at_key in PAIRS:
        _apply_pair(task, data, on_key, at_key)
    check_schedule(task)


def _apply_pair(task: Dated, data: dict[str, Any], on_key: str, at_key: str) -> None:
    """A date or a date-time, never both; a date-time also sets the date; a null clears both."""
    if on_key not in data and at_key not in data:
        return
    on, at = data.get(on_key), data.get(at_key)
    if on is not None and at is not None:
        raise ApiError(400, f"You may only provide one of {on_key} or {at_key}!")
    if at is not None:
        moment = check_datetime(at_key, at)
        setattr(task, at_key, moment)
        setattr(task, on_key, moment[:10])
    elif on is not None:
        setattr(task, on_key, check_date(on_key, on))
        setattr(task, at_key, None)
    else:
        setattr(task, on_key, None)
        setattr(task, at_key, None)


def check_schedule(task: Dated) -> None:
    if task.resource_subtype == "milestone" and task.start_on:
        raise ApiError(400, "start_on: Milestones cannot have a start date")
    if task.start_at and not task.due_at:
        raise ApiError(400, "start_at: A start time requires a due time (due_at)")
    if task.start_on and not task.due_on:
        raise ApiError(400, "start_on: A start date requires a due date")
    if task.start_at and task.due_at and task.start_at > task.due_at:
        raise ApiError(400, "start_at: The start time must be on or before the due time")
    if task.start_on and task.due_on and task.start_on > task.due_on:
        raise ApiError(400, "start_on: The start date must be on or before the due date")
