"""The follow-up after a meeting through the real Application: "Send follow-up now" in
/attendees (once; a second press says when), the scheduled follow-up, who gets it (checked in,
or going when nobody was checked in; never a member who erased their data), the rating buttons
and the comment, forged presses, and the feedback organisers see in /attendees and /stats."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage.events import attendance as event_attendance
from storage.events import followup, materials
from storage.members import privacy
from storage.models import EventFeedback, OutboxMessage
from storage.people import participants
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botkit import BotHarness, Clock, SentMessage, start_bot, stop_bot
from tests.support.events_kit import (
    END,
    NOW,
    START,
    TITLE,
    add_member,
    add_organiser,
    going,
    outbox,
    publish,
)

ORGANISER = 8100
KAREN = 8201  # checked in, Danish
SVEN = 8202  # checked in, Swedish
JENS = 8203  # going, not checked in
STARTED = START.astimezone(dt.UTC) + dt.timedelta(hours=1)


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(STARTED))
    yield harness
    await stop_bot(harness)


async def _meeting(db: Database, *, check_in: bool = True) -> tuple[int, dict[int, int]]:
    await add_organiser(db, ORGANISER)
    event = await publish(db)
    members = {
        KAREN: await add_member(db, KAREN, language="da"),
        SVEN: await add_member(db, SVEN, language="sv", sector="academia"),
        JENS: await add_member(db, JENS, sector="business"),
    }
    for member in members.values():
        await going(db, member, event.id)
    if check_in:
        for user in (KAREN, SVEN):
            await event_attendance.check_in_by_code(
                db.unit_of_work(), members[user], event.checkin_code, now=STARTED
            )
    return event.id, members


def _delivered(row: OutboxMessage) -> SentMessage:
    """The follow-up as the member sees it once the outbox has delivered it."""
    payload = row.payload
    return SentMessage(
        message_id=900_000 + row.id,
        chat_id=int(payload["chat_id"]),
        text=str(payload["text"]),
        buttons=[button for line in payload["buttons"] or [] for button in line],
    )


def _answered(bot: BotHarness) -> str:
    return str(bot.request.calls_of("answerCallbackQuery")[-1].params.get("text", ""))


async def _attendees(bot: BotHarness, event_id: int) -> SentMessage:
    [events] = await bot.chat.send(ORGANISER, "/attendees")
    [report] = await bot.chat.press(ORGANISER, events, f"oe:att:{event_id}")
    return report


async def test_send_now_once_then_rating_and_comment(bot: BotHarness, db: Database) -> None:
    event_id, members = await _meeting(db)
    admin = Actor(telegram_user_id=1, member_id=None, is_admin=True)
    await materials.add(
        db.unit_of_work(), admin, event_id, title="Slides", file_id="doc-slides", now=STARTED
    )
    await materials.add(
        db.unit_of_work(), admin, event_id, title="Deltagerliste",
        url="https://example.org/deltagere", now=STARTED,
    )  # fmt: skip
    report = await _attendees(bot, event_id)
    [sent] = await bot.chat.press(ORGANISER, report, "Send follow-up now")
    assert sent.text == "The follow-up is on its way to 2 participants."
    rows = await outbox(db, "followup:")
    assert [r.key for r in rows] == [
        f"followup:{event_id}:{members[KAREN]}",
        f"followup:{event_id}:{members[SVEN]}",
    ]
    danish, swedish = (_delivered(r) for r in rows)
    assert danish.text.startswith(f"Tak fordi du kom til “{TITLE}”!")
    assert swedish.text.startswith(f"Tack för att du kom till “{TITLE}”!")
    assert danish.button_texts == ["1", "2", "3", "4", "5", "Materialer"]
    assert "• Slides\n• Deltagerliste: https://example.org/deltagere" in danish.text
    [opened] = await bot.chat.press(KAREN, danish, "Materialer")
    assert opened.text.startswith("Program og materialer:")

    bot.clock.advance(minutes=5)
    [again] = await bot.chat.press(ORGANISER, report, "Send follow-up now")
    assert again.text.startswith("The follow-up went already, on ")
    assert len(await outbox(db, "followup:")) == 2

    [thanks] = await bot.chat.press(KAREN, danish, "4")
    assert thanks.text.startswith("Tak: 4 af 5")
    assert thanks.button_texts == ["Spring over"]
    [done] = await bot.chat.send(KAREN, "Gode oplæg, for lidt tid til workshoppen.")
    assert done.text == "Tak for din kommentar!"
    [thanks] = await bot.chat.press(SVEN, swedish, "5")
    [done] = await bot.chat.press(SVEN, thanks, "Hoppa över")
    assert done.text == "Tack!"

    shown = (await _attendees(bot, event_id)).text
    assert "Feedback: 4.5 of 5 (2 answers)" in shown
    assert "1★ 0  2★ 0  3★ 0  4★ 1  5★ 1" in shown
    assert "“Gode oplæg, for lidt tid til workshoppen.”" in shown
    comments = shown.split("Comments:")[1]
    assert "Karen" not in comments
    [periods] = await bot.chat.send(ORGANISER, "/stats")
    [regions] = await bot.chat.press(ORGANISER, periods, "This year")
    [stats, _] = await bot.chat.press(ORGANISER, regions, "All regions")
    assert "Feedback: 4.5 of 5 (2 answers)" in stats.text
    assert "(4.5★)" in stats.text


async def test_who_was_there_when_someone_else_is_shown(bot: BotHarness, db: Database) -> None:
    event_id, members = await _meeting(db)
    # Karen is shown on the participant list; Sven and Jens are not.
    await participants.set_choice(
        db.unit_of_work(), members[KAREN], event_id, visible=True, now=STARTED
    )
    report = await _attendees(bot, event_id)
    await bot.chat.press(ORGANISER, report, "Send follow-up now")
    danish, swedish = (_delivered(r) for r in await outbox(db, "followup:"))
    # Sven may see the list and it shows someone else: the button, and a line saying so.
    assert swedish.button_texts == ["1", "2", "3", "4", "5", "Vilka var där"]
    assert "Vilka var där: se de deltagare som har valt att visas" in swedish.text
    # Karen would find only herself on it: no button.
    assert danish.button_texts == ["1", "2", "3", "4", "5"]
    assert "Hvem var der" not in danish.text

    [shown] = await bot.chat.press(SVEN, swedish, "Vilka var där")
    assert shown.text.startswith("Vilka var där")
    assert "Karen Jensen" in shown.text
    assert shown.button_texts == ["Be att bli presenterad för Karen Jensen"]
    # The same button pressed by someone who was not there (a forged copy) shows nobody.
    [refused] = await bot.chat.press(ORGANISER, swedish, "Vilka var där")
    assert "Karen Jensen" not in refused.text
    # Karen erases her data: the button Sven has stays harmless and shows nobody.
    await privacy.erase(db.unit_of_work(), members[KAREN], now=STARTED)
    [after] = await bot.chat.press(SVEN, swedish, "Vilka var där")
    assert after.text == "Ingen annan har valt att visas på den här listan."


async def test_forged_and_foreign_rating_presses_change_nothing(
    bot: BotHarness, db: Database
) -> None:
    event_id, members = await _meeting(db)
    await followup.send_now(db.unit_of_work(), await add_organiser(db, 8101), event_id, now=STARTED)
    [karen_row, _] = await outbox(db, "followup:")
    message = _delivered(karen_row)
    # Jens was going but not checked in: he was not asked, so his press does nothing.
    forged = dataclasses.replace(message, chat_id=JENS)
    assert await bot.chat.press(JENS, forged, "5") == []
    assert _answered(bot) == "That question was not for you."
    # Someone who never signed up.
    assert await bot.chat.press(8999, dataclasses.replace(message, chat_id=8999), "1") == []
    # Another event's id, and a rating out of range.
    other = dataclasses.replace(
        message, buttons=[{"text": "x", "callback_data": f"fb:{event_id + 1}:3"}]
    )
    assert await bot.chat.press(KAREN, other, "x") == []
    assert _answered(bot) == "Det spørgsmål var ikke til dig."  # Karen reads Danish
    async with db.unit_of_work() as uow:
        assert (await uow.session.scalars(select(EventFeedback))).all() == []
    assert await followup.rate(db.unit_of_work(), members[KAREN], event_id, 9, now=NOW) is None


async def test_before_the_start_there_is_no_button(bot: BotHarness, db: Database) -> None:
    event_id, _ = await _meeting(db, check_in=False)
    bot.clock.now = NOW
    report = await _attendees(bot, event_id)
    assert "Send follow-up now" not in report.button_texts
    forged = dataclasses.replace(
        report, buttons=[{"text": "x", "callback_data": f"oe:fu:{event_id}"}]
    )
    [refused] = await bot.chat.press(ORGANISER, forged, "x")
    assert refused.text == "The follow-up can go once the event has started."
    assert await outbox(db, "followup:") == []


async def test_scheduled_going_when_nobody_checked_in_and_erased_members(db: Database) -> None:
    event_id, members = await _meeting(db, check_in=False)
    await privacy.erase(db.unit_of_work(), members[SVEN], now=STARTED)
    end = END.astimezone(dt.UTC)
    delay = dt.timedelta(hours=2)
    assert await followup.queue_due(db.unit_of_work(), delay=delay, now=end + delay / 2) == 0
    assert await followup.queue_due(db.unit_of_work(), delay=None, now=end + delay) == 0
    # Nobody was checked in: those going get it, except the member who erased their data.
    assert await followup.queue_due(db.unit_of_work(), delay=delay, now=end + delay) == 2
    assert await followup.queue_due(db.unit_of_work(), delay=delay, now=end + 2 * delay) == 0
    assert sorted(r.member_id or 0 for r in await outbox(db, "followup:")) == sorted(
        [members[KAREN], members[JENS]]
    )
    # A member who erases their data before delivery gets nothing: the message is withdrawn.
    await privacy.erase(db.unit_of_work(), members[JENS], now=end + delay)
    assert [r.member_id for r in await outbox(db, "followup:")] == [members[KAREN]]
    # Long after (the feature was off, the bot was down for days): no late follow-up.
    later = await publish(db, title="Senere")
    assert later.id != event_id
    far = end + dt.timedelta(days=30)
    assert await followup.queue_due(db.unit_of_work(), delay=delay, now=far) == 0
