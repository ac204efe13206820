"""The guards, in one place: a run that would do too much at once fails before its first write,
saying how much, with examples, and naming the setting that allows it.

- `max_removed_fraction`: completing or deleting the tasks of rows that left the model;
- `max_cleared_fraction`: clearing one field (a column dropped or turned NULL upstream);
- `max_replaced_fraction`: rows leaving while as many new rows appear (the key changed format); and,
  without a sync key, the sync's tasks in the project that its state does not know (a lost or older
  state) while their rows would be created again.

Each counts against the sync's live tasks, and never trips for 5 tasks or fewer. `read_guards`
is every guard's reading of a plan (what the asset checks show); `check_guards` raises the trips
(what the run does before writing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import GuardError, RemovalGuardError
from ..settings import RemovalPolicy
from .plan import Plan


class Guard(StrEnum):
    """A guard, by the setting that sets its limit."""

    REMOVED = "max_removed_fraction"
    CLEARED = "max_cleared_fraction"
    REPLACED = "max_replaced_fraction"

FLOOR = 5
"""Doing this to 5 tasks or fewer never trips a guard."""
EXAMPLES = 5


@dataclass(frozen=True)
class GuardTrip:
    """A guard that would stop the run: which, how many, out of how many, and why."""

    guard: Guard
    count: int
    of: int
    limit: float
    message: str

    @property
    def setting(self) -> str:
        return self.guard.value

    @property
    def share(self) -> float:
        return self.count / self.of if self.of else 0.0


def _trips(count: int, of: int, limit: float) -> bool:
    return count > FLOOR and of > 0 and count / of > limit


def _examples(keys: list[str]) -> str:
    shown = ", ".join(repr(key) for key in keys[:EXAMPLES])
    return f"{shown}, …" if len(keys) > EXAMPLES else shown


def removal_trip(plan: Plan) -> GuardTrip | None:
    count, of, limit = len(plan.removals), plan.live_tasks, plan.settings.max_removed_fraction
    if not _trips(count, of, limit):
        return None
    verb = "complete" if plan.settings.on_row_removed is RemovalPolicy.COMPLETE else "delete"
    return GuardTrip(
        Guard.REMOVED, count, of, limit,
        f"This run would {verb} {count:,} of the sync's {of:,} live tasks ({count / of:.0%}), more than "
        f"max_removed_fraction ({limit:.0%}) allows; nothing was written. If the model really lost those rows "
        f"(for example {_examples([removal.key for removal in plan.removals])}), raise max_removed_fraction for this "
        "run; if not, fix the model (an empty or broken query looks like this).",
    )  # fmt: skip


def cleared_trips(plan: Plan) -> list[GuardTrip]:
    """One trip per field that would be cleared on too many tasks."""
    cleared: dict[str, list[str]] = defaultdict(list)
    keys = plan.table["primary_key"].to_numpy(dtype=object)
    for position, changes in plan.changes.items():
        for change in changes:
            if change.clears:
                cleared[change.field].append(str(keys[position]))
    of, limit, trips = plan.tracked_tasks, plan.settings.max_cleared_fraction, []
    for name, rows in sorted(cleared.items(), key=lambda item: -len(item[1])):
        if _trips(len(rows), of, limit):
            trips.append(
                GuardTrip(
                    Guard.CLEARED, len(rows), of, limit,
                    f"This run would clear {name} on {len(rows):,} of the sync's {of:,} live tasks "
                    f"({len(rows) / of:.0%}), more than max_cleared_fraction ({limit:.0%}) allows; nothing was written. "
                    f"Rows such as {_examples(rows)} no longer give {name}: was its column dropped or turned NULL "
                    "upstream? If the model really cleared it, raise max_cleared_fraction for this run; to keep "
                    f"people's values instead, set field_policies: {{{name}: skip_nulls}}.",
                )  # fmt: skip
            )
    return trips


def cleared_counts(plan: Plan) -> dict[str, int]:
    """How many tasks each field would be cleared on."""
    counted: Counter[str] = Counter(change.field for changes in plan.changes.values() for change in changes if change.clears)
    return dict(counted)


def replaced_trip(plan: Plan) -> GuardTrip | None:
    if not plan.gone:
        return None  # nothing left the model: nothing was replaced
    appeared = plan.new_keys()
    new_keys, new_count = appeared[: EXAMPLES + 1].tolist(), len(appeared)
    count, of, limit = min(len(plan.gone), new_count), plan.tracked_tasks, plan.settings.max_replaced_fraction
    if not _trips(count, of, limit):
        return None
    return GuardTrip(
        Guard.REPLACED, count, of, limit,
        f"This run would leave {len(plan.gone):,} of the sync's {of:,} live tasks without their row while "
        f"{new_count:,} new rows appear ({count / of:.0%} replaced), more than max_replaced_fraction ({limit:.0%}) "
        f"allows; nothing was written. Keys that left: {_examples(plan.gone)}; keys that appeared: "
        f"{_examples(new_keys)}. Did the primary key change format upstream (a type, padding, spaces)? Fix the "
        "model's key; if the rows really were replaced, raise max_replaced_fraction for this run.",
    )  # fmt: skip


def lost_tasks_trip(plan: Plan) -> GuardTrip | None:
    """Without a sync key, a state that lost the sync's tasks (deleted, or an older copy restored) would
    create their rows again: the project's tasks no state knows that the sync's user made and that are
    named like rows to create, against the sync's tasks as Asana holds them (those the state knows and these)."""
    if plan.settings.sync_key_field:
        return None
    count = plan.people.unknown_own
    of, limit = plan.tracked_tasks + count, plan.settings.max_replaced_fraction
    if not _trips(count, of, limit):
        return None
    known = f"knows {plan.tracked_tasks:,} of the sync's tasks" if plan.tracked_tasks else "knows none of the sync's tasks"
    return GuardTrip(
        Guard.REPLACED, count, of, limit,
        f"The sync state {known}, but the project holds {count:,} tasks created by this sync's user that no sync's "
        f"state knows, named like rows this run would create ({count / of:.0%} of the sync's tasks, more than "
        f"max_replaced_fraction ({limit:.0%}) allows): the state was lost or an older copy restored, and without "
        "sync_key_field this run would create those rows again; nothing was written. Point SYNC_STATE_DUCKDB_PATH "
        "(or SYNC_STATE_URL) at the state earlier runs used if it still exists. Otherwise: set sync_key_field (a "
        "text custom field of the project) and run again, so the state is rebuilt from Asana (it adopts the tasks that "
        "carry their row's key, and those that show their row exactly, then writes the key into them); or, if these "
        "tasks are not this sync's or their rows should get new tasks, run once with max_replaced_fraction raised "
        "(1.0).",
    )  # fmt: skip


@dataclass(frozen=True)
class GuardReading:
    """One guard's view of a plan: how many tasks it counts, of how many, its limit, its trips
    (none when within the limit), and details worth showing beside them."""

    guard: Guard
    count: int
    of: int
    limit: float
    trips: list[GuardTrip] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.trips

    @property
    def message(self) -> str | None:
        return " ".join(trip.message for trip in self.trips) or None


def read_guards(plan: Plan) -> list[GuardReading]:
    """Every guard's reading of `plan`, in the order the run checks them."""
    settings = plan.settings
    removal = removal_trip(plan)
    replaced = replaced_trip(plan)
    lost = lost_tasks_trip(plan)
    counts = cleared_counts(plan)
    most_cleared = max(counts, key=lambda name: counts[name]) if counts else None
    return [
        GuardReading(
            Guard.REMOVED, len(plan.removals), plan.live_tasks, settings.max_removed_fraction, [removal] if removal else [],
            {"on_row_removed": settings.on_row_removed.value},
        ),
        GuardReading(
            Guard.REPLACED, *((lost.count, lost.of) if lost else (min(len(plan.gone), len(plan.new_keys())), plan.tracked_tasks)),
            settings.max_replaced_fraction, [trip for trip in (replaced, lost) if trip],
            {"rows_gone": len(plan.gone), "rows_new": len(plan.new_keys()), "unknown_tasks_of_the_sync": plan.people.unknown_own},
        ),
        GuardReading(
            Guard.CLEARED, counts.get(most_cleared, 0) if most_cleared else 0, plan.tracked_tasks,
            settings.max_cleared_fraction, cleared_trips(plan), {"most_cleared_field": most_cleared or "none"},
        ),
    ]  # fmt: skip


def guard_trips(plan: Plan) -> list[GuardTrip]:
    """Every guard this plan would trip, in the order they are checked."""
    return [trip for reading in read_guards(plan) for trip in reading.trips]


def check_guards(plan: Plan) -> None:
    """Fail before any write when the plan would remove, clear or replace too much of the sync's tasks:
    `RemovalGuardError` when removals are among the trips, else `GuardError`, each carrying its trips."""
    trips = guard_trips(plan)
    if trips:
        error = RemovalGuardError if any(trip.guard is Guard.REMOVED for trip in trips) else GuardError
        raise error("\n".join(trip.message for trip in trips), trips=trips)
