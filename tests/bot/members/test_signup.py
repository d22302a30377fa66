"""Sign-up through the real Application, step by step, as a member would do it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.members import profiles as members
from storage.models import BotUserData, Member, OutboxMessage
from storage.uow import Database
from templates.i18n import translator
from tests.support.botkit import (
    BotHarness,
    Clock,
    SentMessage,
    asked_again,
    count_members,
    find_member,
    outbox_rows,
    snapshot,
    start_bot,
    stop_bot,
)

KAREN = 1001


async def sign_up(bot: BotHarness, user: int = KAREN, email: str = "karen@example.dk") -> None:
    chat = bot.chat
    replies = await chat.send(user, "/start")
    await chat.press(user, replies[-1], "su:name")
    await chat.send(user, email)
    replies = await chat.send(user, "Sociale Entreprenører i Danmark")
    replies = await chat.press(user, replies[-1], "su:sector:civil_society")
    replies = await chat.press(user, replies[-1], "Region Midtjylland")
    await chat.press(user, replies[-1], "su:consent:yes")


async def test_danish_member_signs_up_step_by_step(bot: BotHarness, db: Database) -> None:
    chat = bot.chat
    chat.user(KAREN, "Karen", "Ærø", language_code="en")
    replies = await chat.send(KAREN, "/start")
    assert "Welcome" in replies[0].text
    assert replies[-1].button_texts == ["Use “Karen Ærø”"]
    replies = await chat.press(KAREN, replies[-1], "su:name")
    assert "e-mail" in replies[-1].text
    replies = await chat.send(KAREN, "karen@example.dk")
    assert "organisation" in replies[-1].text
    replies = await chat.send(KAREN, "Teknologisk Institut")
    assert len(replies[-1].buttons) == 5
    replies = await chat.press(KAREN, replies[-1], "su:sector:academia")
    assert "Region Skåne" in replies[-1].button_texts
    replies = await chat.press(KAREN, replies[-1], "Region Midtjylland")
    assert "Region Midtjylland" in replies[-1].text
    assert "karen@example.dk" in replies[-1].text
    replies = await chat.press(KAREN, replies[-1], "su:consent:yes")
    assert "karen@example.dk" in replies[-1].text
    async with db.unit_of_work() as uow:
        member = await uow.session.scalar(select(Member))
        assert member is not None
        assert (member.name, member.email, member.sector, member.language) == (
            "Karen Ærø",
            "karen@example.dk",
            "academia",
            "en",
        )
        assert member.consent_at is not None
        assert member.email_verified_at is None
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


# --- the questions, as msgids: compare with translator(language)(msgid) -----------------------

WELCOME = (
    "Welcome to Samvirke, where the network's members meet, help each other and hear about "
    "meetings. Signing up takes a minute: a few short questions. Send /cancel at any time to stop."
)
ASK_NAME = "What is your name? Type it, or use the button."
ASK_EMAIL = (
    "What is your e-mail address? We send the calendar invitations and the newsletter there, "
    "and first a code to confirm it is yours."
)
ASK_ORGANISATION = "Which organisation are you part of? Type its name, or press Skip."
ASK_SECTOR = "Which sector do you work in?"
ASK_REGION = "Which region are you in?"
CHECK_DETAILS = "Please check your details:"
ASK_CONSENT = "Do you agree that we store these details?"
SIGNED_UP = (
    "Thank you, {name}, you are signed up! We have sent a six-digit code to {email}. "
    "Please type it here to confirm your address. Until then we send you no other e-mail."
)
CANCELLED = "Sign-up cancelled. Nothing was stored. Send /start whenever you want to begin."
BAD_EMAIL = "That does not look like an e-mail address. Please type it like name@example.org."
EMPTY_NAME = "Please type a name."
LONG_NAME = "That name is too long: at most 100 characters, please."
IN_FLOW_COMMAND = (
    "You are in the middle of signing up. Please answer the question, or send /cancel to stop."
)
EXPECT_TEXT = "Please answer with a text message."
EXPECT_BUTTON = "Please choose one of the buttons."
OLD_BUTTON = "That button belongs to an earlier question."

STEPS = ("name", "email", "organisation", "sector", "region", "consent")


async def answer_up_to(bot: BotHarness, user: int, step: str) -> dict[str, SentMessage]:
    """Send /start and answer every question before ``step`` well.

    Returns each question asked, as the member first saw it (buttons included); the last one is
    the question of ``step``.
    """
    chat = bot.chat
    replies = await chat.send(user, "/start")
    first = snapshot(replies[-1])
    first.text = first.text.removeprefix(f"{WELCOME}\n\n")  # the question, as asked again
    questions = {"name": first}
    answers = {
        "name": lambda q: chat.press(user, q, "su:name"),
        "email": lambda q: chat.send(user, "karen@example.dk"),
        "organisation": lambda q: chat.send(user, "Teknologisk Institut"),
        "sector": lambda q: chat.press(user, q, "su:sector:academia"),
        "region": lambda q: chat.press(user, q, "Region Midtjylland"),
    }
    for done, following in itertools.pairwise(STEPS):
        if done == step:
            break
        replies = await answers[done](replies[-1])
        questions[following] = snapshot(replies[-1])
    return questions


def assert_asked_again(replies: list[SentMessage], explanation: str, question: SentMessage) -> None:
    """One message: a short explanation, then the very same question (same text, same buttons)."""
    assert [m.text for m in replies] == [asked_again(explanation, question.text)]
    assert replies[-1].buttons == question.buttons


async def assert_nothing_stored(db: Database) -> None:
    assert await count_members(db) == 0
    assert await outbox_rows(db) == []


# --- every step, in Danish and in Swedish --------------------------------------------------


@pytest.mark.parametrize("language", ["da", "sv"])
async def test_member_signs_up_in_their_telegram_language(
    bot: BotHarness, db: Database, language: str
) -> None:
    t = translator(language)
    chat = bot.chat
    chat.user(KAREN, "Åsa", "Öberg", language_code=language)

    replies = await chat.send(KAREN, "/start")
    assert [m.text for m in replies] == [f"{t(WELCOME)}\n\n{t(ASK_NAME)}"]
    assert replies[-1].button_texts == [t("Use “{name}”", name="Åsa Öberg")]

    replies = await chat.press(KAREN, replies[-1], "su:name")
    assert [m.text for m in replies] == [t(ASK_EMAIL)]

    replies = await chat.send(KAREN, "asa@example.se")
    assert [m.text for m in replies] == [t(ASK_ORGANISATION)]
    assert replies[-1].button_texts == [t("Skip")]

    replies = await chat.send(KAREN, "Social Innovation Skåne")
    assert [m.text for m in replies] == [t(ASK_SECTOR)]
    assert replies[-1].button_texts == [
        t("Civil society"),
        t("Public sector (municipality or region)"),
        t("Business"),
        t("Foundation"),
        t("University or research"),
    ]

    replies = await chat.press(KAREN, replies[-1], "su:sector:public")
    assert [m.text for m in replies] == [t(ASK_REGION)]

    replies = await chat.press(KAREN, replies[-1], "Region Skåne")
    summary = replies[-1].text
    assert summary.startswith(t(CHECK_DETAILS))
    assert t("Name: {value}", value="Åsa Öberg") in summary
    assert t("E-mail: {value}", value="asa@example.se") in summary
    assert t("Organisation: {value}", value="Social Innovation Skåne") in summary
    assert t("Sector: {value}", value=t("Public sector (municipality or region)")) in summary
    assert t("Region: {value}", value="Region Skåne") in summary
    assert summary.endswith(t(ASK_CONSENT))
    assert replies[-1].button_texts == [
        t("Yes, I agree"),
        t("Change something"),
        t("No, cancel sign-up"),
    ]

    replies = await chat.press(KAREN, replies[-1], "su:consent:yes")
    assert replies[-1].text == t(SIGNED_UP, name="Åsa Öberg", email="asa@example.se")
    assert replies[-1].button_texts == [t("Send the code again"), t("Wrong address? Change it")]

    member = await find_member(db, KAREN)
    assert member is not None
    assert (member.name, member.email, member.organisation, member.sector) == (
        "Åsa Öberg",
        "asa@example.se",
        "Social Innovation Skåne",
        "public",
    )
    assert member.region.name == "Region Skåne"
    assert member.language == language
    assert member.consent_at == bot.clock.now
    [mail] = await outbox_rows(db, member.id)
    assert mail.payload["to_email"] == "asa@example.se"
    assert mail.payload["language"] == language


@pytest.mark.parametrize(("settings", "expected"), [({}, "da"), ({"default_language": "sv"}, "sv")])
async def test_unsupported_telegram_language_gets_the_default_language(
    db: Database, now: dt.datetime, settings: dict[str, str], expected: str
) -> None:
    harness = await start_bot(db, Clock(now), **settings)
    try:
        t = translator(expected)
        harness.chat.user(KAREN, "Hans", "Müller", language_code="de")
        replies = await harness.chat.send(KAREN, "/start")
        assert [m.text for m in replies] == [f"{t(WELCOME)}\n\n{t(ASK_NAME)}"]
        await harness.chat.press(KAREN, replies[-1], "su:name")
        await harness.chat.send(KAREN, "hans@example.de")
        replies = await harness.chat.press(KAREN, harness.chat.last(KAREN), "su:org:skip")
        replies = await harness.chat.press(KAREN, replies[-1], "su:sector:business")
        replies = await harness.chat.press(KAREN, replies[-1], "Region Syddanmark")
        replies = await harness.chat.press(KAREN, replies[-1], "su:consent:yes")
        assert replies[-1].text == t(SIGNED_UP, name="Hans Müller", email="hans@example.de")
        member = await find_member(db, KAREN)
        assert member is not None
        assert member.language == expected
    finally:
        await stop_bot(harness)


# --- bad answers: a short explanation and the same question again ---------------------------


@pytest.mark.parametrize(
    "typed", ["karen@", "karen example.dk", "@example.dk", "karen@@example.dk"]
)
async def test_malformed_email_is_explained_and_asked_again(
    bot: BotHarness, db: Database, typed: str
) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, "email")
    assert questions["email"].text == ASK_EMAIL

    replies = await bot.chat.send(KAREN, typed)

    assert_asked_again(replies, BAD_EMAIL, questions["email"])
    await assert_nothing_stored(db)
    replies = await bot.chat.send(KAREN, "karen@example.dk")
    assert replies[-1].text == ASK_ORGANISATION


@pytest.mark.parametrize(
    ("typed", "explanation"),
    [(" \t  ", EMPTY_NAME), ("K" * 200, LONG_NAME), ("A" * 101, LONG_NAME)],
    ids=["whitespace-only", "200-characters", "101-characters"],
)
async def test_unusable_name_is_explained_and_asked_again(
    bot: BotHarness, db: Database, typed: str, explanation: str
) -> None:
    bot.chat.user(KAREN, "Karen", "Jensen", language_code="en")
    questions = await answer_up_to(bot, KAREN, "name")

    replies = await bot.chat.send(KAREN, typed)

    assert_asked_again(replies, explanation, questions["name"])
    assert replies[-1].button_texts == ["Use “Karen Jensen”"]
    await assert_nothing_stored(db)


async def test_a_name_of_exactly_100_characters_is_accepted(bot: BotHarness) -> None:
    bot.chat.user(KAREN, language_code="en")
    await answer_up_to(bot, KAREN, "name")
    replies = await bot.chat.send(KAREN, "K" * 100)
    assert [m.text for m in replies] == [ASK_EMAIL]


@pytest.mark.parametrize("step", STEPS)
async def test_a_command_in_the_middle_of_sign_up_repeats_the_question(
    bot: BotHarness, db: Database, step: str
) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, step)

    replies = await bot.chat.send(KAREN, "/help")

    assert_asked_again(replies, IN_FLOW_COMMAND, questions[step])
    await assert_nothing_stored(db)


async def test_start_in_the_middle_of_sign_up_repeats_the_question(bot: BotHarness) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, "organisation")
    replies = await bot.chat.send(KAREN, "/start")
    assert_asked_again(replies, IN_FLOW_COMMAND, questions["organisation"])


@pytest.mark.parametrize(
    ("step", "explanation"),
    [
        ("name", EXPECT_TEXT),
        ("email", EXPECT_TEXT),
        ("organisation", EXPECT_TEXT),
        ("sector", EXPECT_BUTTON),
        ("region", EXPECT_BUTTON),
        ("consent", EXPECT_BUTTON),
    ],
)
async def test_a_photo_instead_of_an_answer_repeats_the_question(
    bot: BotHarness, db: Database, step: str, explanation: str
) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, step)

    replies = await bot.chat.send_photo(KAREN)

    assert_asked_again(replies, explanation, questions[step])
    await assert_nothing_stored(db)


@pytest.mark.parametrize("step", ["sector", "region", "consent"])
async def test_text_where_a_button_is_expected_repeats_the_question(
    bot: BotHarness, db: Database, step: str
) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, step)

    replies = await bot.chat.send(KAREN, "yes")

    assert_asked_again(replies, EXPECT_BUTTON, questions[step])
    await assert_nothing_stored(db)


@pytest.mark.parametrize(
    ("step", "old_question", "old_button"),
    [
        ("email", "name", "su:name"),
        ("sector", "organisation", "su:org:skip"),
        ("region", "sector", "su:sector:business"),
        ("consent", "region", "Region Skåne"),
        ("consent", "sector", "su:sector:foundation"),
    ],
)
async def test_an_old_button_from_an_earlier_question_repeats_the_current_question(
    bot: BotHarness, db: Database, step: str, old_question: str, old_button: str
) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, step)

    replies = await bot.chat.press(KAREN, questions[old_question], old_button)

    assert_asked_again(replies, OLD_BUTTON, questions[step])
    await assert_nothing_stored(db)
    # The earlier answer was not changed by the old button.
    if step == "consent":
        assert "Region Midtjylland" in replies[-1].text
        assert "University or research" in replies[-1].text


async def test_bad_answers_in_swedish_are_explained_in_swedish(
    bot: BotHarness, db: Database
) -> None:
    t = translator("sv")
    bot.chat.user(KAREN, "Åsa", "Öberg", language_code="sv")
    questions = await answer_up_to(bot, KAREN, "email")

    assert_asked_again(await bot.chat.send(KAREN, "asa@"), t(BAD_EMAIL), questions["email"])
    assert_asked_again(await bot.chat.send(KAREN, "/help"), t(IN_FLOW_COMMAND), questions["email"])
    assert_asked_again(await bot.chat.send_photo(KAREN), t(EXPECT_TEXT), questions["email"])
    await bot.chat.send(KAREN, "asa@example.se")
    replies = await bot.chat.send(KAREN, "Social Innovation Skåne")
    sector = snapshot(replies[-1])
    assert_asked_again(await bot.chat.send(KAREN, "Stiftelse"), t(EXPECT_BUTTON), sector)
    assert_asked_again(
        await bot.chat.press(KAREN, questions["name"], "su:name"), t(OLD_BUTTON), sector
    )
    await assert_nothing_stored(db)


async def test_many_bad_answers_then_good_ones_store_only_the_good_ones(
    bot: BotHarness, db: Database
) -> None:
    chat = bot.chat
    chat.user(KAREN, "Karen", "Jensen", language_code="en")
    replies = await chat.send(KAREN, "/start")
    await chat.send(KAREN, "   ")
    await chat.send_photo(KAREN)
    await chat.send(KAREN, "Karen Ærø")
    await chat.send(KAREN, "karen@")
    await chat.send(KAREN, "/help")
    await chat.send(KAREN, "karen@example.dk")
    replies = await chat.send(KAREN, "Teknologisk Institut")
    await chat.send(KAREN, "Foundation")
    replies = await chat.press(KAREN, replies[-1], "su:sector:foundation")
    await chat.send_photo(KAREN)
    replies = await chat.press(KAREN, replies[-1], "Region Nordjylland")
    replies = await chat.press(KAREN, replies[-1], "su:consent:yes")
    assert replies[-1].text == SIGNED_UP.format(name="Karen Ærø", email="karen@example.dk")
    member = await find_member(db, KAREN)
    assert member is not None
    assert (member.name, member.email, member.organisation, member.sector) == (
        "Karen Ærø",
        "karen@example.dk",
        "Teknologisk Institut",
        "foundation",
    )
    assert member.region.name == "Region Nordjylland"


# --- leaving, and answers the member chooses -----------------------------------------------


@pytest.mark.parametrize("step", STEPS)
async def test_cancel_leaves_sign_up_and_start_begins_again(
    bot: BotHarness, db: Database, step: str
) -> None:
    chat = bot.chat
    chat.user(KAREN, language_code="en")
    await answer_up_to(bot, KAREN, step)

    replies = await chat.send(KAREN, "/cancel")

    assert [m.text for m in replies] == [CANCELLED]
    await assert_nothing_stored(db)
    assert "signup" not in bot.app.user_data.get(KAREN, {})
    # Out of the flow: text is no longer taken as an answer.
    replies = await chat.send(KAREN, "karen@example.dk")
    assert [m.text for m in replies] == ["Hello! Send /start to sign up."]
    replies = await chat.send(KAREN, "/start")
    assert [m.text for m in replies] == [f"{WELCOME}\n\n{ASK_NAME}"]
    # The new sign-up starts from a clean draft.
    replies = await chat.press(KAREN, replies[-1], "su:name")
    await chat.send(KAREN, "karen@example.dk")
    replies = await chat.press(KAREN, chat.last(KAREN), "su:org:skip")
    replies = await chat.press(KAREN, replies[-1], "su:sector:business")
    replies = await chat.press(KAREN, replies[-1], "Region Hovedstaden")
    assert "Organisation: –" in replies[-1].text


async def test_no_at_consent_cancels_and_stores_nothing(bot: BotHarness, db: Database) -> None:
    bot.chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, "consent")

    replies = await bot.chat.press(KAREN, questions["consent"], "No, cancel sign-up")

    assert [m.text for m in replies] == [CANCELLED]
    await assert_nothing_stored(db)
    await bot.app.update_persistence()
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(BotUserData))).all()
        assert all("signup" not in row.data for row in rows)
    # The consent buttons no longer work.
    replies = await bot.chat.press(KAREN, questions["consent"], "su:consent:yes")
    assert replies == []
    await assert_nothing_stored(db)


async def test_consent_pressed_twice_creates_one_member_and_one_mail(
    bot: BotHarness, db: Database
) -> None:
    bot.chat.user(KAREN, language_code="en")
    consent = (await answer_up_to(bot, KAREN, "consent"))["consent"]

    first = await bot.chat.press(KAREN, consent, "su:consent:yes")
    second = await bot.chat.press(KAREN, consent, "su:consent:yes")

    assert first[-1].text.startswith("Thank you, Karen Jensen, you are signed up!")
    assert second == []
    assert await count_members(db) == 1
    assert len(await outbox_rows(db)) == 1
    answers = bot.request.calls_of("answerCallbackQuery")
    assert answers[-1].params.get("text") == "This button is no longer active."


async def test_consent_double_tap_processed_concurrently_creates_one_member_and_one_mail(
    bot: BotHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two presses handled at once (concurrent updates, or two bot processes behind a webhook)."""
    # Hold each registration between its "is there a member already?" check and its insert
    # until the other one got there too (or half a second passed: on SQLite the second waits
    # for the first one's write lock instead).
    both_checked = asyncio.Event()
    checked = 0
    check_region = members._check_region

    async def check_region_then_wait(session: AsyncSession, region_id: int) -> None:
        nonlocal checked
        await check_region(session, region_id)
        checked += 1
        if checked == 2:
            both_checked.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both_checked.wait(), 0.5)

    monkeypatch.setattr(members, "_check_region", check_region_then_wait)
    bot.chat.user(KAREN, language_code="en")
    consent = (await answer_up_to(bot, KAREN, "consent"))["consent"]

    await asyncio.gather(
        bot.chat.press(KAREN, consent, "su:consent:yes"),
        bot.chat.press(KAREN, consent, "su:consent:yes"),
    )

    assert await count_members(db) == 1
    [mail] = await outbox_rows(db)
    assert mail.key.startswith("verify:")
    texts = [m.text for m in bot.request.sent_to(KAREN)]
    assert not any(text.startswith("Sorry, something went wrong") for text in texts)


async def test_typed_name_is_used_instead_of_the_suggestion(bot: BotHarness, db: Database) -> None:
    chat = bot.chat
    chat.user(KAREN, "kj", None, language_code="en")
    replies = await chat.send(KAREN, "/start")
    assert replies[-1].button_texts == ["Use “kj”"]
    replies = await chat.send(KAREN, "  Karen   Jensen-Ærø ")
    assert [m.text for m in replies] == [ASK_EMAIL]
    await chat.send(KAREN, "karen@example.dk")
    replies = await chat.send(KAREN, "Teknologisk Institut")
    replies = await chat.press(KAREN, replies[-1], "su:sector:academia")
    replies = await chat.press(KAREN, replies[-1], "Region Midtjylland")
    assert "Name: Karen Jensen-Ærø" in replies[-1].text
    await chat.press(KAREN, replies[-1], "su:consent:yes")
    member = await find_member(db, KAREN)
    assert member is not None
    assert member.name == "Karen Jensen-Ærø"


async def test_skip_leaves_the_organisation_empty(bot: BotHarness, db: Database) -> None:
    chat = bot.chat
    chat.user(KAREN, language_code="en")
    questions = await answer_up_to(bot, KAREN, "organisation")
    replies = await chat.press(KAREN, questions["organisation"], "Skip")
    assert [m.text for m in replies] == [ASK_SECTOR]
    replies = await chat.press(KAREN, replies[-1], "su:sector:civil_society")
    replies = await chat.press(KAREN, replies[-1], "Region Sjælland")
    assert "Organisation: –" in replies[-1].text
    await chat.press(KAREN, replies[-1], "su:consent:yes")
    member = await find_member(db, KAREN)
    assert member is not None
    assert member.organisation is None


async def test_sign_up_uses_the_email_address_as_normalised(bot: BotHarness, db: Database) -> None:
    bot.chat.user(KAREN, language_code="en")
    await answer_up_to(bot, KAREN, "email")
    await bot.chat.send(KAREN, "  Karen@EXAMPLE.dk ")
    await bot.chat.send(KAREN, "Teknologisk Institut")
    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "su:sector:academia")
    replies = await bot.chat.press(KAREN, replies[-1], "Region Midtjylland")
    await bot.chat.press(KAREN, replies[-1], "su:consent:yes")
    member = await find_member(db, KAREN)
    assert member is not None
    assert member.email == "Karen@example.dk"


async def test_sign_up_gives_the_member_their_command_menu(bot: BotHarness) -> None:
    await sign_up(bot)
    [call] = bot.request.calls_of("setMyCommands")
    assert call.params["scope"]["type"] == "chat"
    assert call.params["scope"]["chat_id"] == KAREN
    assert [c["command"] for c in call.params["commands"]] == [
        "start",
        "events",
        "myevents",
        "people",
        "timebank",
        "profile",
        "settings",
        "privacy",
        "help",
    ]


async def test_two_people_sign_up_at_the_same_time_without_mixing_answers(
    bot: BotHarness, db: Database
) -> None:
    chat = bot.chat
    other = KAREN + 1
    chat.user(KAREN, "Karen", "Jensen", language_code="en")
    chat.user(other, "Lars", "Holm", language_code="da")
    karen = await chat.send(KAREN, "/start")
    lars = await chat.send(other, "/start")
    await chat.press(KAREN, karen[-1], "su:name")
    await chat.press(other, lars[-1], "su:name")
    await chat.send(other, "lars@example.dk")
    await chat.send(KAREN, "karen@example.dk")
    karen = await chat.press(KAREN, chat.last(KAREN), "su:org:skip")
    lars = await chat.send(other, "Aarhus Kommune")
    lars = await chat.press(other, lars[-1], "su:sector:public")
    karen = await chat.press(KAREN, karen[-1], "su:sector:business")
    karen = await chat.press(KAREN, karen[-1], "Region Hovedstaden")
    lars = await chat.press(other, lars[-1], "Region Midtjylland")
    await chat.press(other, lars[-1], "su:consent:yes")
    await chat.press(KAREN, karen[-1], "su:consent:yes")
    k, ll = await find_member(db, KAREN), await find_member(db, other)
    assert (k.name, k.email, k.organisation, k.sector, k.language) == (
        "Karen Jensen",
        "karen@example.dk",
        None,
        "business",
        "en",
    )
    assert (ll.name, ll.email, ll.organisation, ll.sector, ll.language) == (
        "Lars Holm",
        "lars@example.dk",
        "Aarhus Kommune",
        "public",
        "da",
    )


async def test_the_summary_lets_the_member_change_one_answer_before_agreeing(
    bot: BotHarness, db: Database
) -> None:
    """Change something → E-mail → the corrected address → straight back to the summary (the
    other answers kept), then agree; nothing is stored before that."""
    chat = bot.chat
    chat.user(KAREN, "Karen", "Jensen", language_code="en")
    replies = await chat.send(KAREN, "/start")
    replies = await chat.press(KAREN, replies[-1], "su:name")
    replies = await chat.send(KAREN, "karen@exmaple.dk")
    replies = await chat.send(KAREN, "Teknologisk Institut")
    replies = await chat.press(KAREN, replies[-1], "su:sector:academia")
    [summary] = await chat.press(KAREN, replies[-1], "Region Midtjylland")
    assert "E-mail: karen@exmaple.dk" in summary.text

    [which] = await chat.press(KAREN, summary, "Change something")
    assert which.text == "Which answer do you want to change?"
    assert which.button_texts == [
        "Name",
        "E-mail",
        "Organisation",
        "Sector",
        "Region",
        "« Back to the summary",
    ]
    [ask] = await chat.press(KAREN, which, "E-mail")
    assert ask.text.startswith("What is your e-mail address?")
    [summary] = await chat.send(KAREN, "karen@example.dk")
    assert summary.text.startswith("Please check your details:")
    assert "E-mail: karen@example.dk" in summary.text
    assert "Organisation: Teknologisk Institut" in summary.text
    assert "Region: Region Midtjylland" in summary.text

    [which] = await chat.press(KAREN, summary, "Change something")
    [summary] = await chat.press(KAREN, which, "« Back to the summary")
    assert summary.button_texts[0] == "Yes, I agree"
    assert await find_member(db, KAREN) is None

    await chat.press(KAREN, summary, "Yes, I agree")
    member = await find_member(db, KAREN)
    assert member is not None
    assert (member.email, member.organisation) == ("karen@example.dk", "Teknologisk Institut")
