"""The programme and materials through the real Application: organisers write the programme and
add documents and links from the event card; members going or who came open them ("Materials")
and get documents re-sent by file id; others cannot, even with forged buttons; the programme
shows on the card and in the invitation's description."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from storage.events import attendance as event_attendance
from storage.uow import Database
from tests.support.botkit import BotHarness, Clock, SentMessage, start_bot, stop_bot
from tests.support.events_kit import (
    NOW,
    START,
    add_member,
    add_organiser,
    going,
    outbox,
    publish,
)

ORGANISER = 9100
KAREN = 9201  # going
LARS = 9202  # not going
INGRID = 9203  # came without answering (checked in)
PROGRAMME = (
    "13:00 Velkommen – Karen Jensen, Teknologisk Institut\n"
    "13:15 Korte oplæg\n"
    "15:00 Workshop – Åsa Lindström, Social Innovation Skåne"
)


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(NOW))
    yield harness
    await stop_bot(harness)


async def _open(bot: BotHarness, user: int, event_id: int) -> SentMessage:
    [card] = await bot.chat.send(user, f"/start event_{event_id}")
    return card


async def test_programme_and_materials(bot: BotHarness, db: Database) -> None:
    await add_organiser(db, ORGANISER)
    event = await publish(db)
    karen = await add_member(db, KAREN)
    await add_member(db, LARS)
    ingrid = await add_member(db, INGRID, language="sv")

    card = await _open(bot, ORGANISER, event.id)
    [empty] = await bot.chat.press(ORGANISER, card, "Materials")
    assert "There is no programme and there are no materials yet." in empty.text
    [ask] = await bot.chat.press(ORGANISER, empty, "Edit programme")
    assert ask.text.startswith("Send the programme, one item per line")
    [wrong] = await bot.chat.send(ORGANISER, "Velkommen kl. 13")
    assert wrong.text.startswith("I could not read line 1.")
    [saved, shown] = await bot.chat.send(ORGANISER, PROGRAMME)
    assert saved.text == "The programme is saved."
    assert "13:00 Velkommen (Karen Jensen, Teknologisk Institut)" in shown.text

    await bot.chat.press(ORGANISER, shown, "Add material")
    [added, shown] = await bot.chat.send_document(
        ORGANISER, file_id="doc-slides", file_name="slides.pdf", caption="1 Slides: velkomst"
    )
    assert added.text == "The material is added."
    assert "📄 Slides: velkomst (Velkommen)" in shown.text
    await bot.chat.press(ORGANISER, shown, "Add material")
    [added, shown] = await bot.chat.send(ORGANISER, "Deltagerliste https://example.org/deltagere")
    assert "🔗 Deltagerliste: https://example.org/deltagere" in shown.text

    # Karen answers going: her card shows the programme, and the invitation carries it.
    await going(db, karen, event.id)
    card = await _open(bot, KAREN, event.id)
    assert "Programme:\n13:00 Velkommen (Karen Jensen, Teknologisk Institut)\n13:15" in card.text
    [invite] = await outbox(db, f"invite:{event.id}:{karen}")
    description = invite.payload["calendar"]["description"]
    assert "Programme:\n13:00 Velkommen (Karen Jensen, Teknologisk Institut)" in description
    [materials] = await bot.chat.press(KAREN, card, "Materials")
    assert materials.button_texts == ["📄 Slides: velkomst"]
    [document] = await bot.chat.press(KAREN, materials, "📄 Slides: velkomst")
    call = bot.request.calls_of("sendDocument")[-1]
    assert call.params["document"] == "doc-slides"
    assert document.text == "Slides: velkomst"

    # Lars is not going: no button, and a forged one tells him why.
    card = await _open(bot, LARS, event.id)
    assert "Materials" not in card.button_texts
    slides = materials.button("📄 Slides: velkomst")["callback_data"]
    for data in (f"mt:prog:{event.id}", f"mt:add:{event.id}", slides):
        forged = dataclasses.replace(card, buttons=[{"text": "x", "callback_data": data}])
        [refused] = await bot.chat.press(LARS, forged, "x")
        assert refused.text == "The materials are for members going to the event or who came."
    [reply] = await bot.chat.send(LARS, "13:00 Mit program")
    assert reply.text == "Sorry, I did not understand that. Send /help to see what I can do."

    # Ingrid came without answering: checked in, she may open them too.
    await event_attendance.check_in_by_code(
        db.unit_of_work(), ingrid, event.checkin_code, now=START.astimezone(dt.UTC)
    )
    bot.clock.now = START.astimezone(dt.UTC) + dt.timedelta(hours=1)
    card = await _open(bot, INGRID, event.id)
    [materials] = await bot.chat.press(INGRID, card, "Material")
    assert materials.text.startswith("Program och material:")
