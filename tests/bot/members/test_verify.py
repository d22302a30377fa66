"""Confirming the e-mail address: the code from the mail, wrong tries, expiry, a new code."""

from __future__ import annotations

import pytest

from storage.uow import Database
from templates.i18n import translator
from tests.support.botkit import (
    BotHarness,
    find_member,
    latest_code,
    outbox_rows,
    sign_up_member,
)

KAREN = 2001
EMAIL = "karen@example.dk"

VERIFY_BUTTONS = ["Send the code again", "Wrong address? Change it"]
VERIFIED = "Thank you! {email} is confirmed. What would you like to do?"
WRONG = "That code is not right. You can try {n} more times."
WRONG_LAST = "That code is not right. You can try 1 more time."
TOO_MANY = "Too many wrong tries. You can try again in {n} minutes."
EXPIRED = "That code has expired. Press the button to get a new one."
NEW_CODE_SENT = "We have sent a new code to {email}. It is valid for 30 minutes."
WAIT = "We sent a code less than a minute ago."
TYPE_THE_CODE = (
    "Please type the six-digit code we sent to {email}, or press the button to get a new one."
)
NOTHING_PENDING = "There is no code waiting to be confirmed."


@pytest.fixture
async def member_id(bot: BotHarness, db: Database) -> int:
    """Karen has signed up (in English) and not yet typed her code."""
    await sign_up_member(bot, KAREN, email=EMAIL)
    member = await find_member(db, KAREN)
    assert member is not None
    return int(member.id)


def wrong_code(right: str) -> str:
    return f"{(int(right) + 1) % 1_000_000:06d}"


async def is_verified(db: Database) -> bool:
    member = await find_member(db, KAREN)
    return member is not None and member.email_verified_at is not None


async def test_typing_the_code_from_the_mail_confirms_the_address(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    code = await latest_code(db, member_id)

    replies = await bot.chat.send(KAREN, code)

    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]
    member = await find_member(db, KAREN)
    assert member.email == EMAIL
    assert member.email_verified_at == bot.clock.now


async def test_the_code_may_be_typed_with_a_space_in_the_middle(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    code = await latest_code(db, member_id)
    replies = await bot.chat.send(KAREN, f" {code[:3]} {code[3:]} ")
    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]
    assert await is_verified(db)


async def test_confirmation_is_in_the_members_language(bot: BotHarness, db: Database) -> None:
    t = translator("sv")
    await sign_up_member(bot, KAREN, first_name="Åsa", language_code="sv", email="asa@example.se")
    member = await find_member(db, KAREN)
    replies = await bot.chat.send(KAREN, await latest_code(db, member.id))
    assert [m.text for m in replies] == [t(VERIFIED, email="asa@example.se")]


async def test_five_wrong_codes_lock_the_code_even_the_right_one(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    right = await latest_code(db, member_id)
    wrong = wrong_code(right)

    texts = [(await bot.chat.send(KAREN, wrong))[-1].text for _ in range(5)]

    assert texts == [
        WRONG.format(n=4),
        WRONG.format(n=3),
        WRONG.format(n=2),
        WRONG_LAST,
        TOO_MANY.format(n=15),
    ]
    replies = await bot.chat.send(KAREN, right)
    assert [m.text for m in replies] == [TOO_MANY.format(n=15)]
    assert replies[-1].button_texts == VERIFY_BUTTONS
    assert not await is_verified(db)


async def test_a_new_code_does_not_reset_the_tries_and_the_lock_grows(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    """Issue 17, item 3: tries count per member across new codes, each lock-out longer."""
    old = await latest_code(db, member_id)
    for _ in range(5):
        await bot.chat.send(KAREN, wrong_code(old))
    bot.clock.advance(seconds=61)

    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "Send the code again")
    assert [m.text for m in replies] == [NEW_CODE_SENT.format(email=EMAIL)]
    new = await latest_code(db, member_id)
    # The new code does not open the lock: even the right code waits.
    replies = await bot.chat.send(KAREN, new)
    assert [m.text for m in replies] == [TOO_MANY.format(n=14)]

    bot.clock.advance(minutes=14)
    texts = [(await bot.chat.send(KAREN, wrong_code(new)))[-1].text for _ in range(5)]
    assert texts[0] == WRONG.format(n=4)
    assert texts[-1] == TOO_MANY.format(n=30)  # the second lock is twice as long

    bot.clock.advance(minutes=30)
    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "Send the code again")
    assert [m.text for m in replies] == [NEW_CODE_SENT.format(email=EMAIL)]
    replies = await bot.chat.send(KAREN, await latest_code(db, member_id))
    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]


async def test_an_expired_code_is_refused(bot: BotHarness, db: Database, member_id: int) -> None:
    code = await latest_code(db, member_id)
    bot.clock.advance(minutes=31)

    replies = await bot.chat.send(KAREN, code)

    assert [m.text for m in replies] == [EXPIRED]
    assert replies[-1].button_texts == VERIFY_BUTTONS
    assert not await is_verified(db)


async def test_a_new_code_after_expiry_works(bot: BotHarness, db: Database, member_id: int) -> None:
    bot.clock.advance(minutes=31)
    await bot.chat.send(KAREN, await latest_code(db, member_id))
    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "Send the code again")
    assert [m.text for m in replies] == [NEW_CODE_SENT.format(email=EMAIL)]
    replies = await bot.chat.send(KAREN, await latest_code(db, member_id))
    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]


async def test_a_code_is_still_good_just_before_30_minutes(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    code = await latest_code(db, member_id)
    bot.clock.advance(minutes=29, seconds=59)
    replies = await bot.chat.send(KAREN, code)
    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]


async def test_send_the_code_again_queues_a_new_mail_with_a_new_code(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    [first] = await outbox_rows(db, member_id)
    old_code = first.payload["context"]["code"]
    bot.clock.advance(minutes=2)

    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "Send the code again")

    assert [m.text for m in replies] == [NEW_CODE_SENT.format(email=EMAIL)]
    first_again, second = await outbox_rows(db, member_id)
    assert first_again.key == first.key
    assert second.key != first.key
    assert second.payload["to_email"] == EMAIL
    assert second.payload["template"] == "verification"
    # Only the newest code works.
    if second.payload["context"]["code"] != old_code:
        replies = await bot.chat.send(KAREN, old_code)
        assert replies[-1].text == WRONG.format(n=4)
    replies = await bot.chat.send(KAREN, second.payload["context"]["code"])
    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]


async def test_send_the_code_again_twice_within_a_minute_asks_to_wait(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    bot.clock.advance(minutes=2)
    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "Send the code again")
    assert len(await outbox_rows(db, member_id)) == 2
    bot.clock.advance(seconds=20)

    again = await bot.chat.press(KAREN, replies[-1], "Send the code again")

    assert len(again) == 1
    assert again[0].text.startswith(WAIT)
    assert len(await outbox_rows(db, member_id)) == 2


async def test_send_the_code_again_right_after_sign_up_asks_to_wait(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    bot.clock.advance(seconds=30)
    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "Send the code again")
    assert len(replies) == 1
    assert replies[0].text.startswith(WAIT)
    assert len(await outbox_rows(db, member_id)) == 1


async def test_random_text_from_an_unconfirmed_member_reminds_them_of_the_code(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    replies = await bot.chat.send(KAREN, "hello, is anyone there?")

    assert [m.text for m in replies] == [TYPE_THE_CODE.format(email=EMAIL)]
    assert replies[-1].button_texts == VERIFY_BUTTONS
    assert not await is_verified(db)


async def test_random_text_from_a_confirmed_member_points_to_help(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    await bot.chat.send(KAREN, await latest_code(db, member_id))
    replies = await bot.chat.send(KAREN, "hello, is anyone there?")
    assert [m.text for m in replies] == [
        "Sorry, I did not understand that. Send /help to see what I can do."
    ]


async def test_a_code_from_a_confirmed_member_finds_nothing_pending(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    code = await latest_code(db, member_id)
    await bot.chat.send(KAREN, code)
    replies = await bot.chat.send(KAREN, code)
    assert [m.text for m in replies] == [NOTHING_PENDING]


async def test_send_the_code_again_after_confirming_finds_nothing_pending(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    signed_up = bot.chat.last(KAREN)
    await bot.chat.send(KAREN, await latest_code(db, member_id))
    bot.clock.advance(minutes=5)
    replies = await bot.chat.press(KAREN, signed_up, "Send the code again")
    assert [m.text for m in replies] == [NOTHING_PENDING]
    assert len(await outbox_rows(db, member_id)) == 1


async def test_a_code_from_someone_not_signed_up_asks_them_to_sign_up(bot: BotHarness) -> None:
    bot.chat.user(KAREN + 1, language_code="en")
    replies = await bot.chat.send(KAREN + 1, "123456")
    assert [m.text for m in replies] == ["Hello! Send /start to sign up."]


async def test_one_members_code_does_not_confirm_another_member(
    bot: BotHarness, db: Database, member_id: int
) -> None:
    other = KAREN + 1
    await sign_up_member(bot, other, first_name="Lars", email="lars@example.dk")
    karens_code = await latest_code(db, member_id)
    lars = await find_member(db, other)
    if karens_code != await latest_code(db, lars.id):
        replies = await bot.chat.send(other, karens_code)
        assert replies[-1].text == WRONG.format(n=4)
    assert (await find_member(db, other)).email_verified_at is None
    assert not await is_verified(db)


async def test_a_mistyped_address_is_fixed_right_after_sign_up_and_the_menu_follows(
    bot: BotHarness, db: Database
) -> None:
    """ "Wrong address?" under the code message: the right address gets a new code; typing it
    confirms that address and shows the menu, not "Send /help"."""
    signed_up = await sign_up_member(bot, KAREN, email="karen@exmaple.dk")
    [ask] = await bot.chat.press(KAREN, signed_up[-1], "Wrong address? Change it")
    assert ask.text.startswith("Type your new e-mail address.")
    [sent] = await bot.chat.send(KAREN, EMAIL)
    assert sent.text.startswith(f"We have sent a six-digit code to {EMAIL}.")
    member = await find_member(db, KAREN)
    replies = await bot.chat.send(KAREN, await latest_code(db, member.id))
    assert [m.text for m in replies] == [VERIFIED.format(email=EMAIL)]
    assert replies[-1].button_texts == [
        "Events",
        "My events",
        "My profile",
        "Settings",
        "Privacy",
        "Help",
        "Timebank",
    ]
    member = await find_member(db, KAREN)
    assert member.email == EMAIL
    assert member.email_verified_at == bot.clock.now
