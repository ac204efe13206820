"""Custom-field values as Asana types them on a task write (`custom_fields: {gid: value}`).

Kept apart from the store: each type has its own accepted forms, and these are
the rules a sync most often gets subtly wrong.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .errors import ApiError
from .values import check_date, check_datetime, gid_text

TEXT_LIMIT = 1024
ResolveUser = Callable[[Any, str], str]


def custom_value(custom: dict[str, Any], value: Any, resolve_user: ResolveUser) -> Any:
    """The value to store for the field `custom`; None clears; 400 for a value of the wrong type."""
    kind, gid = custom["resource_subtype"], custom["gid"]
    if value is None:
        return None
    options = {option["gid"] for option in custom.get("enum_options", []) if option.get("enabled", True)}
    if kind == "text":
        if not isinstance(value, str) or len(value) > TEXT_LIMIT:
            raise ApiError(400, f"custom_fields: Value for {gid} must be a string of at most {TEXT_LIMIT} characters")
        return value
    if kind == "number":
        return number_value(gid, value)
    if kind == "enum":
        if gid_text(value) not in options:
            raise ApiError(400, f"custom_fields: {value!r} is not an enum option of custom field {gid}")
        return gid_text(value)
    if kind == "multi_enum":
        if not isinstance(value, list) or any(gid_text(option) not in options for option in value):
            raise ApiError(400, f"custom_fields: Value for {gid} must be an array of its enum option GIDs")
        return list(dict.fromkeys(gid_text(option) for option in value)) or None
    if kind == "date":
        return date_value(value)
    if kind == "people":
        if not isinstance(value, list):
            raise ApiError(400, f"custom_fields: Value for {gid} must be an array of users")
        return list(dict.fromkeys(resolve_user(person, "custom_fields") for person in value)) or None
    raise ApiError(400, f"custom_fields: Custom field {gid} of type {kind} cannot be written")


def number_value(gid: str, value: Any) -> int | float:
    """A number, or a numeric string (which Asana also accepts); finite only, booleans refused."""
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise ApiError(400, f"custom_fields: Value for {gid} must be a number")
    return number


def date_value(value: Any) -> dict[str, str | None] | None:
    """`{"date"}`, `{"date_time"}`, or a plain date or date-time string; stored as `{date, date_time}`."""
    if isinstance(value, dict):
        unknown = set(value) - {"date", "date_time"}
        if unknown:
            raise ApiError(400, f"custom_fields: Unknown date property: {', '.join(sorted(unknown))}")
        if value.get("date_time") is not None:
            value = value["date_time"]
        elif value.get("date") is not None:
            value = value["date"]
        else:
            return None
    if isinstance(value, str) and len(value) > 10:
        moment = check_datetime("custom_fields", value)
        return {"date": moment[:10], "date_time": moment}
    return {"date": check_date("custom_fields", value), "date_time": None}
