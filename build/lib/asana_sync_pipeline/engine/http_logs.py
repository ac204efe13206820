"""Our HTTP requests kept out of Python's logs.

httpx logs every request at INFO with its whole URL (`HTTP Request: POST https://hooks…/T000/B000/
<secret>`), and httpcore traces every connection at DEBUG (response headers included), for every
client in the process, to whatever handler the application configured. A webhook's URL is its
secret, so while one of our clients sends (`quiet_http_logs()`, a context variable: per thread and
per asyncio task), a filter on those loggers keeps only the origin of httpx's request line
(`POST https://hooks.slack.com/… "HTTP/1.1 200 OK"`) and drops httpcore's trace. A filter, not a
level: it holds whatever level the application sets. Other clients in the process log as before.
The token travels in a header, which neither library logs; the trace is dropped all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks")
"""Every logger httpx 0.28 and httpcore 1.0 log to (each its own: a filter applies to its own logger's records)."""
HIDDEN = "/…"

_ours: ContextVar[bool] = ContextVar("asana_sync_quiet_http", default=False)


def origin(url: object) -> str:
    """A URL without what may be secret: scheme, host and port, the path, query and credentials hidden."""
    try:
        parsed = httpx.URL(str(url))
    except Exception:  # not a URL we can read: show nothing of it
        return HIDDEN
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}{HIDDEN}" if parsed.host else HIDDEN


class _OurRequests(logging.Filter):
    """While one of our clients sends: httpx's lines show the URL's origin alone; httpcore's trace is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _ours.get():
            return True
        if record.name != "httpx":
            return False
        if isinstance(record.args, tuple):
            record.args = tuple(origin(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        elif record.args:
            return False  # a shape of record we do not know: nothing of it
        return True


_FILTER = _OurRequests()


def _install() -> None:
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


@contextmanager
def quiet_http_logs() -> Iterator[None]:
    """Our requests made inside the block log no URL path and no trace (see the module's docstring)."""
    _install()  # again each time: a logging configuration applied since may have replaced filters
    token = _ours.set(True)
    try:
        yield
    finally:
        _ours.reset(token)
