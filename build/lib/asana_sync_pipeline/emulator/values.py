"""Asana's value formats: dates, date-times, GIDs and rich text (`html_notes`).

Each check either returns the value as Asana stores it or raises `ApiError`
400 naming the field. Rich text is parsed as XML (lxml, entities and network
off), never matched with regular expressions.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from .errors import ApiError

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
GID_PATTERN = re.compile(r"\d{1,20}")
RICH_TEXT_TAGS = frozenset(
    {"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a", "h1", "h2", "hr", "img", "object"}
)
EMBED_TAGS = frozenset({"img", "object"})
LINK_ATTRIBUTES = frozenset({"href", "target"})
EMBED_ATTRIBUTES = frozenset({"src", "alt", "style", "type"})

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_TEXT_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True
)


class Clock:
    """Asana's timestamps (UTC, milliseconds, `Z`), strictly increasing from one call to the next,
    so that two changes never share a `modified_at` and `modified_since` cursors stay exact."""

    def __init__(self) -> None:
        self.last = datetime.min.replace(tzinfo=UTC)

    def __call__(self) -> str:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self.last = max(now, self.last + timedelta(milliseconds=1))
        return self.last.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime (naive means UTC); ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_date(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        raise ApiError(400, f"{field_name}: Must be a date in the format YYYY-MM-DD: {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{field_name}: Not a valid date: {value}") from None
    return value


def check_datetime(field_name: str, value: Any) -> str:
    """A date-time with a time part (a bare date is refused), normalised to UTC."""
    if not isinstance(value, str) or len(value) < 11 or value[10] not in "Tt" or not DATE_PATTERN.fullmatch(value[:10]):
        raise ApiError(400, f"{field_name}: Must be an ISO 8601 date-time: {value!r}")
    try:
        moment = parse_moment(value)
    except ValueError:
        raise ApiError(400, f"{field_name}: Must be an ISO 8601 date-time: {value!r}") from None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gid_text(value: Any) -> str | None:
    """A GID as Asana accepts it in bodies (a numeric string, or a number); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and GID_PATTERN.fullmatch(value):
        return value
    return None


def _attribute_allowed(tag: str, attribute: str) -> bool:
    if tag == "a":
        return attribute in LINK_ATTRIBUTES or attribute.startswith("data-asana-")
    if tag in EMBED_TAGS:
        return attribute in EMBED_ATTRIBUTES or attribute.startswith("data-")
    return False


def check_rich_text(value: Any, field_name: str = "html_notes", allowed_tags: frozenset[str] = RICH_TEXT_TAGS) -> str:
    """Asana's rule: well-formed XML in one `<body>`, Asana's tags only (`allowed_tags`: a task's
    by default), attributes only on links and embeds."""
    if not isinstance(value, str):
        raise ApiError(400, f"{field_name}: Must be a string")
    try:
        root = etree.fromstring(value.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ApiError(400, f"{field_name}: XML is invalid: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise ApiError(400, f"{field_name}: XML is invalid: DOCTYPE declarations are not allowed")
    if root.tag != "body":
        raise ApiError(400, f"{field_name}: XML is invalid: the root element must be <body>")
    for element in root.iter():
        if not isinstance(element.tag, str):
            if isinstance(element, etree._Entity):
                raise ApiError(400, f"{field_name}: XML is invalid: entity &{element.name}; is not defined")
            continue
        if element.tag not in allowed_tags:
            raise ApiError(400, f"{field_name}: Tag <{element.tag}> is not supported")
        if element.tag == "body" and element is not root:
            raise ApiError(400, f"{field_name}: <body> may only wrap the whole text")
        for attribute in element.attrib:
            if not _attribute_allowed(element.tag, attribute):
                raise ApiError(400, f"{field_name}: Attribute {attribute} is not supported on <{element.tag}>")
    return value


def plain_text(html: str) -> str:
    """`notes` for an `html_notes` already checked: its text with the tags stripped."""
    return "".join(etree.fromstring(html.encode("utf-8"), _TEXT_PARSER).itertext())


def html_from_text(text: str) -> str:
    """`html_notes` for plain `notes`: the text escaped inside `<body>`."""
    return f"<body>{escape(text)}</body>"
