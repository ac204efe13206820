"""One token, one budget: every client that uses one Asana token, in any process on any machine,
shares the token's limits (Asana counts them per token, whoever sends the request).

How: each client joins the token's budget in a shared place and beats every second. A beat
says the client is still there and returns how many clients are, and until when the token
is paused; each client then paces itself at its equal share of the requests per minute and
of the writes and reads in flight (`Share`). A client that stops leaves at once; one that dies
is forgotten after `MEMBER_TIMEOUT_SECONDS`. A 429 pauses every client: the one that got it
writes the pause to the budget with its next beat (at once), and the others wait it out.

Where (the state store's `token_budget`): with the sync state in PostgreSQL, its database, which
every machine already reaches (`state.postgres_budget`); otherwise a SQLite file on this machine
(`ASANA_SYNC_BUDGET_DIR`, by default the system's temporary folder). The token itself is never stored: a budget is keyed by a
hash of the token and the API root.

    TokenBudget (a place)  --join(key)-->  Membership  --beat(pause)-->  Share(members, paused_for)
    ├── SqliteBudget     one machine (here)
    └── PostgresBudget   every machine that reaches the database (state.postgres_budget)
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from ..environment import BUDGET_DIR

BEAT_SECONDS = 1.0
MEMBER_TIMEOUT_SECONDS = 5.0
BUDGET_DIR_ENV = BUDGET_DIR.name


def budget_key(base_url: str, token: str) -> str:
    """What names a token's budget: a hash, never the token."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{token}".encode()).hexdigest()[:32]


def member_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Share:
    """What one beat returned: how many clients share the token, and how long it stays paused."""

    members: int
    paused_for: float

    def of(self, total: float) -> float:
        return total / max(1, self.members)


class Membership(ABC):
    """One client's place in a token's budget."""

    @abstractmethod
    def beat(self, pause_for: float = 0.0) -> Share:
        """Say the client is still there (and, after a 429, pause every client for `pause_for` seconds)."""

    @abstractmethod
    def leave(self) -> None:
        """The client is done: the others take its share at their next beat."""


class TokenBudget(ABC):
    """A place where clients of one token meet."""

    @abstractmethod
    def join(self, key: str) -> Membership: ...


class SqliteBudget(TokenBudget):
    """The budgets of this machine, in one SQLite file (WAL: many processes read and write it)."""

    def __init__(self, folder: str | Path | None = None):
        base = Path(folder or os.environ.get(BUDGET_DIR_ENV) or tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.path = base / "asana-sync-token-budgets.sqlite"

    def join(self, key: str) -> Membership:
        return _SqliteMembership(self.path, key)


class _SqliteMembership(Membership):
    def __init__(self, path: Path, key: str):
        self.key, self.member = key, member_name()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS members (key TEXT NOT NULL, member TEXT NOT NULL, seen REAL NOT NULL, "
            "paused_until REAL NOT NULL DEFAULT 0, PRIMARY KEY (key, member))"
        )

    def beat(self, pause_for: float = 0.0) -> Share:
        with self._lock:
            now = time.time()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM members WHERE key = ? AND seen < ?", (self.key, now - MEMBER_TIMEOUT_SECONDS))
                self._db.execute(
                    "INSERT INTO members (key, member, seen, paused_until) VALUES (?, ?, ?, ?) ON CONFLICT (key, member) "
                    "DO UPDATE SET seen = excluded.seen, paused_until = max(members.paused_until, excluded.paused_until)",
                    (self.key, self.member, now, now + pause_for if pause_for > 0 else 0.0),
                )
                members, paused_until = self._db.execute(
                    "SELECT count(*), max(paused_until) FROM members WHERE key = ?", (self.key,)
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Share(int(members), max(0.0, float(paused_until or 0.0) - now))

    def leave(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM members WHERE key = ? AND member = ?", (self.key, self.member))
            self._db.close()
