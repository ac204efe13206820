"""Custom-field values as Asana types them on a task write (`custom_fields: {gid: value}`).

Kept apart from the store: each type has its own accepted forms, and these are
the rules a sync most often gets subtly wrong. Accepted, by type (null clears):
  text        a string of at most 1,024 characters
  number      a number (or a numeric string); shown to the field's precision
  enum        an enabled option's GID (a disabled or unknown option: 400)
  multi_enum  an array of enabled option GIDs
  date        "YYYY-MM-DD", an ISO 8601 date-time, or {"date": ...} / {"date_time": ...}
  people      an array of user GIDs, emails or "me"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import ApiError
from .values import check_date, check_datetime, gid_text

TEXT_LIMIT = 1024
ResolveUser = Callable[[Any, str], str]


def custom_value(custom: dict[str, Any], value: Any, resolve_user: ResolveUser) -> Any:
    """The value to store for the field `custom`; None clears; 400 for a value of the wrong type."""
    kind, gid = custom["resource_subtype"], custom["gid"]
    if value is None:
        return None
    if kind == "text":
        if not isinstance(value, str) or len(value) > TEXT_LIMIT:
            raise ApiError(400, f"custom_fields: Value for {gid} must be a string of at most {TEXT_LIMIT} characters")
        return value
    if kind == "number":
        return number_value(gid, value)
    if kind == "enum":
        if isinstance(value, (list, dict)):
            raise ApiError(400, f"custom_fields: Value for {gid} must be the GID of one of its enum options")
        return enum_option(custom, value)
    if kind == "multi_enum":
        if not isinstance(value, list):
            raise ApiError(400, f"custom_fields: Value for {gid} must be an array of its enum option GIDs")
        return list(dict.fromkeys(enum_option(custom, option) for option in value)) or None
    if kind == "date":
        return date_value(value)
    if kind == "people":
        if not isinstance(value, list):
            raise ApiError(400, f"custom_fields: Value for {gid} must be an array of users")
        return list(dict.fromkeys(resolve_user(person, "custom_fields") for person in value)) or None
    raise ApiError(400, f"custom_fields: Custom field {gid} of type {kind} cannot be written")


def enum_option(custom: dict[str, Any], value: Any) -> str:
    """The GID of an enabled option of the enum field `custom`; 400 for an unknown or disabled one."""
    options = {option["gid"]: option for option in custom.get("enum_options", [])}
    option = options.get(gid_text(value))
    if option is None:
        raise ApiError(400, f"custom_fields: {value!r} is not an enum option of custom field {custom['gid']}")
    if not option.get("enabled", True):
        raise ApiError(400, f"custom_fields: Enum option {option['gid']} ({option['name']}) of custom field "
                            f"{custom['gid']} is disabled and cannot be set")
    return option["gid"]


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
        if value.get("date_time") is not None and value.get("date") is not None:
            raise ApiError(400, "custom_fields: You may only provide one of date or date_time!")
        if value.get("date_time") is not None:
            moment = check_datetime("custom_fields", value["date_time"])
            return {"date": moment[:10], "date_time": moment}
        if value.get("date") is not None:
            return {"date": check_date("custom_fields", value["date"]), "date_time": None}
        return None
    if isinstance(value, str) and len(value) > 10:
        moment = check_datetime("custom_fields", value)
        return {"date": moment[:10], "date_time": moment}
    return {"date": check_date("custom_fields", value), "date_time": None}
