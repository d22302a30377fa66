"""The member behind an update, remembered for a few seconds (storage.members.recent): never
stale after a write of this process, whatever wrote it; another process's write shows after
the time-to-live. On SQLite and, when a server is given, on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import event, text, update

from storage.members import privacy
from storage.members import profiles as members
from storage.members.profiles import MemberView
from storage.members.recent import TTL_SECONDS, RecentMembers, writes_member_views
from storage.models import Member
from storage.permissions import Actor
from storage.uow import Database, UnitOfWork
from tests.storage.members.test_members import sign_up

ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)


async def looked_up(recent: RecentMembers, db: Database, user: int = 42) -> MemberView:
    member = await recent.find_by_telegram(db.reader(), user)
    assert member is not None
    return member


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Statements:
    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._executed)

    def _executed(self, *_args: Any) -> None:
        self.count += 1


async def test_a_member_looked_up_a_moment_ago_costs_no_query(
    db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now)
    recent = RecentMembers(db.engine)
    statements = Statements(db)
    first = await looked_up(recent, db)
    loaded = statements.count
    again = await looked_up(recent, db)
    assert loaded > 0
    assert statements.count == loaded
    assert first == again
    assert again.id == karen.id
    # Someone who is not a member is remembered as such, too.
    assert await recent.find_by_telegram(db.reader(), 7) is None
    stranger = statements.count
    assert await recent.find_by_telegram(db.reader(), 7) is None
    assert statements.count == stranger


async def test_a_service_changing_the_member_is_seen_at_once(
    db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now)
    recent = RecentMembers(db.engine)
    assert (await looked_up(recent, db)).language == "da"
    await members.set_language(db.unit_of_work(), karen.id, "sv", now=now)
    assert (await looked_up(recent, db)).language == "sv"
    await members.set_role(db.unit_of_work(), ADMIN, karen.id, "organiser", region_id=None, now=now)
    assert (await looked_up(recent, db)).role == "organiser"


async def test_bulk_and_raw_statements_are_seen_at_once(db: Database, now: dt.datetime) -> None:
    karen = await sign_up(db, now)
    recent = RecentMembers(db.engine)
    await recent.find_by_telegram(db.reader(), 42)
    await members.note_telegram_username(db.unit_of_work(), karen.id, "karen_new")
    assert (await looked_up(recent, db)).telegram_username == "karen_new"
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Member).values(name="Karen Bulk"))
        await uow.commit()
    assert (await looked_up(recent, db)).name == "Karen Bulk"
    async with db.engine.begin() as connection:
        await connection.execute(text("UPDATE members SET organisation = 'Raw SQL'"))
    assert (await looked_up(recent, db)).organisation == "Raw SQL"


async def test_an_erased_member_is_a_stranger_at_once(db: Database, now: dt.datetime) -> None:
    karen = await sign_up(db, now)
    recent = RecentMembers(db.engine)
    assert await recent.find_by_telegram(db.reader(), 42) is not None
    await privacy.erase(db.unit_of_work(), karen.id, now=now)
    assert await recent.find_by_telegram(db.reader(), 42) is None


class HeldReader(UnitOfWork):
    """A read-only unit of work that, having read, waits for ``release`` before it ends."""

    def __init__(self, db: Database, release: asyncio.Event) -> None:
        reader = db.reader()
        super().__init__(reader._sessions, secret=reader.secret, read_only=True)
        self.release = release
        self.read = asyncio.Event()

    async def __aexit__(self, *exc: Any) -> None:
        self.read.set()
        await self.release.wait()
        await super().__aexit__(*exc)


async def test_a_lookup_that_read_before_a_write_committed_is_not_kept(
    db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now)
    recent = RecentMembers(db.engine)
    release = asyncio.Event()
    held = HeldReader(db, release)
    lookup = asyncio.create_task(recent.find_by_telegram(held, 42))
    await held.read.wait()  # it has read Karen in Danish
    await members.set_language(db.unit_of_work(), karen.id, "sv", now=now)
    release.set()
    read = await lookup
    assert read is not None
    assert read.language == "da"
    assert (await looked_up(recent, db)).language == "sv"


async def test_a_lookup_during_an_uncommitted_write_is_forgotten_at_the_commit(
    db: Database, now: dt.datetime
) -> None:
    await sign_up(db, now)
    recent = RecentMembers(db.engine)
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Member).values(language="en"))
        # Read while the write is not committed: the old language, remembered for now.
        assert (await looked_up(recent, db)).language == "da"
        await uow.commit()
    assert (await looked_up(recent, db)).language == "en"


async def test_another_process_writing_is_seen_after_the_time_to_live(
    db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now)
    ticks = Ticks()
    recent = RecentMembers(db.engine, clock=ticks)
    await recent.find_by_telegram(db.reader(), 42)
    other = Database(db.url)  # its own engine and connections, as the worker or the CLI has
    try:
        await members.set_language(other.unit_of_work(), karen.id, "en", now=now)
    finally:
        await other.dispose()
    ticks.now += TTL_SECONDS - 1
    assert (await looked_up(recent, db)).language == "da"
    ticks.now += 1
    assert (await looked_up(recent, db)).language == "en"


async def test_it_keeps_a_bounded_number_of_members(db: Database, now: dt.datetime) -> None:
    for user in (41, 42, 43):
        await sign_up(db, now, telegram_user_id=user, email=f"m{user}@example.dk")
    recent = RecentMembers(db.engine, size=2)
    statements = Statements(db)
    for user in (41, 42, 43):
        await recent.find_by_telegram(db.reader(), user)
    before = statements.count
    await recent.find_by_telegram(db.reader(), 43)
    await recent.find_by_telegram(db.reader(), 42)
    assert statements.count == before  # the two most recent are remembered
    await recent.find_by_telegram(db.reader(), 41)
    assert statements.count > before  # the oldest was dropped


def test_which_statements_change_a_members_view() -> None:
    for statement in (
        "UPDATE members SET language=? WHERE members.id = ?",
        'INSERT INTO "members" (name) VALUES (?)',
        "DELETE FROM email_verifications WHERE email_verifications.member_id = ?",
        "update regions set name = 'Nord'",
        "WITH gone AS (SELECT 1) DELETE FROM members WHERE id IN (SELECT * FROM gone)",
    ):
        assert writes_member_views(statement), statement
    for statement in (
        "SELECT members.id FROM members WHERE members.telegram_user_id = ?",
        "INSERT INTO rsvps (event_id, member_id) VALUES (?, ?)",
        "UPDATE timebank_members SET x = 1",
        "BEGIN IMMEDIATE",
    ):
        assert not writes_member_views(statement), statement
