"""3. Planning: one operation per row (create, update, unchanged, reject), the removals and comments due; pure and vectorized."""

from .bodies import SYNC_KEY, api_payload
from .build import EMPTY_KEY, NAME_REQUIRED, REPEATED_KEY, build_plan, refresh_plan, with_written
from .changes import FieldChange
from .guards import Guard, GuardReading, GuardTrip, check_guards, guard_trips, read_guards
from .plan import (
    COMPLETE,
    DELETE,
    KEPT,
    OVERWRITTEN,
    PLAN_FORMAT,
    Edit,
    Operation,
    PeopleSeen,
    Plan,
    Planned,
    PlannedRow,
    RebuildPreview,
    Release,
    Removal,
    operation_column,
)

__all__ = [
    "COMPLETE",
    "DELETE",
    "KEPT",
    "OVERWRITTEN",
    "PLAN_FORMAT",
    "EMPTY_KEY",
    "NAME_REQUIRED",
    "REPEATED_KEY",
    "SYNC_KEY",
    "Edit",
    "FieldChange",
    "Guard",
    "GuardReading",
    "GuardTrip",
    "Operation",
    "PeopleSeen",
    "RebuildPreview",
    "Plan",
    "Planned",
    "PlannedRow",
    "Release",
    "Removal",
    "api_payload",
    "build_plan",
    "check_guards",
    "guard_trips",
    "read_guards",
    "operation_column",
    "refresh_plan",
    "with_written",
]
