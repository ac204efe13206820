"""Asana's refusals as row rejections: the reason a person reads and the field it concerns, and
what a failed write means for the run."""

from __future__ import annotations

from ..errors import AsanaAPIError, AsanaError, AsanaTransportError, AuthenticationError, RateLimitError, ServerError


def ambiguous(exc: AsanaError) -> bool:
    """True when a failed write (a create, a comment) may nevertheless have reached Asana."""
    if isinstance(exc, AsanaTransportError):
        return exc.maybe_processed
    return isinstance(exc, ServerError)


def unclear_or_refused(exc: AsanaError) -> bool:
    """For a write that must happen once (a create, a comment) and failed: True when it may have
    happened anyway (check before sending again), False when Asana refused it (reject the row).
    Raises what concerns the whole run: a rejected token, or a request that never left."""
    if isinstance(exc, AuthenticationError):
        raise exc
    if ambiguous(exc):
        return True
    if isinstance(exc, AsanaTransportError):
        raise exc
    return False


def reason_for(exc: AsanaError) -> str:
    if isinstance(exc, RateLimitError):
        return "Asana kept answering 429 (rate limit) after every retry; the row is retried on the next run"
    if isinstance(exc, ServerError):
        return f"Asana failed ({exc.status_code}) after every retry: {exc.reason}; retried on the next run"
    if isinstance(exc, AsanaAPIError):
        return f"Asana refused the task ({exc.status_code}): {exc.reason}"
    return f"{exc}; retried on the next run"


def field_of(exc: AsanaError) -> str:
    """The field an Asana message names (`due_on: ...`), if any."""
    if isinstance(exc, AsanaAPIError) and exc.messages:
        head, separator, _ = exc.messages[0].partition(":")
        if separator and head and " " not in head.strip():
            return head.strip()
    return ""
