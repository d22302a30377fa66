"""A wrong answer gets one message (issue 11 item 19): what was wrong, a blank line, then the
question with its buttons; never the error and then the whole question as a second message.

Through the real Application with real Updates: sign-up, /newevent, the timebank; and the
shared mechanism (``bot.ui.chat.prefaced``) with Telegram's limits and parse modes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from telegram import Update
from telegram.constants import ParseMode

from bot.ui.chat import prefaced, send
from bot.ui.limits import TEXT_LIMIT
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    SentMessage,
    asked_again,
    sign_up_member,
    snapshot,
)

STRANGER = 3301
KAREN = 3302
LARS = 3303

ASK_EMAIL = (
    "What is your e-mail address? We send the calendar invitations and the newsletter there, "
    "and first a code to confirm it is yours."
)
ASK_SECTOR = "Which sector do you work in?"
CHOOSE_A_BUTTON = "Please choose one of the buttons."
IN_SIGNUP = (
    "You are in the middle of signing up. Please answer the question, or send /cancel to stop."
)


def one(replies: list[SentMessage]) -> SentMessage:
    assert len(replies) == 1, [m.text for m in replies]
    return replies[0]


async def test_a_wrong_e_mail_at_sign_up_gets_one_message(bot: BotHarness) -> None:
    chat = bot.chat
    chat.user(STRANGER, "Åsa", "Öberg", language_code="en")
    replies = await chat.send(STRANGER, "/start")
    [question] = await chat.press(STRANGER, replies[-1], "su:name")
    assert question.text == ASK_EMAIL

    again = one(await chat.send(STRANGER, "asa@"))

    assert again.text == asked_again(
        "That does not look like an e-mail address. Please type it like name@example.org.",
        ASK_EMAIL,
    )


async def test_text_where_a_button_is_wanted_gets_one_message_with_the_buttons(
    bot: BotHarness,
) -> None:
    chat = bot.chat
    chat.user(STRANGER, "Åsa", "Öberg", language_code="en")
    replies = await chat.send(STRANGER, "/start")
    replies = await chat.press(STRANGER, replies[-1], "su:name")
    replies = await chat.send(STRANGER, "asa@example.se")
    [sector] = await chat.send(STRANGER, "Social Innovation Skåne")
    assert sector.text == ASK_SECTOR

    again = one(await chat.send(STRANGER, "Foundation"))

    assert again.text == asked_again(CHOOSE_A_BUTTON, ASK_SECTOR)
    assert again.buttons == sector.buttons  # the question's own buttons, on the one message
    assert [m.text for m in await chat.press(STRANGER, again, "su:sector:foundation")] == [
        "Which region are you in?"
    ]


async def test_an_unknown_command_in_the_middle_of_sign_up_gets_one_message(
    bot: BotHarness,
) -> None:
    chat = bot.chat
    chat.user(STRANGER, "Åsa", "Öberg", language_code="en")
    replies = await chat.send(STRANGER, "/start")
    replies = await chat.press(STRANGER, replies[-1], "su:name")

    again = one(await chat.send(STRANGER, "/frobnicate"))

    assert again.text == asked_again(IN_SIGNUP, ASK_EMAIL)


async def test_a_date_that_cannot_be_read_in_newevent_gets_one_message(
    bot: BotHarness, now: dt.datetime
) -> None:
    chat = bot.chat
    chat.user(ADMIN_ID, "Anne", "Admin", language_code="en")  # an administrator organises
    await chat.send(ADMIN_ID, "/newevent")
    await chat.send(ADMIN_ID, "Netværksmøde")
    [when] = await chat.press(ADMIN_ID, bot.request.sent_to(ADMIN_ID)[-1], "Skip")

    again = one(await chat.send(ADMIN_ID, "next thursday"))

    assert again.text == asked_again(
        "I could not read that date. Please type it as shown below.", when.text
    )
    # The examples are a day three weeks ahead, never a date in the past.
    day = now.date() + dt.timedelta(weeks=3)
    assert f"{day.day}.{day.month}.{day.year} 13:00-17:00" in when.text
    assert f"{day.day} {day:%B} {day.year} 13-17" in when.text


@pytest.mark.parametrize(
    ("language", "long_date"),
    [("da", "16. december 2026 kl. 13-17"), ("sv", "16 december 2026 kl. 13-17")],
)
async def test_the_when_example_is_in_the_organisers_language_and_moves_with_the_clock(
    bot: BotHarness, language: str, long_date: str
) -> None:
    chat = bot.chat
    chat.user(ADMIN_ID, "Anne", "Admin", language_code=language)
    await chat.send(ADMIN_ID, "/newevent")
    await chat.send(ADMIN_ID, "Netværksmøde")
    [when] = await chat.send(ADMIN_ID, "x")
    assert long_date in when.text
    assert "16.12.2026 13:00-17:00" in when.text
    # A year on, the example is a year on: it never ages into the past.
    await chat.send(ADMIN_ID, "/cancel")
    bot.clock.advance(days=365)
    await chat.send(ADMIN_ID, "/newevent")
    await chat.send(ADMIN_ID, "Netværksmøde")
    [later] = await chat.send(ADMIN_ID, "x")
    assert long_date.replace("2026", "2027") in later.text
    assert "16.12.2027 13:00-17:00" in later.text


async def test_a_wrong_number_of_hours_in_the_timebank_gets_one_message(
    bot: BotHarness, db: Database
) -> None:
    await sign_up_member(bot, KAREN, first_name="Karen", email="karen@example.dk")
    await sign_up_member(bot, LARS, first_name="Lars", last_name="Holm", username="larsh",
                         email="lars@example.dk")  # fmt: skip
    chat = bot.chat
    screen = (await chat.send(KAREN, "/timebank"))[-1]
    replies = await chat.press(KAREN, screen, "Log hours")
    replies = await chat.press(KAREN, replies[-1], "I helped someone")
    [hours] = await chat.send(KAREN, "@larsh")
    assert hours.text.startswith("How many hours?")
    hours = snapshot(hours)

    again = one(await chat.send(KAREN, "0.33"))

    assert again.text == asked_again(
        "Please use quarter hours: e.g. 0.25, 0.5, 0.75 or 1.", hours.text
    )
    assert again.buttons == hours.buttons


# --- the shared mechanism -----------------------------------------------------------------


def a_message(bot: BotHarness, user_id: int = KAREN) -> Update:
    """A real Update from a member's private chat, bound to the running bot."""
    data: dict[str, Any] = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": int(dt.datetime.now(dt.UTC).timestamp()),
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Karen"},
            "text": "hello",
        },
    }
    return Update.de_json(data, bot.app.bot)


def sent(bot: BotHarness) -> list[tuple[str, Any]]:
    return [
        (str(c.params.get("text")), c.params.get("parse_mode"))
        for c in bot.request.calls_of("sendMessage")
    ]


async def test_the_note_is_escaped_for_a_question_in_html(bot: BotHarness) -> None:
    update = a_message(bot)
    async with prefaced(update, "1 < 2 & <b>"):
        await send(update, "<b>Which one?</b>", parse_mode=ParseMode.HTML)
    assert sent(bot) == [("1 &lt; 2 &amp; &lt;b&gt;\n\n<b>Which one?</b>", "HTML")]


async def test_the_note_goes_first_on_its_own_when_together_they_would_be_too_long(
    bot: BotHarness,
) -> None:
    update = a_message(bot)
    question = "q" * (TEXT_LIMIT - 10)
    async with prefaced(update, "That is not a number."):
        await send(update, question)
    # The question is never cut for the note.
    assert sent(bot) == [("That is not a number.", None), (question, None)]


async def test_a_question_of_exactly_the_room_left_still_gets_one_message(
    bot: BotHarness,
) -> None:
    update = a_message(bot)
    note = "That is not a number."
    question = "q" * (TEXT_LIMIT - len(note) - 2)
    async with prefaced(update, note):
        await send(update, question)
    assert sent(bot) == [(f"{note}\n\n{question}", None)]


async def test_a_note_nothing_took_is_sent_on_its_own_and_only_once(bot: BotHarness) -> None:
    update = a_message(bot)
    async with prefaced(update, "That button belongs to an earlier question."):
        pass  # e.g. the question was an edit of the message, or a photo
    await send(update, "Later, unrelated.")
    assert sent(bot) == [
        ("That button belongs to an earlier question.", None),
        ("Later, unrelated.", None),
    ]


async def test_only_the_first_message_gets_the_note_and_two_notes_become_one_message(
    bot: BotHarness,
) -> None:
    update = a_message(bot)
    async with prefaced(update, "First."), prefaced(update, "Second."):
        await send(update, "The preview.")
        await send(update, "The question.")
    assert sent(bot) == [("First.\nSecond.\n\nThe preview.", None), ("The question.", None)]


async def test_a_note_is_not_put_on_a_message_to_another_chat(bot: BotHarness) -> None:
    mine, theirs = a_message(bot, KAREN), a_message(bot, LARS)
    async with prefaced(mine, "Not for Lars."):
        await send(theirs, "For Lars.")
    assert [
        (c.params["chat_id"], c.params["text"]) for c in bot.request.calls_of("sendMessage")
    ] == [
        (LARS, "For Lars."),
        (KAREN, "Not for Lars."),
    ]
