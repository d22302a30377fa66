"""Many members press Going at the same moment on an event with few seats: never more going
than seats, on PostgreSQL (row lock on the event) and on SQLite (the write lock every
transaction takes first). Each press runs in its own transaction on its own connection, spread
over several Database objects as separate bot and worker processes would be.

The window between counting the seats and taking one is widened on purpose (a short sleep after
the count), so that without the lock the presses really do overlap: the PostgreSQL test shows
that then the event is overbooked, i.e. that the lock is what keeps the promise.

Organisers tapping the same name on the check-in list at the same moment take turns in the
same way (the toggle reads and changes the check-in under the event's row lock).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.events import attendance
from storage.events import views as events
from storage.models import AuditEntry, Rsvp
from storage.permissions import Actor
from storage.uow import Database
from tests.support.events_kit import NOW, START, add_member, add_organiser, going, publish

PRESSES = 24
SEATS = 3
DATABASES = 6


@pytest.fixture
async def databases(db: Database) -> AsyncIterator[list[Database]]:
    """Several engines on the same (migrated) database."""
    others = [Database(db.url) for _ in range(DATABASES)]
    try:
        yield others
    finally:
        for other in others:
            await other.dispose()


@pytest.fixture
def slow_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every press waits a moment between counting the seats and taking one."""
    original = events.counts

    async def counts(session: Any, event_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        result = await original(session, event_ids)
        await asyncio.sleep(0.02)
        return result

    monkeypatch.setattr(events, "counts", counts)


async def press_all(databases: list[Database], members: list[int], event_id: int) -> None:
    await asyncio.gather(
        *(
            going(databases[i % len(databases)], member, event_id)
            for i, member in enumerate(members)
        )
    )


async def going_count(db: Database, event_id: int) -> tuple[int, list[int]]:
    """How many are going, and the waiting list positions as members see them."""
    async with db.unit_of_work() as uow:
        count = await uow.session.scalar(
            select(func.count())
            .select_from(Rsvp)
            .where(Rsvp.event_id == event_id, Rsvp.status == "going")
        )
        waiting = (
            await uow.session.scalars(
                select(Rsvp.member_id).where(Rsvp.event_id == event_id, Rsvp.status == "waitlist")
            )
        ).all()
    positions = []
    for member_id in waiting:
        card = await events.get_card(db.unit_of_work(), event_id, member_id=member_id)
        assert card.answer is not None
        positions.append(card.answer.position or 0)
    return int(count or 0), sorted(positions)


@pytest.mark.usefixtures("slow_count")
async def test_simultaneous_presses_never_overbook(db: Database, databases: list[Database]) -> None:
    event = await publish(db, capacity=SEATS)
    members = [await add_member(db, 5000 + i) for i in range(PRESSES)]

    await press_all(databases, members, event.id)

    count, positions = await going_count(db, event.id)
    assert count == SEATS
    assert positions == list(range(1, PRESSES - SEATS + 1))  # one place each, no gaps
    view = await events.get(db.unit_of_work(), event.id)
    assert (view.going, view.waitlist, view.seats_left) == (SEATS, PRESSES - SEATS, 0)


@pytest.mark.usefixtures("slow_count")
async def test_simultaneous_changes_promote_exactly_as_many_as_seats_freed(
    db: Database, databases: list[Database]
) -> None:
    event = await publish(db, capacity=SEATS)
    members = [await add_member(db, 6000 + i) for i in range(12)]
    for member in members:  # three going, nine waiting
        await going(db, member, event.id)
    leaving = members[:SEATS]
    latecomers = [await add_member(db, 6100 + i) for i in range(6)]

    await asyncio.gather(
        *(going(databases[i % DATABASES], m, event.id, "not_going") for i, m in enumerate(leaving)),
        *(going(databases[(i + 3) % DATABASES], m, event.id) for i, m in enumerate(latecomers)),
    )

    count, positions = await going_count(db, event.id)
    assert count == SEATS
    assert positions == list(range(1, 12 - SEATS + 6 - SEATS + 1))


@pytest.mark.usefixtures("slow_count")
async def test_postgresql_overbooks_without_the_lock(
    db: Database, databases: list[Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same presses with the event's row lock taken away: more going than seats."""
    if not db.url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: there is no lock to remove")
    original = events.load

    async def load_without_lock(session: Any, event_id: int, *, lock: bool) -> Any:
        return await original(session, event_id, lock=False)

    monkeypatch.setattr(events, "load", load_without_lock)
    event = await publish(db, capacity=SEATS)
    members = [await add_member(db, 7000 + i) for i in range(PRESSES)]

    await press_all(databases, members, event.id)

    count, _ = await going_count(db, event.id)
    assert count > SEATS


async def test_one_member_pressing_twice_at_once_gets_one_seat_and_one_invite(
    db: Database, databases: list[Database]
) -> None:
    event = await publish(db, capacity=SEATS)
    karen = await add_member(db, 8000)
    outcomes = await asyncio.gather(
        *(going(databases[i], karen, event.id, now=NOW) for i in range(DATABASES))
    )
    assert sum(o.changed for o in outcomes) == 1
    assert sum(o.invited for o in outcomes) == 1
    count, _ = await going_count(db, event.id)
    assert count == 1


TAPS = 6


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tap waits a moment between seeing whether the member is checked in and acting."""
    original = events.checked_in

    async def checked_in(session: Any, event_id: int, member_id: int) -> bool:
        result = await original(session, event_id, member_id)
        await asyncio.sleep(0.02)
        return result

    monkeypatch.setattr(events, "checked_in", checked_in)


async def tap_all(
    databases: list[Database], organisers: list[Actor], event_id: int, member_id: int
) -> list[Any]:
    """Organisers take turns tapping the member's name, all at the same moment."""
    start = START.astimezone(dt.UTC)
    return await asyncio.gather(
        *(
            attendance.toggle_checked_in(
                databases[i % len(databases)].unit_of_work(),
                organisers[i % len(organisers)],
                event_id,
                member_id,
                now=start,
            )
            for i in range(TAPS)
        ),
        return_exceptions=True,
    )


@pytest.mark.usefixtures("slow_check")
async def test_organisers_tapping_the_same_name_at_once_take_turns(
    db: Database, databases: list[Database]
) -> None:
    """Each tap sees the one before it: the taps alternate between checking in and undoing,
    every one is recorded, and an even number of taps leaves the member not checked in."""
    event = await publish(db)
    organisers = [await add_organiser(db, 9000), await add_organiser(db, 9001)]
    karen = await add_member(db, 9002)
    await going(db, karen, event.id)

    outcomes = await tap_all(databases, organisers, event.id, karen)

    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert sum(o.present for o in outcomes) == TAPS // 2
    report = await attendance.attendees(db.unit_of_work(), organisers[0], event.id)
    assert report.checked_in == 0
    async with db.unit_of_work() as uow:
        actions = (
            await uow.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.in_(["event.checked_in", "event.check_in_undone"]))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["event.checked_in", "event.check_in_undone"] * (TAPS // 2)


@pytest.mark.usefixtures("slow_check")
async def test_postgresql_taps_collide_without_the_lock(
    db: Database, databases: list[Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same taps with the event's row lock taken away: taps that saw the same state fail
    on the unique check-in or both claim to have checked the member in."""
    if not db.url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: there is no lock to remove")
    original = events.load

    async def load_without_lock(session: Any, event_id: int, *, lock: bool) -> Any:
        return await original(session, event_id, lock=False)

    monkeypatch.setattr(events, "load", load_without_lock)
    event = await publish(db)
    organisers = [await add_organiser(db, 9100), await add_organiser(db, 9101)]
    karen = await add_member(db, 9102)
    await going(db, karen, event.id)

    outcomes = await tap_all(databases, organisers, event.id, karen)

    failed = [o for o in outcomes if isinstance(o, BaseException)]
    presents = sum(o.present for o in outcomes if not isinstance(o, BaseException))
    assert failed or presents != TAPS // 2
