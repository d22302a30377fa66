"""Issue 17 in storage: walk-ins are members the organiser may see (item 1), dates have a sane
range (item 4), the waiting list is the order of decisions (item 24), and an organiser whose
region is deleted organises nothing rather than everything (item 28)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import delete

from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.events import attendance as event_attendance
from storage.events import publishing as event_publishing
from storage.events import views as events
from storage.members import profiles as members
from storage.models import Region
from storage.permissions import Actor
from storage.uow import Database
from tests.support.events_kit import (
    ADMIN,
    NOW,
    START,
    add_member,
    add_organiser,
    draft,
    going,
    publish,
    region_id,
)

# --- item 1: walk-ins ------------------------------------------------------------------------


async def test_a_one_region_organiser_cannot_check_in_a_member_of_another_region(
    db: Database,
) -> None:
    """The forged toggle ``oe:tog:<event>:<midt member>:0`` on a Skåne event: refused as if the
    member did not exist, and the attendee report does not show them."""
    skane = await publish(db, region_id=await region_id(db, "skane"))
    organiser = await add_organiser(db, 200, organiser_region="skane")
    midt_member = await add_member(db, 201, name="Mette Midt", region="midtjylland")
    start = START.astimezone(dt.UTC)

    with pytest.raises(NotFound):
        await event_attendance.set_checked_in(
            db.unit_of_work(), organiser, skane.id, midt_member, True, now=start
        )

    report = await event_attendance.attendees(db.unit_of_work(), organiser, skane.id)
    assert [a.name for a in report.attendees] == []
    assert report.checked_in == 0


async def test_walk_ins_are_found_by_name_or_username_in_the_organisers_region(
    db: Database,
) -> None:
    skane = await publish(db, region_id=await region_id(db, "skane"))
    organiser = await add_organiser(db, 210, organiser_region="skane")
    sara = await add_member(db, 211, name="Sara Lind", region="skane", username="SaraL")
    await add_member(db, 212, name="Sara Midt", region="midtjylland", username="saramidt")
    soren = await add_member(db, 213, name="Søren Ærø", region="skane", organisation=None)
    start = START.astimezone(dt.UTC)

    async def find(query: str) -> list[tuple[int, str]]:
        search = await event_attendance.find_walk_ins(
            db.unit_of_work(), organiser, skane.id, query, now=start
        )
        assert not search.more
        return [(w.member_id, w.name) for w in search.found]

    assert await find("sara") == [(sara, "Sara Lind")]
    assert await find("@saral") == [(sara, "Sara Lind")]  # the username, exactly
    assert await find("saral") == [(sara, "Sara Lind")]  # the username without its @
    assert await find("@sara") == []
    assert await find("@saramidt") == []  # another region's member, even by username
    assert await find("soren aero") == [(soren, "Søren Ærø")]  # as people type Nordic letters
    [found] = (
        await event_attendance.find_walk_ins(
            db.unit_of_work(), organiser, skane.id, "ærø", now=start
        )
    ).found
    assert (found.organisation, found.region_name) == (None, "Region Skåne")

    assert await event_attendance.set_checked_in(
        db.unit_of_work(), organiser, skane.id, sara, True, now=start
    )
    report = await event_attendance.attendees(db.unit_of_work(), organiser, skane.id)
    assert [(a.name, a.status, a.checked_in) for a in report.attendees] == [
        ("Sara Lind", None, True)
    ]
    assert await find("sara") == []  # once checked in, not offered again


async def test_a_walk_in_search_is_bounded_and_needs_two_letters(db: Database) -> None:
    skane = await publish(db, region_id=await region_id(db, "skane"))
    organiser = await add_organiser(db, 240, organiser_region="skane")
    for n in range(event_attendance.WALK_IN_MATCHES):
        await add_member(db, 241 + n, name=f"Anna {n:02d}", region="skane")
    await add_member(db, 259, name="Anna Berg", region="skane")
    start = START.astimezone(dt.UTC)

    search = await event_attendance.find_walk_ins(
        db.unit_of_work(), organiser, skane.id, "anna", now=start
    )
    assert search.more
    assert [w.name for w in search.found] == [
        f"Anna {n:02d}" for n in range(event_attendance.WALK_IN_MATCHES)
    ]  # Anna Berg is the ninth: "type more"
    exactly = await event_attendance.find_walk_ins(
        db.unit_of_work(), organiser, skane.id, "anna 0", now=start
    )
    assert (len(exactly.found), exactly.more) == (event_attendance.WALK_IN_MATCHES, False)
    for query in ("a", " - ", "@"):
        with pytest.raises(InvalidInput) as caught:
            await event_attendance.find_walk_ins(
                db.unit_of_work(), organiser, skane.id, query, now=start
            )
        assert caught.value.code == "walk_in_query_short"


async def test_walk_ins_wait_for_check_in_and_not_at_a_cancelled_event(db: Database) -> None:
    skane = await publish(db, region_id=await region_id(db, "skane"))
    organiser = await add_organiser(db, 260, organiser_region="skane")
    with pytest.raises(NotAllowed) as caught:
        await event_attendance.walk_in_event(db.unit_of_work(), organiser, skane.id, now=NOW)
    assert caught.value.code == "checkin_too_early"
    start = START.astimezone(dt.UTC)
    view = await event_attendance.walk_in_event(db.unit_of_work(), organiser, skane.id, now=start)
    assert view.id == skane.id
    await event_publishing.cancel(db.unit_of_work(), ADMIN, skane.id, message=None, now=NOW)
    with pytest.raises(NotAllowed) as caught:
        await event_attendance.find_walk_ins(
            db.unit_of_work(), organiser, skane.id, "karen", now=start
        )
    assert caught.value.code == "event_cancelled"


async def test_a_forged_member_id_is_an_unknown_attendee(db: Database) -> None:
    skane = await publish(db, region_id=await region_id(db, "skane"))
    organiser = await add_organiser(db, 270, organiser_region="skane")
    with pytest.raises(NotFound) as caught:
        await event_attendance.set_checked_in(
            db.unit_of_work(), organiser, skane.id, 2**31 - 1, True, now=START.astimezone(dt.UTC)
        )
    assert caught.value.code == "attendee_unknown"


async def test_a_member_of_another_region_who_answered_the_event_can_be_checked_in(
    db: Database,
) -> None:
    """Members from elsewhere who said Going are on the event's own list: ticking them works."""
    skane = await publish(db, region_id=await region_id(db, "skane"))
    organiser = await add_organiser(db, 220, organiser_region="skane")
    guest = await add_member(db, 221, name="Mette Midt", region="midtjylland")
    await going(db, guest, skane.id)
    assert await event_attendance.set_checked_in(
        db.unit_of_work(), organiser, skane.id, guest, True, now=START.astimezone(dt.UTC)
    )


async def test_an_organiser_may_not_search_walk_ins_for_another_regions_event(
    db: Database,
) -> None:
    midt = await publish(db)
    organiser = await add_organiser(db, 230, organiser_region="skane")
    with pytest.raises(NotAllowed):
        await event_attendance.find_walk_ins(
            db.unit_of_work(), organiser, midt.id, "karen", now=START.astimezone(dt.UTC)
        )


# --- item 4: dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "starts_at",
    [
        dt.datetime(9999, 12, 31, 20, 0, tzinfo=dt.UTC),
        NOW + dt.timedelta(days=5 * 366 + 10),
    ],
    ids=["year-9999", "five-years-and-a-bit"],
)
async def test_events_more_than_five_years_ahead_are_refused(
    db: Database, starts_at: dt.datetime
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await event_publishing.create(
            db.unit_of_work(),
            ADMIN,
            draft(
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(hours=2),
                region_id=await region_id(db),
            ),
            now=NOW,
            timezone="Europe/Copenhagen",
        )
    assert caught.value.code == "when_too_far"


# --- item 24: the waiting list is the order of decisions ------------------------------------


@pytest.fixture
async def databases(db: Database) -> AsyncIterator[list[Database]]:
    others = [Database(db.url) for _ in range(4)]
    try:
        yield others
    finally:
        for other in others:
            await other.dispose()


async def test_the_place_told_is_the_real_place_when_presses_are_decided_out_of_order(
    db: Database, databases: list[Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each press carries the clock of its arrival, but the presses are decided (under the
    event's lock) in another order: what each member is told must be their real place."""
    seats, presses = 2, 16
    event = await publish(db, capacity=seats)
    people = [await add_member(db, 240 + i) for i in range(presses)]
    original = events.counts

    async def slow_counts(session: Any, event_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        result = await original(session, event_ids)
        await asyncio.sleep(0.01)
        return result

    monkeypatch.setattr(events, "counts", slow_counts)
    # The later a press starts, the earlier its clock: arrival order and decision order differ.
    outcomes = await asyncio.gather(
        *(
            going(
                databases[i % len(databases)],
                member,
                event.id,
                now=NOW + dt.timedelta(seconds=presses - i),
            )
            for i, member in enumerate(people)
        )
    )
    monkeypatch.setattr(events, "counts", original)
    told = {
        member: outcome.card.answer.position
        for member, outcome in zip(people, outcomes, strict=True)
        if outcome.card.answer is not None and outcome.card.answer.position is not None
    }
    assert len(told) == presses - seats
    real = {}
    for member in told:
        card = await events.get_card(db.unit_of_work(), event.id, member_id=member)
        assert card.answer is not None
        real[member] = card.answer.position
    assert told == real
    assert sorted(told.values()) == list(range(1, presses - seats + 1))


# --- item 28: an explicit flag for organisers of all regions -----------------------------------


async def test_an_organiser_whose_region_is_deleted_organises_nothing(db: Database) -> None:
    midt = await publish(db)
    scratch = Region(code="scratch", name="Scratch region")
    async with db.unit_of_work() as uow:
        uow.session.add(scratch)
        await uow.session.flush()
        scratch_id = scratch.id
        await uow.commit()
    member_id = await add_member(db, 250, name="Olga Organiser")
    await members.set_role(
        db.unit_of_work(), ADMIN, member_id, "organiser", region_id=scratch_id, now=NOW
    )
    async with db.unit_of_work() as uow:
        await uow.session.execute(delete(Region).where(Region.id == scratch_id))
        await uow.commit()

    view = await members.get(db.unit_of_work(), member_id)
    actor = view.actor(frozenset())
    assert (actor.organiser_region_id, actor.organiser_all_regions) == (None, False)
    with pytest.raises(NotAllowed):
        await event_attendance.attendees(db.unit_of_work(), actor, midt.id)
    with pytest.raises(NotAllowed):
        await events.managed_events(db.unit_of_work(), actor, now=NOW)


async def test_making_an_organiser_for_all_regions_sets_the_flag(db: Database) -> None:
    member_id = await add_member(db, 260)
    view = await members.set_role(
        db.unit_of_work(), ADMIN, member_id, "organiser", region_id=None, now=NOW
    )
    assert view.organiser_all_regions
    midt = await publish(db)
    actor: Actor = view.actor(frozenset())
    report = await event_attendance.attendees(db.unit_of_work(), actor, midt.id)
    assert report.event.id == midt.id
    back = await members.set_role(
        db.unit_of_work(), ADMIN, member_id, "member", region_id=None, now=NOW
    )
    assert not back.organiser_all_regions
