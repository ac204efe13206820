"""Asana's rate and concurrency limits, per token (whatever process or machine sends it).

- Requests per minute (`rate_limit_per_minute`, counted over a sliding `rate_window_seconds`,
  60 s as in Asana): every request counts, admitted or rejected; over the limit, 429 with
  `Retry-After` = the seconds until the window admits one more.
- Requests in flight: at most `max_concurrent_writes` (15) writes and `max_concurrent_reads`
  (50) reads at once; the next one gets 429 with `Retry-After: 1`.
Both answer Asana's rate-limit body, which has no `help` entry. A batch counts one request
per action. (At most `max_concurrent_jobs` template instantiations per user run at once:
see `templates`.)
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from typing import Any

from .errors import RATE_LIMIT_MESSAGE, error_body, send_json


class SlidingWindow:
    """Requests per minute of one token: every request counts, admitted or rejected, as in Asana."""

    def __init__(self, limit: int | None, seconds: float = 60.0, clock: Any = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self.stamps: deque[float] = deque()
        self.lock = threading.Lock()

    def charge(self, cost: int = 1) -> int | None:
        """Record `cost` requests; None if they fit, else whole seconds until one more would."""
        if not self.limit:
            return None
        now = self.clock()
        with self.lock:
            while self.stamps and self.stamps[0] <= now - self.seconds:
                self.stamps.popleft()
            fits = len(self.stamps) + cost <= self.limit
            self.stamps.extend([now] * cost)
            if fits:
                return None
            oldest_to_expire = self.stamps[len(self.stamps) - self.limit]
            return max(1, math.ceil(oldest_to_expire + self.seconds - now))


class TokenLimits:
    """Each token's window and requests in flight."""

    def __init__(self, per_minute: int | None, window_seconds: float, max_writes: int, max_reads: int):
        self.per_window = per_minute and max(1, round(per_minute * window_seconds / 60))
        self.window_seconds = window_seconds
        self.caps = {True: max_writes, False: max_reads}
        self.windows: dict[bytes, SlidingWindow] = {}
        self.in_flight: Counter[tuple[bytes, bool]] = Counter()
        self.lock = threading.Lock()

    def admit(self, token: bytes, is_write: bool, cost: int = 1) -> int | None:
        """Charge the token's window and take a slot in flight; None if admitted (then `release`
        the slot), else the `Retry-After` seconds of the 429."""
        with self.lock:
            window = self.windows.get(token)
            if window is None:
                window = self.windows[token] = SlidingWindow(self.per_window, self.window_seconds)
        retry_after = window.charge(cost)
        if retry_after is not None:
            return retry_after
        with self.lock:
            if self.in_flight[token, is_write] >= self.caps[is_write]:
                return 1
            self.in_flight[token, is_write] += 1
        return None

    def release(self, token: bytes, is_write: bool) -> None:
        with self.lock:
            self.in_flight[token, is_write] -= 1


async def answer_rate_limited(send: Any, retry_after: int) -> None:
    """Asana's 429: `Retry-After` and its body, without `help`."""
    body = error_body(RATE_LIMIT_MESSAGE, help_text=False)
    await send_json(send, 429, body, ((b"retry-after", str(retry_after).encode()),))
