"""Posted copies stay true: announce, deliver through the outbox to a stand-in Bot API, then a
burst of 200 answers within a minute becomes one edit (and one more a minute later with the
final figures); a group never gets more than 20 edits a minute; a cancelled event is marked."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from samvirke.settings import Settings
from scheduler.telegram.delivery import TelegramDelivery, TelegramOptions, make_bot
from storage.channels import chats
from storage.channels import posts as channel_posts
from storage.events import publishing as event_publishing
from storage.uow import Database
from templates import channel_cards
from tests.support.botapi_server import BotApiServer
from tests.support.broadcastkit import TOKEN, Clock, add_members
from tests.support.events_kit import ADMIN, NOW, going, outbox, publish

GROUP = -100_222
LINKS = channel_cards.Links(
    bot_username="sv_bot", public_url="https://samvirke.example.org", language="en"
)


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    server = await BotApiServer(TOKEN).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(api: BotApiServer, db: Database) -> AsyncIterator[Bot]:
    settings = Settings(
        _env_file=None, telegram_token=TOKEN, telegram_api_url=api.url, database_url=db.url
    )
    client = make_bot(settings, timeout=5.0)
    try:
        yield client
    finally:
        await client.request.shutdown()


async def deliver(delivery: TelegramDelivery, api: BotApiServer, total: int) -> None:
    """Run the delivery until the group has got ``total`` messages and edits (a chat
    waits a second between two, so one run may leave some for the next)."""
    for _ in range(50):
        if len([a for a in api.accepted if a.chat_id == GROUP]) >= total:
            return
        await delivery.run_once()
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {total} delivered to the group")


async def group(db: Database) -> int:
    change = await chats.record_membership(
        db.unit_of_work(),
        chat_id=GROUP,
        chat_type="supergroup",
        title="Midt",
        is_admin=True,
        can_post=False,
        can_edit=False,
        by_user_id=1,
        now=NOW,
    )
    assert change is not None
    await chats.configure(
        db.unit_of_work(), ADMIN, change.chat.id, purpose="announcements", now=NOW
    )
    return change.chat.id


async def test_a_burst_of_200_answers_is_one_edit_per_minute(
    db: Database, api: BotApiServer, bot: Bot
) -> None:
    clock = Clock(NOW)
    delivery = TelegramDelivery(db, bot, options=TelegramOptions(), clock=clock)
    chat = await group(db)
    event = await publish(db, capacity=36)
    await channel_posts.announce(db.unit_of_work(), ADMIN, event.id, chat, links=LINKS, now=NOW)
    await deliver(delivery, api, 1)
    [post] = api.sent()
    assert "36 seats left" in post.text
    # Nothing changed: nothing to edit.
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=NOW) == 0

    members = await add_members(db, 200, first_telegram_id=10_000, now=NOW)
    queued = 0
    for number, member in enumerate(members):  # 200 answers in 50 seconds
        moment = NOW + dt.timedelta(seconds=1 + number / 4)
        await going(db, member.id, event.id, now=moment)
        queued += await channel_posts.sync(db.unit_of_work(), links=LINKS, now=moment)
    assert queued == 1  # the first answer's edit; the rest wait for the minute to pass
    clock.now = NOW + dt.timedelta(seconds=51)
    await deliver(delivery, api, 2)
    later = NOW + dt.timedelta(seconds=62)
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=later) == 1
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=later) == 0
    clock.now = later
    await deliver(delivery, api, 3)
    edits = api.edits()
    assert len(edits) == 2
    assert {e.message_id for e in edits} == {post.message_id}
    assert edits[0].text.splitlines()[-2:] == ["35 seats left", "Going: 1"]
    assert edits[1].text.splitlines()[-2:] == ["Full – you can join the waiting list", "Going: 36"]
    # Nothing more changes: the copy is true and stays as it is.
    assert (
        await channel_posts.sync(
            db.unit_of_work(), links=LINKS, now=later + dt.timedelta(minutes=5)
        )
        == 0
    )

    await event_publishing.cancel(db.unit_of_work(), ADMIN, event.id, message=None, now=later)
    final = later + dt.timedelta(minutes=2)
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=final) == 1
    clock.now = final
    await deliver(delivery, api, 4)
    cancelled = api.edits()[-1]
    assert cancelled.text.startswith("❌ Cancelled: ")
    assert "Going" not in str(cancelled.reply_markup)  # no answer buttons on a cancelled event


async def test_a_group_gets_at_most_20_edits_a_minute(
    db: Database, api: BotApiServer, bot: Bot
) -> None:
    clock = Clock(NOW)
    delivery = TelegramDelivery(db, bot, options=TelegramOptions(), clock=clock)
    chat = await group(db)
    [member] = await add_members(db, 1, first_telegram_id=20_000, now=NOW)
    events = [await publish(db, title=f"Møde {n}") for n in range(25)]
    for event in events:
        await channel_posts.announce(db.unit_of_work(), ADMIN, event.id, chat, links=LINKS, now=NOW)
        # Never more than one post per event per chat, however often it is announced.
        again = await channel_posts.announce(
            db.unit_of_work(), ADMIN, event.id, chat, links=LINKS, now=NOW
        )
        assert again.new is False
    assert len(await outbox(db, "chatpost:")) == 25
    clock.now = NOW + dt.timedelta(minutes=5)
    await deliver(delivery, api, 25)
    for event in events:
        await going(db, member.id, event.id)
    moment = NOW + dt.timedelta(minutes=10)
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=moment) == 20
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=moment) == 0
    next_minute = moment + dt.timedelta(minutes=1)
    assert await channel_posts.sync(db.unit_of_work(), links=LINKS, now=next_minute) == 5


async def test_a_chat_for_reminders_gets_one_the_day_before(db: Database) -> None:
    reminders_chat = await group(db)
    await chats.configure(db.unit_of_work(), ADMIN, reminders_chat, purpose="reminders", now=NOW)
    change = await chats.record_membership(
        db.unit_of_work(), chat_id=-100_333, chat_type="channel", title="Nyheder",
        is_admin=True, can_post=True, can_edit=True, by_user_id=1, now=NOW,
    )  # fmt: skip
    assert change is not None
    await chats.configure(
        db.unit_of_work(), ADMIN, change.chat.id, purpose="announcements", now=NOW
    )
    event = await publish(db)
    for chat in (reminders_chat, change.chat.id):
        await channel_posts.announce(db.unit_of_work(), ADMIN, event.id, chat, links=LINKS, now=NOW)
    for number, row in enumerate(await outbox(db, "chatpost:")):
        await channel_posts.record_sent(db.unit_of_work(), int(row.payload["post_id"]), 70 + number)

    start = event.starts_at
    queue = channel_posts.queue_reminders
    assert await queue(db.unit_of_work(), links=LINKS, now=start - dt.timedelta(hours=25)) == 0
    assert await queue(db.unit_of_work(), links=LINKS, now=start - dt.timedelta(hours=23)) == 1
    assert await queue(db.unit_of_work(), links=LINKS, now=start - dt.timedelta(hours=22)) == 0
    [reminder] = await outbox(db, "chatpost-reminder:")
    assert reminder.payload["chat_id"] == GROUP
    assert reminder.payload["text"].startswith("Reminder: tomorrow\n📅 ")
