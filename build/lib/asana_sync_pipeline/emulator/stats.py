"""The counters of what an emulator saw, read through `GET /_emulator/stats` or `server.stats`."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Requests by method and status, writes, batch actions, 429s from the limits, faults by kind,
    and the requests in flight (of every token together) with their peaks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writes_in_flight = 0
        self.reads_in_flight = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.by_method: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.write_requests = 0
            self.batch_actions = 0
            self.rate_limited = 0
            self.max_writes_in_flight = self.writes_in_flight
            self.max_reads_in_flight = self.reads_in_flight

    def count_request(self, method: str, is_write: bool) -> None:
        with self.lock:
            self.by_method[method] += 1
            self.write_requests += is_write

    def count_status(self, status: int) -> None:
        with self.lock:
            self.by_status[status] += 1

    def enter(self, is_write: bool) -> None:
        with self.lock:
            if is_write:
                self.writes_in_flight += 1
                self.max_writes_in_flight = max(self.max_writes_in_flight, self.writes_in_flight)
            else:
                self.reads_in_flight += 1
                self.max_reads_in_flight = max(self.max_reads_in_flight, self.reads_in_flight)

    def leave(self, is_write: bool) -> None:
        with self.lock:
            if is_write:
                self.writes_in_flight -= 1
            else:
                self.reads_in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": sum(self.by_method.values()),
                "by_method": dict(self.by_method),
                "by_status": {str(status): total for status, total in sorted(self.by_status.items())},
                "write_requests": self.write_requests,
                "batch_actions": self.batch_actions,
                "rate_limited": self.rate_limited,
                "faults": dict(self.faults),
                "writes_in_flight": self.writes_in_flight,
                "reads_in_flight": self.reads_in_flight,
                "max_writes_in_flight": self.max_writes_in_flight,
                "max_reads_in_flight": self.max_reads_in_flight,
            }
