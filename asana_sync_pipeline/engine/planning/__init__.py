"""3. Planning: one operation per row (create, update, unchanged, reject), the removals and comments due; pure and vectorized."""

from .bodies import SYNC_KEY, api_payload
from .build import EMPTY_KEY, NAME_REQUIRED, REPEATED_KEY, build_plan, refresh_plan
from .plan import COMPLETE, DELETE, Operation, Plan, PlannedRow, Removal

__all__ = [
    "COMPLETE",
    "DELETE",
    "EMPTY_KEY",
    "NAME_REQUIRED",
    "REPEATED_KEY",
    "SYNC_KEY",
    "Operation",
    "Plan",
    "PlannedRow",
    "Removal",
    "api_payload",
    "build_plan",
    "refresh_plan",
]
