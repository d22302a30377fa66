"""Event services on SQLite and PostgreSQL: publishing, RSVPs with capacity and a waiting list,
changes and cancellation with what they owe people (outbox rows), check-in, attendee lists,
figures for funders, calendar feeds, and erasure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.events import attendance as event_attendance
from storage.events import publishing as event_publishing
from storage.events import stats as event_stats
from storage.events import views as events
from storage.members import privacy
from storage.models import AuditEntry, Event, Rsvp
from storage.permissions import Actor
from storage.uow import Database
from tests.support.events_kit import (
    ADMIN,
    CPH,
    END,
    NOW,
    PLACE,
    START,
    TITLE,
    add_member,
    add_organiser,
    going,
    outbox,
    outbox_keys,
    publish,
    region_id,
    statuses,
)

HOUR = dt.timedelta(hours=1)


# --- publishing ----------------------------------------------------------------------------------


async def test_an_organiser_publishes_the_example_meeting(db: Database) -> None:
    organiser = await add_organiser(db, 10)
    view = await publish(db, organiser)
    assert (view.title, view.location, view.capacity) == (TITLE, PLACE, 36)
    assert view.starts_at == START
    assert view.ends_at == END
    assert view.starts_at.astimezone(CPH).hour == 13
    assert view.region_name == "Region Midtjylland"
    assert view.sequence == 0
    assert view.status == "published"
    assert len(view.checkin_code) == 6
    assert view.uid.endswith("@samvirke")
    async with db.unit_of_work() as uow:
        entry = await uow.session.scalar(select(AuditEntry).where(AuditEntry.action.like("event%")))
        assert entry is not None
        assert entry.details == {"event_id": view.id}
        assert entry.actor_member_id == organiser.member_id


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"starts_at": NOW - HOUR, "ends_at": NOW + HOUR}, "when_in_past"),
        ({"ends_at": START.astimezone(dt.UTC) - HOUR}, "end_before_start"),
        ({"rsvp_deadline": START.astimezone(dt.UTC) + HOUR}, "deadline_after_start"),
        ({"rsvp_deadline": NOW - HOUR}, "deadline_in_past"),
        ({"location": None, "online_url": None}, "place_empty"),
        ({"online_url": "javascript:alert(1)"}, "url_invalid"),
        ({"title": "  \n "}, "title_empty"),
        ({"capacity": 0}, "capacity_invalid"),
    ],
)
async def test_publishing_refuses_what_cannot_be_right(
    db: Database, overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        await publish(db, **overrides)
    assert error.value.code == code


async def test_only_organisers_publish_and_a_regional_one_only_in_their_region(
    db: Database,
) -> None:
    member_id = await add_member(db, 11)
    with pytest.raises(NotAllowed) as error:
        await publish(db, Actor(11, member_id))
    assert error.value.code == "organisers_only"
    regional = await add_organiser(db, 12, organiser_region="skane")
    with pytest.raises(NotAllowed) as error:
        await publish(db, regional)  # Midtjylland
    assert error.value.code == "event_other_region"
    with pytest.raises(NotAllowed):
        await publish(db, regional, region_id=None)  # the whole network
    view = await publish(db, regional, region_id=await region_id(db, "skane"))
    assert view.region_name == "Region Skåne"


# --- RSVPs ----------------------------------------------------------------------------------------


async def test_going_queues_one_invite_and_pressing_again_changes_nothing(db: Database) -> None:
    event = await publish(db)
    karen = await add_member(db, 20)
    first = await going(db, karen, event.id)
    assert first.changed
    assert first.invited
    assert first.card.answer is not None
    assert first.card.answer.status == "going"
    assert first.card.event.going == 1
    assert first.card.event.seats_left == 35
    again = await going(db, karen, event.id)
    assert not again.changed
    assert not again.invited
    rows = await outbox(db)
    assert [r.key for r in rows] == [f"invite:{event.id}:{karen}:0"]
    payload = rows[0].payload
    assert payload["template"] == "invite"
    assert payload["to_email"] == "m20@example.dk"
    assert payload["calendar"]["method"] == "REQUEST"
    assert payload["calendar"]["attendee"]["partstat"] == "ACCEPTED"
    assert payload["calendar"]["uid"] == event.uid
    assert payload["context"]["url"] == f"https://t.me/samvirke_test_bot?start=event_{event.id}"


async def test_no_invite_before_the_address_is_confirmed(db: Database) -> None:
    event = await publish(db)
    lars = await add_member(db, 21, verified=False)
    outcome = await going(db, lars, event.id)
    assert outcome.changed
    assert not outcome.invited
    assert await outbox(db) == []


async def test_a_full_event_has_a_waiting_list_and_a_freed_seat_goes_to_the_first(
    db: Database,
) -> None:
    event = await publish(db, capacity=2)
    a, b, c, d = [await add_member(db, 30 + i, language="da") for i in range(4)]
    await going(db, a, event.id)
    await going(db, b, event.id)
    third = await going(db, c, event.id)
    assert third.card.answer is not None
    assert (third.card.answer.status, third.card.answer.position) == ("waitlist", 1)
    assert not third.invited
    fourth = await going(db, d, event.id)
    assert fourth.card.answer is not None
    assert fourth.card.answer.position == 2
    assert fourth.card.event.seats_left == 0
    assert fourth.card.event.waitlist == 2
    # Going again while waiting: still waiting, same place.
    again = await going(db, d, event.id)
    assert not again.changed
    assert again.card.answer is not None
    assert again.card.answer.position == 2

    freed = await going(db, a, event.id, "maybe")
    assert freed.promoted == 1
    assert await statuses(db, event.id) == {a: "maybe", b: "going", c: "going", d: "waitlist"}
    card = await events.get_card(db.unit_of_work(), event.id, member_id=d)
    assert card.answer is not None
    assert card.answer.position == 1
    keys = await outbox_keys(db)
    assert f"invite-cancel:{event.id}:{a}:1" in keys  # a's calendar copy is withdrawn
    assert f"invite:{event.id}:{c}:0" in keys  # c gets an invite
    notice = next(r for r in await outbox(db, "promoted:"))
    assert notice.member_id == c
    assert notice.channel == "telegram"
    assert notice.payload["chat_id"] == 32
    assert TITLE in notice.payload["text"]
    assert "lørdag den 20. februar 2027, 13:00–17:00" in notice.payload["text"]  # Danish member
    assert notice.payload["buttons"] == [
        [{"text": notice.payload["buttons"][0][0]["text"], "callback_data": f"ev:show:{event.id}"}]
    ]


async def test_more_seats_promote_those_waiting_and_fewer_than_going_is_refused(
    db: Database,
) -> None:
    event = await publish(db, capacity=1)
    a, b, c = [await add_member(db, 40 + i) for i in range(3)]
    for member in (a, b, c):
        await going(db, member, event.id)
    with pytest.raises(InvalidInput) as error:
        await event_publishing.update(db.unit_of_work(), ADMIN, event.id, "capacity", 0, now=NOW)
    assert error.value.code == "capacity_invalid"
    outcome = await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "capacity", 3, now=NOW
    )
    assert outcome.promoted == 2
    assert (outcome.event.going, outcome.event.waitlist) == (3, 0)
    assert await statuses(db, event.id) == {a: "going", b: "going", c: "going"}
    assert len(await outbox(db, "promoted:")) == 2
    unlimited = await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "capacity", None, now=NOW
    )
    assert unlimited.changed
    assert unlimited.event.seats_left is None


async def test_capacity_cannot_drop_below_those_going(db: Database) -> None:
    event = await publish(db, capacity=5)
    for i in range(3):
        await going(db, await add_member(db, 50 + i), event.id)
    with pytest.raises(InvalidInput) as error:
        await event_publishing.update(db.unit_of_work(), ADMIN, event.id, "capacity", "2", now=NOW)
    assert (error.value.code, error.value.params) == ("capacity_below_going", {"going": 3})
    view = await events.get(db.unit_of_work(), event.id)
    assert view.capacity == 5


async def test_going_again_after_cancelling_gets_a_higher_sequence(db: Database) -> None:
    event = await publish(db)
    karen = await add_member(db, 60)
    await going(db, karen, event.id)
    await going(db, karen, event.id, "not_going")
    await going(db, karen, event.id)
    rows = await outbox(db)
    assert [r.key for r in rows] == [
        f"invite:{event.id}:{karen}:0",
        f"invite-cancel:{event.id}:{karen}:1",
        f"invite:{event.id}:{karen}:2",
    ]
    assert [r.payload["calendar"]["sequence"] for r in rows] == [0, 1, 2]
    assert rows[1].payload["calendar"]["method"] == "CANCEL"
    assert rows[1].payload["calendar"]["attendee"]["partstat"] == "DECLINED"


@pytest.mark.parametrize(
    ("now", "deadline", "code"),
    [
        (NOW + dt.timedelta(days=10), NOW + dt.timedelta(days=5), "rsvp_closed"),
        (START.astimezone(dt.UTC) + HOUR, None, "event_started"),
    ],
)
async def test_answers_close_at_the_deadline_or_the_start(
    db: Database, now: dt.datetime, deadline: dt.datetime | None, code: str
) -> None:
    event = await publish(db, rsvp_deadline=deadline)
    karen = await add_member(db, 70)
    with pytest.raises(NotAllowed) as error:
        await going(db, karen, event.id, now=now)
    assert error.value.code == code
    assert await statuses(db, event.id) == {}


async def test_unknown_event_and_answer(db: Database) -> None:
    karen = await add_member(db, 71)
    with pytest.raises(NotFound):
        await going(db, karen, 999)
    event = await publish(db)
    with pytest.raises(InvalidInput):
        await going(db, karen, event.id, "perhaps")


# --- changes and cancellation ------------------------------------------------------------------


async def test_a_new_time_tells_those_interested_and_updates_invites(db: Database) -> None:
    event = await publish(db, capacity=1)
    a = await add_member(db, 80, language="da")
    b = await add_member(db, 81, language="sv")
    c = await add_member(db, 82)
    d = await add_member(db, 83)
    await going(db, a, event.id)
    await going(db, b, event.id)  # waiting
    await going(db, c, event.id, "maybe")
    await going(db, d, event.id, "not_going")
    new_start = START.astimezone(dt.UTC) + dt.timedelta(days=7)
    outcome = await event_publishing.update(
        db.unit_of_work(),
        ADMIN,
        event.id,
        "when",
        (new_start, new_start + 4 * HOUR),
        now=NOW,
        bot_username="samvirke_test_bot",
    )
    assert outcome.changed
    assert outcome.notified == 3
    assert outcome.event.sequence == 1
    notices = await outbox(db, "event-changed:")
    assert {r.member_id for r in notices} == {a, b, c}
    danish = next(r for r in notices if r.member_id == a)
    assert "lørdag den 27. februar 2027, 13:00–17:00" in danish.payload["text"]
    swedish = next(r for r in notices if r.member_id == b)
    assert "lördag 27 februari 2027" in swedish.payload["text"]
    updated = await outbox(db, f"invite:{event.id}:{a}:1")
    assert len(updated) == 1
    calendar = updated[0].payload["calendar"]
    assert calendar["sequence"] == 1
    assert calendar["method"] == "REQUEST"
    assert calendar["start"] == new_start.isoformat()
    assert updated[0].payload["context"]["kind"] == "updated"
    # The same value again is no change: nobody is told twice.
    again = await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "when", (new_start, new_start + 4 * HOUR), now=NOW
    )
    assert not again.changed
    assert len(await outbox(db, "event-changed:")) == 3


async def test_a_new_place_and_title(db: Database) -> None:
    event = await publish(db)
    karen = await add_member(db, 90)
    await going(db, karen, event.id)
    await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "place", "https://meet.example.org/midt", now=NOW
    )
    view = await events.get(db.unit_of_work(), event.id)
    assert (view.location, view.online_url) == (None, "https://meet.example.org/midt")
    await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "title", "Netværksmøde", now=NOW
    )
    view = await events.get(db.unit_of_work(), event.id)
    assert view.title == "Netværksmøde"
    assert view.sequence == 2
    invites = await outbox(db, f"invite:{event.id}:{karen}:")
    assert [r.payload["calendar"]["sequence"] for r in invites] == [0, 1, 2]
    assert invites[1].payload["calendar"]["location"] == "https://meet.example.org/midt"


async def test_a_regional_organiser_cannot_change_another_regions_event(db: Database) -> None:
    event = await publish(db)
    skane = await add_organiser(db, 91, organiser_region="skane")
    with pytest.raises(NotAllowed) as error:
        await event_publishing.update(db.unit_of_work(), skane, event.id, "title", "x", now=NOW)
    assert error.value.code == "event_other_region"
    with pytest.raises(NotAllowed):
        await event_publishing.cancel(db.unit_of_work(), skane, event.id, message=None, now=NOW)


async def test_cancelling_tells_everyone_and_withdraws_invites_once(db: Database) -> None:
    event = await publish(db, capacity=1)
    a, b, c = [await add_member(db, 100 + i) for i in range(3)]
    await going(db, a, event.id)
    await going(db, b, event.id)  # waiting
    await going(db, c, event.id)  # waiting
    await going(db, c, event.id, "not_going")
    outcome = await event_publishing.cancel(
        db.unit_of_work(), ADMIN, event.id, message="Vi flytter til foråret.", now=NOW
    )
    assert outcome.changed
    assert outcome.notified == 2
    assert outcome.event.cancelled
    assert outcome.event.sequence == 1
    notices = await outbox(db, "event-cancelled:")
    assert {r.member_id for r in notices} == {a, b}
    assert "Vi flytter til foråret." in notices[0].payload["text"]
    cancels = await outbox(db, "invite-cancel:")
    assert [r.key for r in cancels] == [f"invite-cancel:{event.id}:{a}:1"]
    calendar = cancels[0].payload["calendar"]
    assert (calendar["method"], calendar["status"]) == ("CANCEL", "CANCELLED")
    assert cancels[0].payload["context"]["message"] == "Vi flytter til foråret."
    again = await event_publishing.cancel(db.unit_of_work(), ADMIN, event.id, message=None, now=NOW)
    assert not again.changed
    assert len(await outbox(db, "event-cancelled:")) == 2
    with pytest.raises(NotAllowed) as error:
        await going(db, c, event.id)
    assert error.value.code == "event_cancelled"
    with pytest.raises(NotAllowed):
        await event_publishing.update(db.unit_of_work(), ADMIN, event.id, "title", "x", now=NOW)


# --- listing -----------------------------------------------------------------------------------


async def test_the_members_region_first_and_all_regions(db: Database) -> None:
    midt = await region_id(db)
    skane = await region_id(db, "skane")
    first = await publish(db, title="First")  # Midtjylland, the example's date
    base = START.astimezone(dt.UTC)
    for days, region in [(1, skane), (2, None), (3, midt), (4, midt)]:
        start = base + dt.timedelta(days=days)
        await publish(db, starts_at=start, ends_at=start + HOUR, region_id=region, title=f"E{days}")
    mine = await events.list_upcoming(db.unit_of_work(), region_id=midt, all_regions=False, now=NOW)
    assert [v.title for v in mine.events] == ["First", "E2", "E3", "E4"]
    assert mine.total == 4
    everything = await events.list_upcoming(
        db.unit_of_work(), region_id=midt, all_regions=True, now=NOW, page_size=2
    )
    assert (everything.total, everything.pages) == (5, 3)
    assert [v.title for v in everything.events] == ["First", "E1"]
    assert [v.region_name for v in everything.events] == ["Region Midtjylland", "Region Skåne"]
    after = await events.list_upcoming(
        db.unit_of_work(), region_id=midt, all_regions=False, now=END.astimezone(dt.UTC) + HOUR
    )
    assert first.id not in [v.id for v in after.events]
    assert [v.title for v in after.events] == ["E2", "E3", "E4"]


async def test_paging(db: Database) -> None:
    base = START.astimezone(dt.UTC)
    for day in range(7):
        start = base + dt.timedelta(days=day)
        await publish(db, starts_at=start, ends_at=start + HOUR, title=f"Meeting {day}")
    first = await events.list_upcoming(
        db.unit_of_work(), region_id=await region_id(db), all_regions=False, now=NOW
    )
    assert (first.total, first.pages, first.page) == (7, 2, 0)
    assert [v.title for v in first.events] == [f"Meeting {d}" for d in range(5)]
    second = await events.list_upcoming(
        db.unit_of_work(), region_id=await region_id(db), all_regions=False, now=NOW, page=1
    )
    assert [v.title for v in second.events] == ["Meeting 5", "Meeting 6"]


async def test_my_events_with_waiting_list_places(db: Database) -> None:
    full = await publish(db, capacity=1, title="Full")
    other = await publish(db, title="Other")
    karen = await add_member(db, 110)
    lars = await add_member(db, 111)
    await going(db, lars, full.id)
    await going(db, karen, full.id)
    await going(db, karen, other.id, "maybe")
    cards = await events.my_events(db.unit_of_work(), karen, now=NOW)
    assert [(c.event.title, c.answer.status, c.answer.position) for c in cards if c.answer] == [
        ("Full", "waitlist", 1),
        ("Other", "maybe", None),
    ]


# --- check-in, attendees, stats -----------------------------------------------------------------


async def test_check_in_by_code_opens_two_hours_before(db: Database) -> None:
    event = await publish(db)
    karen = await add_member(db, 120)
    start = START.astimezone(dt.UTC)
    with pytest.raises(NotAllowed) as error:
        await event_attendance.check_in_by_code(
            db.unit_of_work(), karen, event.checkin_code, now=start - 3 * HOUR
        )
    assert error.value.code == "checkin_too_early"
    code = event.checkin_code.lower()[:3] + " " + event.checkin_code.lower()[3:]
    first = await event_attendance.check_in_by_code(
        db.unit_of_work(), karen, code, now=start - HOUR
    )
    assert not first.already
    assert first.event.id == event.id
    second = await event_attendance.check_in_by_code(
        db.unit_of_work(), karen, event.checkin_code, now=start
    )
    assert second.already
    with pytest.raises(NotFound):
        await event_attendance.check_in_by_code(db.unit_of_work(), karen, "ZZZ999", now=start)
    with pytest.raises(NotAllowed) as error:
        await event_attendance.check_in_by_code(
            db.unit_of_work(), karen, event.checkin_code, now=END.astimezone(dt.UTC) + 5 * HOUR
        )
    assert error.value.code == "checkin_closed"


async def test_attendees_by_sector_and_region_with_walk_ins_and_manual_check_in(
    db: Database,
) -> None:
    event = await publish(db, capacity=2)
    organiser = await add_organiser(db, 130)
    karen = await add_member(db, 131, name="Karen Jensen", sector="academia")
    lars = await add_member(db, 132, name="Lars Holm", sector="public", region="hovedstaden")
    ingrid = await add_member(db, 133, name="Ingrid Öberg", sector="civil_society")
    walk_in = await add_member(db, 134, name="Åse Walk", sector="business")
    await going(db, karen, event.id)
    await going(db, lars, event.id)
    await going(db, ingrid, event.id)  # waiting
    start = START.astimezone(dt.UTC)
    await event_attendance.check_in_by_code(
        db.unit_of_work(), walk_in, event.checkin_code, now=start
    )
    with pytest.raises(NotAllowed):
        await event_attendance.set_checked_in(
            db.unit_of_work(), organiser, event.id, karen, True, now=start - 3 * HOUR
        )
    assert await event_attendance.set_checked_in(
        db.unit_of_work(), organiser, event.id, karen, True, now=start
    )
    assert not await event_attendance.set_checked_in(
        db.unit_of_work(), organiser, event.id, karen, True, now=start
    )
    report = await event_attendance.attendees(db.unit_of_work(), organiser, event.id)
    assert (report.event.going, report.event.waitlist, report.checked_in) == (2, 1, 2)
    assert report.by_sector["going"] == {"academia": 1, "public": 1}
    assert report.by_sector["waitlist"] == {"civil_society": 1}
    assert report.by_sector["checked_in"] == {"business": 1, "academia": 1}
    assert report.by_region["going"] == {"Region Midtjylland": 1, "Region Hovedstaden": 1}
    assert [(a.name, a.status, a.checked_in) for a in report.attendees] == [
        ("Karen Jensen", "going", True),
        ("Lars Holm", "going", False),
        ("Åse Walk", None, True),
    ]
    assert [a.name for a in report.waitlist] == ["Ingrid Öberg"]
    member = Actor(131, karen)
    with pytest.raises(NotAllowed):
        await event_attendance.attendees(db.unit_of_work(), member, event.id)


async def test_stats_for_a_period_and_region(db: Database) -> None:
    organiser = await add_organiser(db, 140)
    midt_event = await publish(db)
    skane_event = await publish(db, region_id=await region_id(db, "skane"))
    cancelled = await publish(db, title="Aflyst")
    karen = await add_member(db, 141, sector="academia")
    lars = await add_member(db, 142, sector="public")
    for event_id in (midt_event.id, skane_event.id):
        await going(db, karen, event_id)
    await going(db, lars, midt_event.id)
    await event_publishing.cancel(db.unit_of_work(), organiser, cancelled.id, message=None, now=NOW)
    start = START.astimezone(dt.UTC)
    for event_id in (midt_event.id, skane_event.id):
        await event_attendance.check_in_by_code(
            db.unit_of_work(),
            karen,
            (await events.get(db.unit_of_work(), event_id)).checkin_code,
            now=start,
        )
    year = (dt.datetime(2027, 1, 1, tzinfo=CPH), dt.datetime(2028, 1, 1, tzinfo=CPH))
    after = END.astimezone(dt.UTC) + HOUR
    report = await event_stats.stats(
        db.unit_of_work(), organiser, start=year[0], end=year[1], region_id=None, now=after
    )
    assert [e.title for e in report.events] == [TITLE, TITLE]
    assert (report.registered, report.attended, report.unique_attendees) == (3, 2, 1)
    assert report.registered_by_sector == {"academia": 2, "public": 1}
    assert report.attended_by_sector == {"academia": 2}
    midt = await event_stats.stats(
        db.unit_of_work(),
        organiser,
        start=year[0],
        end=year[1],
        region_id=await region_id(db),
        now=after,
    )
    assert (len(midt.events), midt.registered, midt.attended) == (1, 2, 1)
    assert midt.region_name == "Region Midtjylland"
    # Before the events happened, nothing was held.
    before = await event_stats.stats(
        db.unit_of_work(), organiser, start=year[0], end=year[1], region_id=None, now=NOW
    )
    assert before.events == []
    regional = await add_organiser(db, 143, organiser_region="skane")
    limited = await event_stats.stats(
        db.unit_of_work(), regional, start=year[0], end=year[1], region_id=None, now=after
    )
    assert [e.region_name for e in limited.events] == ["Region Skåne"]
    with pytest.raises(NotAllowed):
        await event_stats.stats(
            db.unit_of_work(),
            regional,
            start=year[0],
            end=year[1],
            region_id=await region_id(db),
            now=after,
        )


async def test_feeds_by_region(db: Database) -> None:
    midt = await publish(db, title="Midt")
    national = await publish(db, title="Nordic", region_id=None)
    await publish(db, title="Skåne", region_id=await region_id(db, "skane"))
    feed = await events.feed(db.unit_of_work(), "midtjylland", now=NOW)
    assert feed is not None
    assert feed.name == "Samvirke – Region Midtjylland"
    assert [v.id for v in feed.events] == [midt.id, national.id]
    everything = await events.feed(db.unit_of_work(), None, now=NOW)
    assert everything is not None
    assert len(everything.events) == 3
    assert await events.feed(db.unit_of_work(), "atlantis", now=NOW) is None


# --- erasure -------------------------------------------------------------------------------------


async def test_erasure_gives_a_future_seat_to_the_one_waiting(db: Database) -> None:
    event = await publish(db, capacity=1)
    organiser = await add_organiser(db, 150)
    karen = await add_member(db, 151, sector="academia")
    lars = await add_member(db, 152)
    await going(db, karen, event.id)
    await going(db, lars, event.id)  # waiting
    await privacy.erase(db.unit_of_work(), karen, now=NOW)
    # Her seat at a meeting still to come went to the one waiting, who is told.
    assert await statuses(db, event.id) == {karen: "not_going", lars: "going"}
    assert await outbox_keys(db, "promoted:") != []
    # Her queued invite went with her data (privacy.erase withdraws unsent messages).
    assert await outbox_keys(db, f"invite:{event.id}:{karen}") == []
    report = await event_attendance.attendees(db.unit_of_work(), organiser, event.id)
    assert report.event.going == 1
    assert [a.name for a in report.attendees] == [report.attendees[0].name]
    assert report.anonymous == 0
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(Rsvp).where(Rsvp.event_id == event.id))).all()
        assert len(rows) == 2  # nothing deleted: her answer stays, anonymous
        assert (await uow.session.get(Event, event.id)) is not None


async def test_going_before_the_address_is_confirmed_gets_the_invite_on_confirmation(
    db: Database,
) -> None:
    from storage.members import verification

    event = await publish(db)
    karen = await add_member(db, 160, verified=False)
    await going(db, karen, event.id)
    assert await outbox_keys(db, f"invite:{event.id}:{karen}") == []
    await verification.resend(db.unit_of_work(), karen, now=NOW)
    (mail,) = await outbox(db, f"verify:{karen}:")
    code = mail.payload["context"]["code"]
    checked = await verification.check(db.unit_of_work(), karen, code, now=NOW)
    assert checked.result is verification.CheckResult.VERIFIED
    assert len(await outbox_keys(db, f"invite:{event.id}:{karen}:")) == 1
    # Confirming again later (a new address) does not invite twice.
    await verification.check(db.unit_of_work(), karen, code, now=NOW)
    assert len(await outbox_keys(db, f"invite:{event.id}:{karen}:")) == 1
