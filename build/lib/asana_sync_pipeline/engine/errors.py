"""Every exception the sync raises, under one root.

    AsanaSyncError                  anything this project raises on purpose
    ├── SyncConfigError             the sync is configured wrongly; nothing was sent
    │   └── ModelQueryRefused       the model query reached beyond reading the warehouse
    ├── RowRejected                 one row cannot sync; it is rejected, the others go on
    │   ├── FieldValueError         a value its field cannot take
    │   ├── NameNotFound            a name (option, tag, section, user) the project lacks
    │   └── TaskOutsideProject      a task_gid of another project
    ├── AmbiguousName               two things share a name; the caller makes it a row's or the sync's
    ├── ConnectionCheckError        token, URL or project failed the connection test
    ├── StateStoreError             the sync state cannot be read or written
    ├── GuardError                  a run would do too much at once; nothing was written
    │   └── RemovalGuardError       ... complete or delete too many tasks
    └── AsanaError                  talking to Asana failed
        ├── AsanaTransportError     no usable HTTP answer (refused, reset, timeout)
        └── AsanaAPIError           Asana answered an error status
            ├── InvalidRequestError     400
            ├── AuthenticationError     401
            ├── PremiumOnlyError        402
            ├── ForbiddenError          403
            ├── NotFoundError           404
            ├── SyncTokenExpired        412 (events: the sync token is missing or too old; a fresh one comes with it)
            ├── RateLimitError          429
            └── ServerError             5xx

Every message is written for the person running the sync and never contains the
access token: messages are built only from Asana's error bodies, the method, the
path and settings that are not secret.
"""

from __future__ import annotations

from typing import Any


class AsanaSyncError(Exception):
    """Root of the exceptions this project raises; its message says what to do."""


class SyncConfigError(AsanaSyncError, ValueError):
    """The sync is configured in a way that cannot work; nothing was sent to Asana."""


class ModelQueryRefused(SyncConfigError):
    """The model query tried to reach beyond the warehouse (a file, another database, a setting);
    the message names the setting that allows reading files, and whom it trusts."""


class RowRejected(AsanaSyncError):
    """One row cannot sync; its message is the reason recorded beside the row."""


class FieldValueError(RowRejected, ValueError):
    """A value the field cannot take; the message is the reason shown to the user."""


class NameNotFound(RowRejected, LookupError):
    """A name that matched nothing; the message names it and lists the choices."""


class TaskOutsideProject(RowRejected):
    """The model's task_gid names a task of another project."""


class AmbiguousName(AsanaSyncError, LookupError):
    """Two things share a name (up to case); the message lists them. The caller turns it into a
    row's rejection or the sync's configuration error."""


class ConnectionCheckError(AsanaSyncError):
    """The connection test failed (token, URL, project, sync key field); nothing was written."""


class StateStoreError(AsanaSyncError):
    """The sync state cannot be opened, read or written; it was left as it is."""


class GuardError(AsanaSyncError):
    """A run would do more at once than a guard allows (`max_removed_fraction`, `max_cleared_fraction`,
    `max_replaced_fraction`); the message names the setting and gives examples, `trips` says which
    guards tripped and by how much (`planning.guards.GuardTrip`)."""

    def __init__(self, message: str, *, trips: list[Any] | None = None):
        super().__init__(message)
        self.trips = list(trips or [])


class RemovalGuardError(GuardError):
    """A run would complete or delete more tasks than `max_removed_fraction` allows."""


class AsanaError(AsanaSyncError):
    """A failure talking to Asana."""


class AsanaTransportError(AsanaError):
    """No usable HTTP answer: connection refused or reset, or a timeout.

    `maybe_processed` is True when the request may have reached Asana (the
    ambiguous case: a create may have happened), False when it certainly did not.
    """

    def __init__(self, message: str, *, maybe_processed: bool):
        super().__init__(message)
        self.maybe_processed = maybe_processed


class AsanaAPIError(AsanaError):
    """Asana answered with an error status; `messages` are Asana's own texts."""

    status_code: int = 0

    def __init__(
        self,
        status_code: int,
        messages: list[str],
        *,
        method: str = "",
        path: str = "",
        phrase: str | None = None,
    ):
        self.status_code = status_code
        self.messages = messages
        self.method = method
        self.path = path
        self.phrase = phrase
        super().__init__(self.describe())

    @property
    def reason(self) -> str:
        """Asana's messages joined: what to record against a rejected row."""
        return "; ".join(self.messages) or f"HTTP {self.status_code}"

    def describe(self) -> str:
        where = f" on {self.method} {self.path}" if self.method else ""
        phrase = f" (phrase: {self.phrase})" if self.phrase else ""
        return f"Asana answered {self.status_code}{where}: {self.reason}{phrase}"


class InvalidRequestError(AsanaAPIError):
    """400: Asana refused the values sent."""


class AuthenticationError(AsanaAPIError):
    """401: the token is missing, wrong or revoked."""


class PremiumOnlyError(AsanaAPIError):
    """402: the feature needs a paid Asana plan."""


class ForbiddenError(AsanaAPIError):
    """403: the token's user may not do this."""


class NotFoundError(AsanaAPIError):
    """404: the object does not exist, or is not visible to the token's user."""


class SyncTokenExpired(AsanaAPIError):
    """412 from the events API: no valid sync token; `fresh` is the one to read from next time."""

    def __init__(self, messages: list[str], *, fresh: str, method: str = "", path: str = ""):
        self.fresh = fresh
        super().__init__(412, messages, method=method, path=path)


class RateLimitError(AsanaAPIError):
    """429: too many requests; `retry_after` is Asana's requested wait in seconds."""

    def __init__(self, messages: list[str], *, retry_after: float, method: str = "", path: str = ""):
        self.retry_after = retry_after
        super().__init__(429, messages, method=method, path=path)


class ServerError(AsanaAPIError):
    """5xx: Asana failed; the request may or may not have taken effect."""


_BY_STATUS: dict[int, type[AsanaAPIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: PremiumOnlyError,
    403: ForbiddenError,
    404: NotFoundError,
}


def api_error_for(
    status_code: int,
    messages: list[str],
    *,
    method: str,
    path: str,
    phrase: str | None = None,
    retry_after: float | None = None,
    fresh_token: str | None = None,
) -> AsanaAPIError:
    """The most specific exception for an HTTP error status."""
    if status_code == 429:
        return RateLimitError(messages, retry_after=retry_after or 1.0, method=method, path=path)
    if status_code == 412 and fresh_token:
        return SyncTokenExpired(messages, fresh=fresh_token, method=method, path=path)
    if status_code >= 500:
        return ServerError(status_code, messages, method=method, path=path, phrase=phrase)
    cls = _BY_STATUS.get(status_code, AsanaAPIError)
    return cls(status_code, messages, method=method, path=path, phrase=phrase)
