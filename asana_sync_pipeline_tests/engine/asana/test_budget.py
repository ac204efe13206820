"""A token's budget: its clients count each other, share its pace and slots, pause together, and
a client that left or died stops counting (SQLite on one machine, PostgreSQL across machines)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from asana_sync_pipeline.engine.asana import budget as budgets
from asana_sync_pipeline.engine.asana.budget import SqliteBudget, budget_key
from asana_sync_pipeline.engine.asana.client import AsanaClient, Slots, limiter_for, retune
from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.engine.settings import AsanaSettings
from asana_sync_pipeline.engine.state.postgres_budget import PostgresBudget
from asana_sync_pipeline.engine.state.postgres_url import PostgresURL

TOKEN = "0/0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgres"])
def place(request, tmp_path):
    if request.param == "sqlite":
        return SqliteBudget(tmp_path)
    import psycopg

    url = PostgresURL.parse(request.getfixturevalue("postgres_url"))
    return PostgresBudget(lambda: psycopg.connect(autocommit=True, **url.connect_arguments()))


def test_clients_of_one_token_count_each_other_and_pause_together(place):
    key, other = budget_key("https://app.asana.com/api/1.0", TOKEN), budget_key("https://app.asana.com/api/1.0", "0/other")
    first, second, elsewhere = place.join(key), place.join(key), place.join(other)
    try:
        assert first.beat().members == 1
        assert second.beat().members == 2 and first.beat().members == 2
        assert elsewhere.beat().members == 1, "another token has its own budget"
        assert second.beat(pause_for=30).paused_for > 28
        assert 28 < first.beat().paused_for <= 30, "a 429 one client got pauses the others"
        assert elsewhere.beat().paused_for == 0
    finally:
        second.leave()
    assert first.beat().members == 1, "a client that left stops counting at once"
    first.leave()
    elsewhere.leave()


def test_a_client_that_died_stops_counting_after_the_timeout(tmp_path, monkeypatch):
    place = SqliteBudget(tmp_path)
    alive, dead = place.join("k"), place.join("k")
    dead.beat()
    assert alive.beat().members == 2
    monkeypatch.setattr(budgets, "MEMBER_TIMEOUT_SECONDS", 0.2)
    time.sleep(0.3)
    assert alive.beat().members == 1
    alive.leave()


def test_the_key_never_holds_the_token():
    key = budget_key("https://app.asana.com/api/1.0", TOKEN)
    assert TOKEN not in key and "0123456789abcdef" not in key and len(key) == 32


def test_a_share_retunes_the_pace_without_a_burst_and_resizes_the_slots():
    async def check():
        limiter = limiter_for(600)
        retune(limiter, 300)
        assert limiter.max_rate == 5 and not limiter.has_capacity(), "a new share starts with its bucket full"
        slots = Slots(2)
        async with slots, slots:
            waiting = asyncio.ensure_future(slots.__aenter__())
            await asyncio.sleep(0.05)
            assert not waiting.done()
            await slots.resize(3)
            await asyncio.wait_for(waiting, 1)
        await slots.__aexit__()
        assert slots.held == 0

    asyncio.run(check())


def test_a_client_takes_its_share_and_leaves_when_done(tmp_path):
    settings = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", requests_per_minute=600,
                             max_concurrent_writes=15)  # fmt: skip
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {}}))
    place = SqliteBudget(tmp_path)
    other = place.join(budget_key(settings.base_url, TOKEN))
    other.beat()

    async def run():
        async with AsanaClient(settings, transport=transport, budget=place) as client:
            assert client.share.members == 2 and client._writes.limit == 7 and client._limiter.max_rate == 5
        return other.beat().members

    assert asyncio.run(run()) == 1
    other.leave()


# ---- where the budget lives, and what it trusts (issue 31, item 5) ----------------------------

FILE_NAME = "asana-sync-token-budgets.sqlite"
OTHER_USER = 65534
"""`nobody`: a local user who is not the one running the syncs."""
as_root = pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user takes root")


@pytest.fixture
def default_place(tmp_path, monkeypatch):
    """The system's temporary folder and the user's home, both in tmp_path; no ASANA_SYNC_BUDGET_DIR."""
    monkeypatch.delenv(budgets.BUDGET_DIR_ENV, raising=False)
    temporary, home = tmp_path / "tmp", tmp_path / "home"
    temporary.mkdir(mode=0o1777)
    temporary.chmod(0o1777)
    home.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setenv("HOME", str(home))
    return temporary, home


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plant(folder: Path, *, owner: int, folder_mode: int, rows: list[tuple] = ()) -> None:
    """What another local user leaves where the syncs look: a world-writable folder and budget file
    holding a forged row that pauses every client of the token for ten years."""
    folder.mkdir()
    with sqlite3.connect(folder / FILE_NAME) as db:
        db.execute("CREATE TABLE members (key TEXT NOT NULL, member TEXT NOT NULL, seen REAL NOT NULL, paused_until REAL NOT NULL DEFAULT 0, PRIMARY KEY (key, member))")
        db.executemany("INSERT INTO members VALUES (?, ?, ?, ?)", rows)
    for path in (folder, *folder.iterdir()):
        os.chown(path, owner, owner)
        path.chmod(folder_mode if path == folder else 0o666)


def ten_years_paused(key: str) -> list[tuple]:
    later = time.time() + 10 * 365 * 86400
    return [(key, "forged", later, later)]


def test_the_default_place_is_a_folder_of_the_user_that_only_the_user_can_read(default_place):
    temporary, _ = default_place
    place = SqliteBudget()
    member = place.join("k")
    member.beat()
    folder = temporary / f"asana-sync-{os.getuid()}"
    assert place.path == folder / FILE_NAME
    assert folder.stat().st_uid == os.getuid() and mode(folder) == 0o700
    assert {path.name: mode(path) for path in folder.iterdir()} == {FILE_NAME: 0o600, f"{FILE_NAME}-wal": 0o600, f"{FILE_NAME}-shm": 0o600}
    member.leave()


def test_asana_sync_budget_dir_still_chooses_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(budgets.BUDGET_DIR_ENV, str(tmp_path / "budgets" / "here"))
    place = SqliteBudget()
    place.join("k").leave()
    assert place.path == tmp_path / "budgets" / "here" / FILE_NAME
    assert mode(tmp_path / "budgets" / "here") == 0o700 and mode(place.path) == 0o600


@as_root
def test_a_default_folder_another_user_planted_is_moved_away_from_and_said(default_place):
    temporary, home = default_place
    planted = temporary / f"asana-sync-{os.getuid()}"
    key = budget_key("https://app.asana.com/api/1.0", TOKEN)
    plant(planted, owner=OTHER_USER, folder_mode=0o777, rows=ten_years_paused(key))
    place = SqliteBudget()
    assert place.path.parent != planted and place.path.is_relative_to(home)
    assert mode(place.path.parent) == 0o700
    assert any(f"{planted} is owned by user {OTHER_USER}" in note and str(place.path.parent) in note for note in place.notes), place.notes
    member = place.join(key)
    assert member.beat() == budgets.Share(1, 0.0)
    member.leave()


@as_root
def test_a_chosen_folder_of_another_user_or_writable_by_others_is_refused(tmp_path, monkeypatch):
    theirs, open_to_all = tmp_path / "theirs", tmp_path / "open"
    plant(theirs, owner=OTHER_USER, folder_mode=0o700)
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    for folder, why in ((theirs, f"is owned by user {OTHER_USER}"), (open_to_all, "can be written by other users (mode 777)")):
        monkeypatch.setenv(budgets.BUDGET_DIR_ENV, str(folder))
        with pytest.raises(SyncConfigError) as refused:
            SqliteBudget()
        assert f"{folder} {why}" in str(refused.value) and budgets.BUDGET_DIR_ENV in str(refused.value)


@as_root
def test_a_budget_file_of_another_user_is_refused_and_one_open_to_others_is_closed(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (mine / FILE_NAME).touch()
    (mine / FILE_NAME).chmod(0o666)
    place = SqliteBudget(mine)
    place.join("k").leave()
    assert mode(mine / FILE_NAME) == 0o600
    os.chown(mine / FILE_NAME, OTHER_USER, OTHER_USER)
    with pytest.raises(SyncConfigError, match=f"{mine / FILE_NAME} is owned by user {OTHER_USER}"):
        SqliteBudget(mine).join("k")


def test_forged_or_absurd_rows_are_repaired_never_waited_on(tmp_path):
    place = SqliteBudget(tmp_path)
    key = budget_key("https://app.asana.com/api/1.0", TOKEN)
    first = place.join(key)
    first.beat()
    now = time.time()
    with sqlite3.connect(place.path) as db:
        db.executemany(
            "INSERT INTO members VALUES (?, ?, ?, ?)",
            [
                *ten_years_paused(key),
                (key, "text", "soon", "later"),
                (key, "negative", -1.0, -5.0),
                (key, "absurd pause", now, now + 10 * 86400),
            ],
        )
    share = first.beat()
    assert (share.members, share.paused_for, share.repaired) == (2, 0.0, 3), "the live clients count; no pause; what was absurd is said"
    with sqlite3.connect(place.path) as db:
        rows = {member: paused for member, paused in db.execute("SELECT member, paused_until FROM members")}
    assert set(rows) == {first.member, "absurd pause"} and rows["absurd pause"] == 0
    first.leave()


class _Stuck(budgets.TokenBudget):
    """A place whose every beat says: three clients, paused for a year (a forged PostgreSQL row)."""

    def join(self, key):
        class Member(budgets.Membership):
            def beat(self, pause_for=0.0):
                return budgets.Share(3, 365 * 86400.0)

            def leave(self):
                pass

        return Member()


def test_a_client_never_waits_on_an_absurd_pause_and_says_so():
    settings = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", requests_per_minute=600, max_concurrent_writes=15)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {"gid": "1"}}))
    said: list[str] = []

    async def run():
        async with AsanaClient(settings, transport=transport, budget=_Stuck(), on_retry=said.append) as client:
            return await asyncio.wait_for(client.get_me(), 5)

    assert asyncio.run(run()) == {"gid": "1"}
    assert any(line.startswith("Ignored a pause of 31,536,000 s") and "no 429 asks for more than 300 s" in line for line in said), said


def test_a_long_pause_of_the_token_is_said_while_waited(tmp_path):
    settings = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", requests_per_minute=600, max_concurrent_writes=15)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {"gid": "1"}}))
    place = SqliteBudget(tmp_path)
    other = place.join(budget_key(settings.base_url, TOKEN))
    other.beat(pause_for=3)
    said: list[str] = []

    async def run():
        async with AsanaClient(settings, transport=transport, budget=place, on_retry=said.append) as client:
            started = time.monotonic()
            await client.get_me()
            return time.monotonic() - started

    assert asyncio.run(run()) > 2
    assert any("Another client of this token" in line and "429" in line and "waits 3 s" in line for line in said), said
    other.leave()


def test_a_budget_locked_by_another_process_is_said_not_waited_on_for_long(tmp_path):
    settings = AsanaSettings(access_token=TOKEN, base_url="https://asana.test/api/1.0", requests_per_minute=600, max_concurrent_writes=15)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {"gid": "1"}}))
    place = SqliteBudget(tmp_path)
    place.join("k").leave()
    holder = sqlite3.connect(place.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    said: list[str] = []

    async def run():
        async with AsanaClient(settings, transport=transport, budget=place, on_retry=said.append) as client:
            return await client.get_me()

    started = time.monotonic()
    try:
        assert asyncio.run(asyncio.wait_for(run(), 15)) == {"gid": "1"}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert time.monotonic() - started < 12
    assert any(str(place.path) in line and "alone" in line for line in said), said
