"""One token, one budget: every client that uses one Asana token, in any process on any machine,
shares the token's limits (Asana counts them per token, whoever sends the request).

How: each client joins the token's budget in a shared place and beats every second. A beat
says the client is still there and returns how many clients are, and until when the token
is paused; each client then paces itself at its equal share of the requests per minute and
of the writes and reads in flight (`Share`). A client that stops leaves at once; one that dies
is forgotten after `MEMBER_TIMEOUT_SECONDS`. A 429 pauses every client: the one that got it
writes the pause to the budget with its next beat (at once), and the others wait it out.

Where (the state store's `token_budget`): with the sync state in PostgreSQL, its database, which
every machine already reaches (`state.postgres_budget`); otherwise a SQLite file on this machine,
in a folder of the user's that no one else can write (`ASANA_SYNC_BUDGET_DIR`, by default
`asana-sync-<uid>` in the system's temporary folder; see `SqliteBudget`). The token itself is never
stored: a budget is keyed by a hash of the token and the API root.

What a beat reads is checked, since it decides how long every client waits: a beat dated far
ahead, or a value that is not a number, is removed, and a pause longer than any 429 asks for
(`MAX_PAUSE_SECONDS`) is dropped; `Share.repaired` counts them, and the client says so.

    TokenBudget (a place)  --join(key)-->  Membership  --beat(pause)-->  Share(members, paused_for)
    ├── SqliteBudget     one machine (here)
    └── PostgresBudget   every machine that reaches the database (state.postgres_budget)
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import sqlite3
import stat
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from ..environment import BUDGET_DIR
from ..errors import SyncConfigError

BEAT_SECONDS = 1.0
MEMBER_TIMEOUT_SECONDS = 5.0
BUDGET_DIR_ENV = BUDGET_DIR.name
FILE_NAME = "asana-sync-token-budgets.sqlite"
MAX_PAUSE_SECONDS = 300.0
"""Longer than any Retry-After a 429 of Asana's carries: a longer pause in the budget is not a 429's."""
CLOCK_SLACK_SECONDS = 60.0
"""A beat dated later than this ahead of now is forged (or from a clock gone wrong)."""
BUSY_SECONDS = 2.0
"""How long a beat waits for another process's write to the SQLite file before it gives up for this beat."""


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
    repaired: int = 0
    """Rows this beat found forged or broken (a beat dated far ahead, a pause of days, not a number) and removed."""

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

    where: str = "where its clients meet"
    """The place, for messages (a file, a database; never a password)."""
    notes: tuple[str, ...] = ()
    """What the client says when it joins (a folder it moved away from)."""

    @abstractmethod
    def join(self, key: str) -> Membership: ...


_UID = os.getuid() if hasattr(os, "getuid") else None
"""This process's user; None where files have no owner to check (Windows)."""


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"user {uid}"


def _private_folder(folder: Path, *, follow: bool, tighten: bool) -> str | None:
    """None when `folder` is (or was just made, 0700) a folder of this user that no one else can
    write; otherwise why not. `follow`: a link to such a folder will do (a folder the user chose);
    `tighten`: a folder of the user's that others may read is closed to them."""
    created = False
    try:
        folder.mkdir(mode=0o700, parents=True)
        created = True
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot be made ({exc.strerror})"
    info = folder.stat() if follow else folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        return "is a link" if stat.S_ISLNK(info.st_mode) else "is not a folder"
    if _UID is None:
        return None
    if info.st_uid != _UID:
        return f"is owned by {_user(info.st_uid)}, not by {_user(_UID)}"
    if created or (tighten and info.st_mode & 0o077):
        folder.chmod(0o700)
    elif info.st_mode & 0o022:
        return f"can be written by other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def default_folders() -> list[Path]:
    """Where the budgets of this machine live, unless `ASANA_SYNC_BUDGET_DIR` says: the user's own
    folder in the system's temporary folder; when another user took that name first, the user's
    cache folder (which no one else can write)."""
    user = _UID if _UID is not None else getpass.getuser()
    return [Path(tempfile.gettempdir()) / f"asana-sync-{user}", Path.home() / ".cache" / "asana-sync"]


def _refused(path: Path, problem: str, what: str) -> SyncConfigError:
    return SyncConfigError(
        f"The token budget's {what} {path} {problem}: another local user could pause or slow every sync on this "
        f"machine through it, so it is not used. Set {BUDGET_DIR_ENV} to a folder only you can write (or leave it "
        "unset for one made for you), or remove it or fix its owner and mode."
    )


def _private_file(path: Path) -> None:
    """The budget file (and SQLite's files beside it): this user's, readable and writable by them alone."""
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise _refused(path, f"cannot be opened ({exc.strerror})", "file") from None
    try:
        info = os.fstat(handle)
        if _UID is not None and info.st_uid != _UID:
            raise _refused(path, f"is owned by {_user(info.st_uid)}, not by {_user(_UID)}", "file")
        if _UID is not None and info.st_mode & 0o077:
            os.fchmod(handle, 0o600)
    finally:
        os.close(handle)
    for beside in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = beside.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode) or (_UID is not None and info.st_uid != _UID):
            raise _refused(beside, f"is not a file of {_user(_UID)}" if _UID is not None else "is not a file", "file")
        if _UID is not None and info.st_mode & 0o077:
            beside.chmod(0o600)


class SqliteBudget(TokenBudget):
    """The budgets of this machine, in one SQLite file (WAL: many processes read and write it).

    The file is the user's and no one else's (0600, in a folder of the user's that no one else can
    write, made 0700): whoever can write it decides how long every sync on a token waits. A folder
    chosen with `folder` or `ASANA_SYNC_BUDGET_DIR` that another user owns or may write in is refused
    (`SyncConfigError`); the default folder, when another user made it first, is moved away from to
    the next of `default_folders`, which `notes` says."""

    def __init__(self, folder: str | Path | None = None):
        chosen = folder or os.environ.get(BUDGET_DIR_ENV)
        notes: list[str] = []
        if chosen:
            base = Path(chosen)
            problem = _private_folder(base, follow=True, tighten=False)
            if problem:
                raise _refused(base, problem, "folder")
        else:
            candidates, problems = default_folders(), []
            for base in candidates:
                problem = _private_folder(base, follow=False, tighten=True)
                if problem is None:
                    break
                problems.append(f"{base} {problem}")
            else:
                raise SyncConfigError(
                    f"No folder for the token budget that only this user can write: {'; '.join(problems)}. Set "
                    f"{BUDGET_DIR_ENV} to a folder only you can write."
                )
            if problems:
                notes.append(
                    f"The token budget's usual folder {problems[0]}: another local user may have made it to pause "
                    f"or slow syncs, so it is not used; the budget is in {base} instead (remove that folder, or set "
                    f"{BUDGET_DIR_ENV})"
                )
        self.path = base / FILE_NAME
        self.where = str(self.path)
        self.notes = tuple(notes)

    def join(self, key: str) -> Membership:
        _private_file(self.path)
        return _SqliteMembership(self.path, key)


class _SqliteMembership(Membership):
    def __init__(self, path: Path, key: str):
        self.key, self.member = key, member_name()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
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
                # SQLite keeps whatever a row was given: a beat dated far ahead would never time out,
                # and text compares above every number.
                repaired = self._db.execute(
                    "DELETE FROM members WHERE key = ? AND (typeof(seen) NOT IN ('integer', 'real') "
                    "OR typeof(paused_until) NOT IN ('integer', 'real') OR seen > ?)",
                    (self.key, now + CLOCK_SLACK_SECONDS),
                ).rowcount
                repaired += self._db.execute(
                    "UPDATE members SET paused_until = 0 WHERE key = ? AND paused_until > ?", (self.key, now + MAX_PAUSE_SECONDS)
                ).rowcount
                self._db.execute("DELETE FROM members WHERE key = ? AND seen < ?", (self.key, now - MEMBER_TIMEOUT_SECONDS))
                self._db.execute(
                    "INSERT INTO members (key, member, seen, paused_until) VALUES (?, ?, ?, ?) ON CONFLICT (key, member) "
                    "DO UPDATE SET seen = excluded.seen, paused_until = max(members.paused_until, excluded.paused_until)",
                    (self.key, self.member, now, now + min(pause_for, MAX_PAUSE_SECONDS) if pause_for > 0 else 0.0),
                )
                members, paused_until = self._db.execute(
                    "SELECT count(*), max(paused_until) FROM members WHERE key = ?", (self.key,)
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Share(int(members), max(0.0, float(paused_until or 0.0) - now), repaired)

    def leave(self) -> None:
        with self._lock:
            try:
                self._db.execute("DELETE FROM members WHERE key = ? AND member = ?", (self.key, self.member))
            finally:
                self._db.close()
