"""The token budgets (`asana.budget`) of every machine that reaches the sync state's PostgreSQL
database: one row per client of a token, its last beat and the pause it asked for, by the
server's clock (machines' clocks may differ; the server's is the one all of them read)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from ..asana.budget import MEMBER_TIMEOUT_SECONDS, Membership, Share, TokenBudget, member_name

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS asana_token_members (key TEXT NOT NULL, member TEXT NOT NULL, "
    "seen TIMESTAMPTZ NOT NULL, paused_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch', PRIMARY KEY (key, member))"
)


class PostgresBudget(TokenBudget):
    def __init__(self, connect: Callable[[], psycopg.Connection]):
        """`connect`: a new connection to the state's database (the store's)."""
        self._connect = connect

    def join(self, key: str) -> Membership:
        return _PostgresMembership(self._connect(), key)


class _PostgresMembership(Membership):
    def __init__(self, connection: psycopg.Connection, key: str):
        self.key, self.member = key, member_name()
        self._lock = threading.Lock()
        self._db = connection
        self._db.autocommit = True
        self._db.execute(SCHEMA)

    def beat(self, pause_for: float = 0.0) -> Share:
        with self._lock, self._db.transaction():
            self._db.execute(
                "DELETE FROM asana_token_members WHERE key = %s AND seen < now() - make_interval(secs => %s)",
                [self.key, MEMBER_TIMEOUT_SECONDS],
            )
            self._db.execute(
                "INSERT INTO asana_token_members (key, member, seen, paused_until) "
                "VALUES (%s, %s, now(), now() + make_interval(secs => %s)) ON CONFLICT (key, member) DO UPDATE SET "
                "seen = excluded.seen, paused_until = greatest(asana_token_members.paused_until, excluded.paused_until)",
                [self.key, self.member, max(pause_for, 0.0)],
            )
            row = self._db.execute(
                "SELECT count(*), extract(epoch FROM max(paused_until) - now()) FROM asana_token_members WHERE key = %s",
                [self.key],
            ).fetchone()
        members, paused_for = row if row else (1, 0)
        return Share(int(members), max(0.0, float(paused_for or 0.0)))

    def leave(self) -> None:
        with self._lock:
            try:
                self._db.execute("DELETE FROM asana_token_members WHERE key = %s AND member = %s", [self.key, self.member])
            finally:
                self._db.close()
