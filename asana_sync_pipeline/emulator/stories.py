"""A task's stories: comments posted through the API, and the system stories Asana
writes itself (here: `added_to_project`, when a task joins a project).

A comment is `text` or `html_text` (one of them, not both), authored by the
token's user and stamped when it arrives. Posting is not idempotent: a retry
after a lost answer makes a second comment, as in Asana.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .values import check_rich_text, html_from_text, plain_text

COMMENT_TAGS = frozenset({"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a", "img", "object"})
WRITABLE = frozenset({"text", "html_text", "is_pinned", "sticker_name"})
TEXT_LIMIT = 65_535


@dataclass
class Story:
    gid: str
    task: str
    created_at: str
    created_by: str
    resource_subtype: str
    text: str
    html_text: str | None = None
    is_pinned: bool = False
    project: str | None = None

    @property
    def is_comment(self) -> bool:
        return self.resource_subtype == "comment_added"


def comment_fields(data: Any) -> dict[str, Any]:
    """`text`, `html_text` and `is_pinned` of a new comment; 400 for anything Asana refuses."""
    if not isinstance(data, dict):
        raise ApiError(400, "data: Must be an object")
    for key in data:
        if key not in WRITABLE:
            raise ApiError(400, f"{key}: Unknown property")
    if data.get("sticker_name") is not None:
        raise ApiError(400, "sticker_name: Stickers are not supported by the emulator")
    text, html = data.get("text"), data.get("html_text")
    if text is not None and html is not None:
        raise ApiError(400, "You may only provide one of text or html_text!")
    if html is not None:
        html = check_rich_text(html, "html_text", COMMENT_TAGS)
        text = plain_text(html)
    elif text is not None:
        if not isinstance(text, str):
            raise ApiError(400, "text: Must be a string")
        html = html_from_text(text)
    if not text or not text.strip():
        raise ApiError(400, "text: Missing input" if text is None else "text: A comment cannot be empty")
    if len(text) > TEXT_LIMIT:
        raise ApiError(400, f"text: A comment may hold at most {TEXT_LIMIT} characters")
    pinned = data.get("is_pinned", False)
    if not isinstance(pinned, bool):
        raise ApiError(400, "is_pinned: Must be a boolean")
    return {"text": text, "html_text": html, "is_pinned": pinned}
