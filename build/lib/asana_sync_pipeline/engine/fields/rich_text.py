"""Local check of Asana rich text (`html_notes`), so a bad value rejects one row
before any request instead of costing a 400 from Asana.

Asana parses `html_notes` as XML: it must be well formed, wrapped in `<body>`,
use only Asana's tags, and only links and embeds take attributes. A value
without the `<body>` wrapper is wrapped for the user (the content is otherwise
sent unchanged), since forgetting it is the most common mistake and the intent
is never in doubt.
"""

from __future__ import annotations

from lxml import etree

ALLOWED_TAGS = frozenset(
    {"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a", "h1", "h2", "hr", "img", "object"}
)
_LINK_ATTRIBUTES = frozenset({"href", "target"})
_EMBED_TAGS = frozenset({"img", "object"})
_EMBED_ATTRIBUTES = frozenset({"src", "alt", "style", "type"})

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)


class RichTextError(ValueError):
    """The value is not Asana rich text; the message says where and why."""


def _attribute_allowed(tag: str, attribute: str) -> bool:
    if attribute.startswith("data-asana-"):
        return tag == "a" or tag in _EMBED_TAGS
    if tag == "a":
        return attribute in _LINK_ATTRIBUTES
    if tag in _EMBED_TAGS:
        return attribute in _EMBED_ATTRIBUTES
    return False


def _parse(text: str) -> etree._Element:
    try:
        return etree.fromstring(text.encode("utf-8"), parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise RichTextError(f"not well-formed XML ({exc.msg}, line {exc.lineno})") from None


def normalize_html_notes(value: str) -> str:
    """The value Asana will accept, wrapped in `<body>` if needed; raises RichTextError."""
    text = value.strip()
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise RichTextError("DOCTYPE and entity declarations are not allowed in rich text")
    if not (text.startswith("<body>") or text.startswith("<body ")) or not text.endswith("</body>"):
        text = f"<body>{text}</body>"
    root = _parse(text)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag not in ALLOWED_TAGS:
            raise RichTextError(
                f"<{element.tag}> is not allowed in Asana rich text; allowed tags: "
                + ", ".join(sorted(ALLOWED_TAGS))
            )
        if element.tag == "body" and element is not root:
            raise RichTextError("<body> may only wrap the whole text, not appear inside it")
        for attribute in element.attrib:
            if not _attribute_allowed(element.tag, attribute):
                raise RichTextError(f'attribute "{attribute}" is not allowed on <{element.tag}>')
    return text
