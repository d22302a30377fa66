"""Telegram reminders to members going: a day and two hours before (configurable), never twice,
never for a cancelled event, and not lost while the bot was down (queued on start as long as
the event has not begun)."""

from __future__ import annotations

import datetime as dt

import pytest

from samvirke.settings import Settings, load_settings
from scheduler.reminders import queue_due_reminders
from storage.events import publishing as event_publishing
from storage.members import privacy
from storage.uow import Database
from tests.support.events_kit import (
    ADMIN,
    NOW,
    PLACE,
    START,
    TITLE,
    add_member,
    going,
    outbox,
    publish,
)

BEGIN = START.astimezone(dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def settings() -> Settings:
    return load_settings(_env_file=None, reminder_offsets="1d,2h")


async def reminders(db: Database) -> list[tuple[int | None, str]]:
    return [(r.member_id, r.key.split(":")[3]) for r in await outbox(db, "reminder:")]


async def test_a_day_and_two_hours_before_each_once(db: Database, settings: Settings) -> None:
    event = await publish(db)
    karen = await add_member(db, 2001, language="da")
    lars = await add_member(db, 2002)
    maybe = await add_member(db, 2003)
    await going(db, karen, event.id)
    await going(db, lars, event.id)
    await going(db, maybe, event.id, "maybe")

    assert await queue_due_reminders(db, settings, BEGIN - 25 * HOUR) == 0
    assert await queue_due_reminders(db, settings, BEGIN - 24 * HOUR) == 2
    assert await queue_due_reminders(db, settings, BEGIN - 23 * HOUR) == 0
    assert await reminders(db) == [(karen, "1d"), (lars, "1d")]
    assert await queue_due_reminders(db, settings, BEGIN - 2 * HOUR) == 2
    assert await queue_due_reminders(db, settings, BEGIN - HOUR) == 0
    assert await queue_due_reminders(db, settings, BEGIN + HOUR) == 0
    assert await reminders(db) == [(karen, "1d"), (lars, "1d"), (karen, "2h"), (lars, "2h")]

    danish = (await outbox(db, f"reminder:{event.id}:{karen}:1d"))[0]
    assert danish.channel == "telegram"
    assert danish.payload["chat_id"] == 2001
    text = danish.payload["text"]
    assert TITLE in text
    assert "lørdag den 20. februar 2027, 13:00–17:00" in text
    assert PLACE in text
    assert "https://www.openstreetmap.org/search?query=Teknologisk%20Institut" in text
    assert danish.payload["buttons"][0][0]["callback_data"] == f"ev:show:{event.id}"


async def test_missed_while_down_sent_on_start_but_only_the_latest(
    db: Database, settings: Settings
) -> None:
    """The bot was down from two days before until an hour before: on start, one reminder."""
    event = await publish(db)
    karen = await add_member(db, 2101)
    await going(db, karen, event.id)
    await db.dispose()

    restarted = Database(db.url)  # a new process
    try:
        assert await queue_due_reminders(restarted, settings, BEGIN - HOUR) == 1
        assert await queue_due_reminders(restarted, settings, BEGIN - HOUR) == 0
    finally:
        await restarted.dispose()
    assert await reminders(db) == [(karen, "2h")]


async def test_none_once_begun_none_for_cancelled_and_queued_ones_withdrawn(
    db: Database, settings: Settings
) -> None:
    event = await publish(db)
    karen = await add_member(db, 2201)
    await going(db, karen, event.id)
    assert await queue_due_reminders(db, settings, BEGIN - 23 * HOUR) == 1
    await event_publishing.cancel(
        db.unit_of_work(), ADMIN, event.id, message=None, now=BEGIN - 22 * HOUR
    )
    assert await reminders(db) == []  # the queued one is withdrawn with the event
    assert await queue_due_reminders(db, settings, BEGIN - HOUR) == 0

    started = await publish(db, title="Started")
    await going(db, karen, started.id)
    assert await queue_due_reminders(db, settings, BEGIN + dt.timedelta(minutes=1)) == 0


async def test_a_moved_event_gets_reminders_for_its_new_time(
    db: Database, settings: Settings
) -> None:
    event = await publish(db)
    karen = await add_member(db, 2301)
    await going(db, karen, event.id)
    assert await queue_due_reminders(db, settings, BEGIN - 23 * HOUR) == 1
    later = BEGIN + dt.timedelta(days=7)
    await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "when", (later, later + 4 * HOUR), now=NOW
    )
    assert await reminders(db) == []  # the queued one named the old time
    assert await queue_due_reminders(db, settings, later - 23 * HOUR) == 1
    [row] = await outbox(db, "reminder:")
    assert row.key.endswith(f":{int(later.timestamp())}")


async def test_no_reminders_for_those_who_left_or_erased_their_data(
    db: Database, settings: Settings
) -> None:
    event = await publish(db)
    karen = await add_member(db, 2401)
    lars = await add_member(db, 2402)
    await going(db, karen, event.id)
    await going(db, lars, event.id)
    await going(db, karen, event.id, "not_going", now=NOW)
    await privacy.erase(db.unit_of_work(), lars, now=NOW)
    assert await queue_due_reminders(db, settings, BEGIN - 23 * HOUR) == 0


async def test_reminders_can_be_turned_off(db: Database) -> None:
    event = await publish(db)
    await going(db, await add_member(db, 2501), event.id)
    off = load_settings(_env_file=None, reminder_offsets="")
    assert await queue_due_reminders(db, off, BEGIN - HOUR) == 0
