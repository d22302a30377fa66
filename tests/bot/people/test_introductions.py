"""Introductions through the real Application: ask, accept, decline, block, report, withdraw,
expiry, the limits, an organiser's introduction, and forged or replayed buttons.

Messages owed to the other member go through the outbox; the tests press the buttons of the
outbox rows as that member would once the message is delivered."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from scheduler.introduction_expiry import expire_introductions
from scheduler.mail.compose import render
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
    start_bot,
    stop_bot,
)
from tests.support.people_kit import Person, delivered, forged, introductions, member, rows

KAREN = 7201
LARS = 7202
INGRID = 7203
ADMIN = Actor(telegram_user_id=ADMIN_ID, member_id=None, is_admin=True)


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(
        db, Clock(now), introductions_max_pending=2, introductions_max_per_week=3
    )
    yield harness
    await stop_bot(harness)


@pytest.fixture
async def karen(bot: BotHarness, db: Database) -> Person:
    return await member(bot, db, KAREN, "Karen", "Jensen")


@pytest.fixture
async def lars(bot: BotHarness, db: Database) -> Person:
    lars = await member(bot, db, LARS, "Lars", "Holm", sector="public", username="larsh")
    menu = (await bot.chat.send(LARS, "/people"))[-1]
    card = (await bot.chat.press(LARS, menu, "My directory card"))[-1]
    await bot.chat.press(LARS, card, "Share my e-mail on introductions")
    return lars


@pytest.fixture
async def ingrid(bot: BotHarness, db: Database) -> Person:
    return await member(bot, db, INGRID, "Ingrid", "Berg", sector="academia")


async def ask(bot: BotHarness, asker: Person, target: Person, note: str) -> list[SentMessage]:
    [found] = await bot.chat.send(asker.telegram_id, f"/people {target.name}")
    [question] = await bot.chat.press(asker.telegram_id, found, f"pp:ask:{target.id}")
    assert question.text.startswith(f"Write a short note to {target.name}")
    return await bot.chat.send(asker.telegram_id, note)


async def request_to(db: Database, person: Person) -> SentMessage:
    [row] = await rows(db, "pp:ask:", person.id)
    return delivered(row)


async def test_an_accepted_introduction_shares_contacts_and_mails(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    [sent] = await ask(bot, karen, lars, "I run a food co-op and look for procurement advice.")
    assert sent.text == (
        "Your request is on its way to Lars Holm. You hear from me when they answer."
    )
    request = await request_to(db, lars)
    assert "Karen Jensen would like to be introduced to you." in request.text
    assert "Their note: I run a food co-op and look for procurement advice." in request.text
    assert "@example.dk" not in request.text
    assert request.button_texts == ["Accept", "Decline", "Block", "Report to the admins"]
    [accepted] = await bot.chat.press(LARS, request, "Accept")
    assert accepted.text == "You are connected with Karen Jensen: their contact follows."
    [to_karen] = await rows(db, "pp:connected:", karen.id)
    [to_lars] = await rows(db, "pp:connected:", lars.id)
    # Lars shares his e-mail for introductions, Karen does not.
    assert 'href="https://t.me/larsh"' in to_karen.payload["text"]
    assert "larsh@example.dk" in to_karen.payload["text"]
    assert f'href="https://t.me/karen{KAREN}"' in to_lars.payload["text"]
    assert "@example.dk" not in to_lars.payload["text"]
    mails = await rows(db, "pp:connected-mail:")
    assert {m.member_id for m in mails} == {karen.id, lars.id}
    to_karen_mail = next(m for m in mails if m.member_id == karen.id)
    rendered = render("connected", "en", to_karen_mail.payload["context"])
    assert rendered.subject == "You are connected with Lars Holm"
    assert "larsh@example.dk" in rendered.text
    assert "\n\nTelegram: https://t.me/larsh\n" in rendered.text  # its own paragraph
    assert "https://t.me/larsh" in rendered.html
    # Accepting again changes nothing and sends nothing.
    before = len(await rows(db, "pp:"))
    [again] = await bot.chat.press(LARS, request, "Accept")
    assert again.text == "You are already connected with Karen Jensen."
    assert len(await rows(db, "pp:")) == before
    [declined_late] = await bot.chat.press(LARS, request, "Decline")
    assert declined_late.text == "That request for an introduction has already been answered."
    [intro] = await introductions(db)
    assert intro.status == "accepted"


async def test_a_decline_is_told_politely_and_shares_nothing(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await ask(bot, karen, lars, "Coffee?")
    [declined] = await bot.chat.press(LARS, await request_to(db, lars), "Decline")
    assert declined.text == "Declined. Karen Jensen is told politely, without a reason."
    [note] = await rows(db, "pp:declined:", karen.id)
    assert note.payload["text"].startswith("Lars Holm cannot take up your request")
    assert await rows(db, "pp:connected") == []


async def test_a_block_stops_further_requests_silently(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await ask(bot, karen, lars, "Coffee?")
    [blocked] = await bot.chat.press(LARS, await request_to(db, lars), "Block")
    assert blocked.text == "Declined. You will get no more requests from Karen Jensen."
    bot.clock.advance(days=31)
    [sent] = await ask(bot, karen, lars, "Coffee, really?")
    assert sent.text.startswith("Your request is on its way to Lars Holm.")
    assert len(await rows(db, "pp:ask:")) == 1  # Lars hears nothing of the second one
    assert [i.status for i in await introductions(db)] == ["declined", "declined"]


async def test_report_sends_the_request_to_the_administrators(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await ask(bot, karen, lars, "Buy my product!")
    [reported] = await bot.chat.press(LARS, await request_to(db, lars), "Report to the admins")
    assert reported.text == "Declined, and sent to the administrators. Thank you for telling us."
    [report] = await rows(db, "pp:report:")
    assert report.payload["chat_id"] == ADMIN_ID
    assert "Buy my product!" in report.payload["text"]


async def test_the_note_is_required_and_bounded(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    [refused] = await ask(bot, karen, lars, "x" * 501)
    question = (
        "Write a short note to Lars Holm: who you are and what you hope for from the "
        "introduction. Send /cancel to stop."
    )
    # One message: what was wrong, then the same question.
    assert refused.text == asked_again(
        "That note is too long: at most 500 characters, please.", question
    )
    [sent] = await bot.chat.send(KAREN, "Shorter now.")
    assert sent.text.startswith("Your request is on its way")
    [found] = await bot.chat.send(KAREN, "/people Lars")
    await bot.chat.press(KAREN, found, f"pp:ask:{lars.id}")
    [cancelled] = await bot.chat.send(KAREN, "/cancel")
    assert cancelled.text == "Nothing changed."
    assert len(await introductions(db)) == 1


async def test_what_is_not_the_note_gets_the_question_again(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    [found] = await bot.chat.send(KAREN, "/people Lars")
    [question] = await bot.chat.press(KAREN, found, f"pp:ask:{lars.id}")
    [wrong] = await bot.chat.send_update(
        "message",
        {"message_id": 9001, "date": 0, "chat": {"id": KAREN, "type": "private"}, "from": KAREN,
         "sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1,
                     "height": 1, "is_animated": False, "is_video": False}},
    )  # fmt: skip
    assert wrong.text == asked_again("Please answer with a text message.", question.text)
    [command] = await bot.chat.send(KAREN, "/events")
    assert command.text == asked_again(
        "Please answer the question, or send /cancel to stop.", question.text
    )
    [sent] = await bot.chat.send(KAREN, "We run a social enterprise in Aarhus.")
    assert sent.text.startswith("Your request is on its way")
    assert len(await introductions(db)) == 1


async def test_the_limits_hold(
    bot: BotHarness, db: Database, karen: Person, lars: Person, ingrid: Person
) -> None:
    others = [await member(bot, db, 7300 + n, f"Other{n}", "Person") for n in range(2)]
    await ask(bot, karen, lars, "One")
    [again] = await ask(bot, karen, lars, "Two")
    assert again.text == "You asked this member less than 30 days ago. Please give them time."
    await ask(bot, karen, ingrid, "Three")
    [refused] = await ask(bot, karen, others[0], "Four")
    assert refused.text.startswith("You have 2 requests waiting for an answer already.")
    # An answer frees a place; the weekly limit (3) stops the next but one.
    await bot.chat.press(LARS, await request_to(db, lars), "Decline")
    [sent] = await ask(bot, karen, others[0], "Four")
    assert sent.text.startswith("Your request is on its way")
    await bot.chat.press(INGRID, await request_to(db, ingrid), "Decline")
    [refused] = await ask(bot, karen, others[1], "Five")
    assert refused.text.startswith("You have asked for 3 introductions in the last seven days.")
    assert len(await introductions(db)) == 3


async def test_forged_and_stale_answers_change_nothing(
    bot: BotHarness, db: Database, karen: Person, lars: Person, ingrid: Person
) -> None:
    await ask(bot, karen, lars, "Coffee?")
    [intro] = await introductions(db)
    # Someone else's request, the asker answering her own, an unknown or absurd id.
    [refused] = await bot.chat.press(INGRID, forged(INGRID, f"pp:ia:{intro.id}"), "x")
    assert refused.text == "That request for an introduction is not yours to answer."
    [refused] = await bot.chat.press(KAREN, forged(KAREN, f"pp:ia:{intro.id}"), "x")
    assert refused.text == "That request for an introduction is not yours to answer."
    [refused] = await bot.chat.press(LARS, forged(LARS, "pp:ia:424242"), "x")
    assert refused.text == "That request for an introduction does not exist."
    assert await bot.chat.press(LARS, forged(LARS, "pp:ia:9999999999"), "x") == []
    answer = bot.request.calls_of("answerCallbackQuery")[-1].params
    assert answer.get("text") == "This button is no longer active."  # beyond any id
    # Withdrawn, then accepted: nothing is shared.
    [withdrawn] = await bot.chat.press(KAREN, forged(KAREN, f"pp:wd:{intro.id}"), "x")
    assert withdrawn.text == "Your request to Lars Holm is withdrawn."
    [refused] = await bot.chat.press(LARS, await request_to(db, lars), "Accept")
    assert refused.text == "That request for an introduction was withdrawn."
    [refused] = await bot.chat.press(INGRID, forged(INGRID, f"pp:wd:{intro.id}"), "x")
    assert refused.text == "That request for an introduction is not yours to answer."
    # A plain member using the organisers' introduce action.
    [refused] = await bot.chat.press(KAREN, forged(KAREN, f"pp:intro:{lars.id}"), "x")
    assert refused.text == "Sorry, that is for the network's organisers."
    assert await rows(db, "pp:connected") == []
    assert [i.status for i in await introductions(db)] == ["withdrawn"]


async def test_unanswered_requests_expire_with_a_note_to_the_asker(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await ask(bot, karen, lars, "Coffee?")
    bot.clock.advance(days=13)
    assert await expire_introductions(db, bot.services.settings, bot.clock.now) == 0
    bot.clock.advance(days=1)
    [refused] = await bot.chat.press(LARS, await request_to(db, lars), "Accept")
    assert refused.text == "That request for an introduction has expired."
    assert await expire_introductions(db, bot.services.settings, bot.clock.now) == 1
    assert await expire_introductions(db, bot.services.settings, bot.clock.now) == 0
    [note] = await rows(db, "pp:expired:", karen.id)
    assert "got no answer in 14 days" in note.payload["text"]
    [refused] = await bot.chat.press(LARS, await request_to(db, lars), "Accept")
    assert refused.text == "That request for an introduction has expired."
    assert [i.status for i in await introductions(db)] == ["expired"]


async def test_an_organiser_introduces_two_members_who_both_accept(
    bot: BotHarness, db: Database, karen: Person, lars: Person, ingrid: Person
) -> None:
    await members.set_role(
        db.unit_of_work(), ADMIN, karen.id, Role.ORGANISER, region_id=None, now=bot.clock.now
    )
    [found] = await bot.chat.send(KAREN, "/people")
    found = (await bot.chat.press(KAREN, found, "Everyone"))[-1]
    [next_step] = await bot.chat.press(KAREN, found, "Introduce Lars Holm to …")
    assert next_step.text.startswith("Now find the other member")
    [question] = await bot.chat.press(KAREN, found, "Introduce Ingrid Berg to …")
    assert question.text.startswith("Write a note to both")
    [done] = await bot.chat.send(KAREN, "You both work on housing for young people.")
    assert done.text == "Done: both have your note and can accept."
    [to_lars] = await rows(db, "pp:intro:", lars.id)
    [to_ingrid] = await rows(db, "pp:intro:", ingrid.id)
    assert "Karen Jensen would like to introduce you to Ingrid Berg." in to_lars.payload["text"]
    assert "housing for young people" in to_ingrid.payload["text"]
    [waiting] = await bot.chat.press(LARS, delivered(to_lars), "Accept")
    assert waiting.text == (
        "Thank you. When Ingrid Berg accepts too, you both get each other's contact."
    )
    assert await rows(db, "pp:connected") == []
    [connected] = await bot.chat.press(INGRID, delivered(to_ingrid), "Accept")
    assert connected.text == "You are connected with Lars Holm: their contact follows."
    assert len(await rows(db, "pp:connected:")) == 2
    [told] = await rows(db, "pp:introduced:", karen.id)
    assert "both accepted your introduction" in told.payload["text"]
    # The organiser is not a side: her press is refused.
    [refused] = await bot.chat.press(KAREN, delivered(to_lars), "Decline")
    assert refused.text == "That request for an introduction is not yours to answer."
