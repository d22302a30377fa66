"""Who was there: the choice at Going, the list after the start for participants only, with
"Ask for an introduction"; erasure takes a member off it at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from storage.uow import Database
from tests.support.botkit import BotHarness, Clock, SentMessage, start_bot, stop_bot
from tests.support.events_kit import NOW, START, publish
from tests.support.people_kit import forged, member, rows

KAREN = 7701
LARS = 7702
INGRID = 7703
OLE = 7704


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(NOW))
    yield harness
    await stop_bot(harness)


async def card(bot: BotHarness, user_id: int, event_id: int) -> SentMessage:
    return (await bot.chat.send(user_id, f"/start event_{event_id}"))[-1]


async def go(bot: BotHarness, user_id: int, event_id: int) -> SentMessage:
    shown = await card(bot, user_id, event_id)
    await bot.chat.press(user_id, shown, f"ev:rsvp:{event_id}:g")
    return await card(bot, user_id, event_id)


async def test_who_was_there_shows_consenting_participants_only(
    bot: BotHarness, db: Database
) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    await member(bot, db, LARS, "Lars", "Holm", sector="public")
    ingrid = await member(bot, db, INGRID, "Ingrid", "Berg", listed=False, sector="academia")
    await member(bot, db, OLE, "Ole", "Dahl")
    event = await publish(db)
    karen_card = await go(bot, KAREN, event.id)
    await go(bot, LARS, event.id)
    ingrid_card = await go(bot, INGRID, event.id)
    assert "Who was there" not in karen_card.button_texts
    # Ingrid is not in the directory: by default she is not on the list; she says yes here.
    [choice] = await bot.chat.press(INGRID, ingrid_card, "Participant list: show me?")
    assert choice.text == "You are not shown on this event's participant list."
    [choice] = await bot.chat.press(INGRID, choice, "Show me on the participant list")
    assert (
        choice.text == "You are shown on this event's participant list, to the other participants."
    )
    # Lars is in the directory but does not want to be on this list.
    [choice] = await bot.chat.press(
        LARS, await card(bot, LARS, event.id), "Participant list: show me?"
    )
    assert choice.text.startswith("You are shown")
    await bot.chat.press(LARS, choice, "Hide me from the list")
    # Before the start, the list is closed.
    [closed] = await bot.chat.press(KAREN, forged(KAREN, f"pp:ww:{event.id}"), "x")
    assert closed.text == "The participant list opens when the event starts."
    bot.clock.now = START.astimezone(dt.UTC) + dt.timedelta(hours=1)
    [there] = await bot.chat.press(KAREN, await card(bot, KAREN, event.id), "Who was there")
    assert "Ingrid Berg" in there.text
    assert "Lars" not in there.text
    assert "Ole" not in there.text
    assert "@example.dk" not in there.text
    # Karen asks Ingrid, whom she met there (Ingrid is not in the directory).
    [question] = await bot.chat.press(KAREN, there, "Ask Ingrid Berg for an introduction")
    assert question.text.startswith("Write a short note to Ingrid Berg")
    [sent] = await bot.chat.send(KAREN, "We met at the workshop.")
    assert sent.text.startswith("Your request is on its way to Ingrid Berg.")
    assert len(await rows(db, "pp:ask:", ingrid.id)) == 1
    # Someone who was not there sees nothing.
    [refused] = await bot.chat.press(OLE, forged(OLE, f"pp:ww:{event.id}"), "x")
    assert refused.text == "The participant list is for those who took part in the event."
    [refused] = await bot.chat.press(OLE, forged(OLE, f"pp:ask:{ingrid.id}"), "x")
    assert refused.text == "That member is not in the directory (any more)."
    # Ingrid erases her data: off the list at once.
    privacy = (await bot.chat.send(INGRID, "/privacy"))[-1]
    confirm = (await bot.chat.press(INGRID, privacy, "Delete my data"))[-1]
    await bot.chat.press(INGRID, confirm, "Yes, delete everything")
    [there] = await bot.chat.press(KAREN, forged(KAREN, f"pp:ww:{event.id}"), "x")
    assert there.text == "Nobody else has chosen to be shown on this list."
