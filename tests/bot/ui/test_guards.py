"""The bot's buttons answer only in private chats (issue 17 item 27): a press in a group posts
nothing into the group, the presser gets a short hint on the button."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update

from storage.members import profiles as members
from storage.models import Role
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BOT_ID,
    BotHarness,
    Clock,
    SentMessage,
    find_member,
    sign_up_member,
    start_bot,
    stop_bot,
)

KAREN = 3301
GROUP = -100_123
HINT = "Please use this button in your private chat with me."


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    await sign_up_member(harness, KAREN, email="karen@example.dk")
    found = await find_member(db, KAREN)
    await members.set_role(
        db.unit_of_work(),
        Actor(ADMIN_ID, None, is_admin=True),
        found.id,
        Role.ORGANISER,
        region_id=None,
        now=harness.clock.now,
    )
    yield harness
    await stop_bot(harness)


async def press_in(bot: BotHarness, chat: dict[str, Any], data: str) -> None:
    query = {
        "id": "77",
        "from": bot.chat.users[KAREN],
        "chat_instance": "g",
        "data": data,
        "message": {
            "message_id": 5,
            "date": int(dt.datetime.now(dt.UTC).timestamp()),
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Samvirke"},
            "text": "old",
        },
    }
    await bot.app.process_update(
        Update.de_json({"update_id": 9_001, "callback_query": query}, bot.app.bot)
    )


@pytest.mark.parametrize(
    "chat",
    [
        {"id": GROUP, "type": "supergroup", "title": "Netværket"},
        {"id": GROUP, "type": "group", "title": "Netværket"},
        {"id": GROUP, "type": "channel", "title": "Nyheder"},
    ],
)
@pytest.mark.parametrize("data", ["oe:csv:1", "oe:att:1", "ev:rsvp:1:g", "tb:mine", "pv:export"])
async def test_a_press_outside_a_private_chat_posts_nothing_there(
    bot: BotHarness, chat: dict[str, Any], data: str
) -> None:
    calls_before = len(bot.request.calls)

    await press_in(bot, chat, data)

    calls = bot.request.calls[calls_before:]
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    assert calls[0].params.get("text") == HINT


PLAIN = 3302
ORGANISERS_ONLY = "Sorry, that is for the network's organisers."


@pytest.mark.parametrize(
    "data", ["st:p:20260101-20270101", "st:r:20260101-20270101:all", "tb:st", "tb:sc"]
)
async def test_a_plain_member_is_refused_before_any_question(bot: BotHarness, data: str) -> None:
    await sign_up_member(bot, PLAIN, email="lars@example.dk")
    old = SentMessage(88_000, PLAIN, "old", [{"text": "x", "callback_data": data}])

    replies = await bot.chat.press(PLAIN, old, data)

    assert [m.text for m in replies] == [ORGANISERS_ONLY]


async def test_stats_for_a_plain_member_is_refused_at_once(bot: BotHarness) -> None:
    await sign_up_member(bot, PLAIN, email="lars@example.dk")
    assert [m.text for m in await bot.chat.send(PLAIN, "/stats")] == [ORGANISERS_ONLY]
    replies = await bot.chat.send(PLAIN, "/stats 1.1.2026 30.6.2026")
    assert [m.text for m in replies] == [ORGANISERS_ONLY]
