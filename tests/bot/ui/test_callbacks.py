"""Forged or mangled button data is answered "this button is no longer active", never with the
apology, and never reaches a handler (issue 17 item 5)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator

import pytest

from bot.ui import callbacks
from storage.members import profiles as members
from storage.models import Role
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    Clock,
    SentMessage,
    asked_again,
    find_member,
    sign_up_member,
    snapshot,
    start_bot,
    stop_bot,
)

KAREN = 3101
STRANGER = 3102
STALE = "This button is no longer active."
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."
HUGE = "9" * 20

_message_ids = itertools.count(90_000)


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    yield harness
    await stop_bot(harness)


@pytest.fixture
async def karen(bot: BotHarness, db: Database) -> int:
    """An organiser for all regions (so organiser buttons would reach their handlers)."""
    await sign_up_member(bot, KAREN, email="karen@example.dk")
    found = await find_member(db, KAREN)
    await members.set_role(
        db.unit_of_work(),
        Actor(ADMIN_ID, None, is_admin=True),
        found.id,
        Role.ORGANISER,
        region_id=None,
        now=bot.clock.now,
    )
    return int(found.id)


async def press_forged(bot: BotHarness, user: int, data: str) -> list[SentMessage]:
    """Press a button whose data nobody but a forger would send."""
    message = SentMessage(next(_message_ids), user, "old", [{"text": "x", "callback_data": data}])
    return await bot.chat.press(user, message, data)


def last_answer(bot: BotHarness) -> str:
    return str(bot.request.calls_of("answerCallbackQuery")[-1].params.get("text", ""))


@pytest.mark.parametrize(
    "data",
    [
        f"ev:rsvp:{HUGE}:g",
        f"ev:show:{HUGE}",
        f"tb:ok:{HUGE}",
        f"tb:bl:{HUGE}:0:0",
        f"tb:bl:0:{HUGE}:0",
        f"bc:region:{HUGE}",
        f"su:region:{HUGE}",
        f"ev:show:{2**31}",  # ten digits, one past the largest id
        "ev:show:٣",  # an Arabic-Indic digit: not ASCII
        "ev:rsvp:1:x",
    ],
)
async def test_forged_button_data_gets_the_no_longer_active_answer(
    bot: BotHarness, karen: int, data: str
) -> None:
    replies = await press_forged(bot, KAREN, data)
    assert [m.text for m in replies] == []
    assert last_answer(bot) == STALE


async def test_a_forged_region_during_sign_up_keeps_the_question(bot: BotHarness) -> None:
    chat = bot.chat
    chat.user(STRANGER, "Åsa", "Öberg", language_code="en")
    replies = await chat.send(STRANGER, "/start")
    replies = await chat.press(STRANGER, replies[-1], "su:name")
    replies = await chat.send(STRANGER, "asa@example.se")
    replies = await chat.send(STRANGER, "Social Innovation Skåne")
    replies = await chat.press(STRANGER, replies[-1], "su:sector:public")
    region_question = replies[-1]

    assert [m.text for m in await press_forged(bot, STRANGER, f"su:region:{HUGE}")] == []
    assert last_answer(bot) == STALE
    # The sign-up goes on where it was.
    replies = await chat.press(STRANGER, region_question, "Region Skåne")
    assert replies[-1].text.endswith("Do you agree that we store these details?")


async def test_a_region_that_is_not_a_number_in_the_profile_is_refused(
    bot: BotHarness, db: Database, karen: int
) -> None:
    [profile] = await bot.chat.send(KAREN, "/profile")
    await bot.chat.press(KAREN, profile, "pf:edit:region")

    replies = await press_forged(bot, KAREN, "pf:set:abc")

    assert APOLOGY not in [m.text for m in replies]
    assert last_answer(bot) == STALE
    assert (await find_member(db, KAREN)).region.name == "Region Midtjylland"


def test_numbers_are_read_only_when_plain_and_bounded() -> None:
    assert callbacks.number("ev:show:17") == 17
    assert callbacks.number("tb:bl:3:0:2", 3) == 0
    assert callbacks.number(f"ev:show:{2**31 - 1}") == 2**31 - 1
    for data in (f"ev:show:{2**31}", f"ev:show:{HUGE}", "pf:set:abc", "ev:show:²", "ev:show:"):
        with pytest.raises(callbacks.StaleButton):
            callbacks.number(data)
    with pytest.raises(callbacks.StaleButton):
        callbacks.number("ev", 3)


def test_patterns_accept_bounded_ascii_ids_only() -> None:
    show = callbacks.matching(r"^ev:show:\d+$")
    assert show("ev:show:42")
    assert not show(f"ev:show:{HUGE}")
    assert not show(f"ev:show:{2**31}")
    assert not show("ev:show:٣")
    assert not show(None)


async def test_an_old_question_loses_its_buttons_when_pressed(bot: BotHarness) -> None:
    chat = bot.chat
    chat.user(STRANGER, "Åsa", "Öberg", language_code="en")
    replies = await chat.send(STRANGER, "/start")
    ask_name = replies[-1]
    await chat.press(STRANGER, ask_name, "su:name")
    replies = await chat.send(STRANGER, "asa@example.se")
    old_skip = replies[-1]  # "Skip" the organisation
    replies = await chat.send(STRANGER, "Social Innovation Skåne")  # now at the sector question

    replies = await chat.press(STRANGER, snapshot(old_skip), "su:org:skip")

    [again] = replies  # one message: why, then the current question with its buttons
    assert again.text == asked_again(
        "That button belongs to an earlier question.", "Which sector do you work in?"
    )
    assert len(again.buttons) == 5
    assert old_skip.buttons == []  # taken off the old message
