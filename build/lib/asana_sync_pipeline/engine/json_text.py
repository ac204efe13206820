"""JSON text with exact numbers: `Decimal`s are written with all their digits.

Request bodies and stored intents go through `dumps`, so a number custom field
fed by a DECIMAL(38,10) column receives every digit, not a float's 17, and an
intent read back compares with the task it made.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def dumps(data: Any, *, sort_keys: bool = False) -> str:
    exact: dict[str, str] = {}

    def default(value: Any) -> str:
        if isinstance(value, Decimal):
            marker = f"\x00decimal{len(exact)}\x00"
            exact[json.dumps(marker)] = format(value, "f")
            return marker
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    text = json.dumps(data, default=default, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for marker, digits in exact.items():
        text = text.replace(marker, digits)
    return text
