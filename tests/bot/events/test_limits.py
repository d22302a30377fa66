"""Cards built from member input stay within Telegram's limits (4,096 characters for a text):
at the limits of the input rules (a 200-character title, a 300-character place and a
4,000-character description), the description is cut with "…" and the full text is one step
away (the event page with ``SAMVIRKE_PUBLIC_URL``, otherwise "Show all")."""

from __future__ import annotations

import re

import pytest

from bot.ui.limits import CAPTION_LIMIT, TEXT_LIMIT, fit, pieces, shorten, telegram_length
from storage.events.rules import DESCRIPTION_MAX, LOCATION_MAX, TITLE_MAX
from storage.uow import Database
from tests.support.botkit import BotHarness, Clock, start_bot, stop_bot
from tests.support.events_kit import ADMIN, add_member, going, publish

KAREN = 3101
WORDS = "Socialøkonomi og kommunale indkøb i Region Midt – workshop og netværk 🤝 "
TITLE = ("Innovation på det sociale område – " * 10)[: TITLE_MAX - 1] + "!"
PLACE = ("Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C; " * 10)[:LOCATION_MAX]
DESCRIPTION = (WORDS * 100)[: DESCRIPTION_MAX - 3] + "END"


async def open_card(bot: BotHarness, db: Database) -> tuple[int, str, list[str]]:
    member = await add_member(db, KAREN)
    event = await publish(db, title=TITLE, location=PLACE, description=DESCRIPTION)
    await going(db, member, event.id)  # the answer line comes after the description
    [card] = await bot.chat.send(KAREN, f"/start event_{event.id}")
    return event.id, card.text, card.button_texts


async def test_a_card_at_the_input_limits_fits_and_offers_show_all(
    bot: BotHarness, db: Database
) -> None:
    event_id, text, buttons = await open_card(bot, db)
    assert telegram_length(text) <= TEXT_LIMIT
    assert text.startswith(f"📅 {TITLE}\n")  # the title and place stay whole
    assert PLACE in text
    assert "…\n\n✅" in text  # the description is cut, the member's answer stays
    assert "END" not in text
    assert buttons[0] == "Show all"

    [card] = [m for m in bot.request.messages.values() if m.text == text]
    parts = await bot.chat.press(KAREN, card, f"ev:full:{event_id}")
    assert all(telegram_length(p.text) <= TEXT_LIMIT for p in parts)
    assert len(parts) == 2
    whole = " ".join(p.text for p in parts)
    assert whole.endswith("END")
    assert " ".join(whole.split()) == " ".join(f"📅 {TITLE}\n\n{DESCRIPTION}".split())


async def test_with_a_public_url_the_card_links_to_the_event_page(
    db: Database, clock: Clock
) -> None:
    bot = await start_bot(db, clock, public_url="https://samvirke.example")
    try:
        event_id, text, buttons = await open_card(bot, db)
    finally:
        await stop_bot(bot)
    assert telegram_length(text) <= TEXT_LIMIT
    assert f"…\n\nRead it all: https://samvirke.example/events/{event_id}\n\n✅" in text
    assert "Show all" not in buttons


@pytest.mark.parametrize("limit", [TEXT_LIMIT, CAPTION_LIMIT])
def test_fit_keeps_the_fixed_parts_and_counts_like_telegram(limit: int) -> None:
    before, after = "📅 Title\n\n", "\n\n✅ You are going."
    text, cut = fit(before, "🤝" * limit, after, limit=limit)  # 🤝 counts two
    assert cut
    assert telegram_length(text) <= limit
    assert text.startswith(before)
    assert text.endswith("…" + after)
    assert fit(before, "short", after, limit=limit) == (before + "short" + after, False)


def test_shorten_cuts_at_a_word_near_the_end() -> None:
    assert shorten("one two three four five", 16) == "one two three…"
    assert shorten("abcdefghij", 5) == "abcd…"
    assert shorten("fits", 4) == "fits"


def test_pieces_split_a_long_text_at_spaces_within_the_limit() -> None:
    text = WORDS * 200
    parts = pieces(text, limit=1000)
    assert all(telegram_length(p) <= 1000 for p in parts)
    assert " ".join(parts).split() == text.split()


async def test_the_attendee_report_with_long_names_fits_and_counts_the_rest(
    db: Database,
) -> None:
    from bot.events.attendees import report_text
    from storage.events import attendance
    from templates.i18n import translator

    event = await publish(db, title=TITLE, capacity=None)
    for number in range(60):
        member = await add_member(
            db,
            40_000 + number,
            name=f"{number:02d} " + "Kjærsgaard-Østergaard " * 4,
            organisation="Socialøkonomisk Virksomhed og Partnerskab i Region Midtjylland " * 3,
        )
        await going(db, member, event.id)
    report = await attendance.attendees(db.unit_of_work(), ADMIN, event.id)

    text = report_text(translator("en"), report)

    assert telegram_length(text) <= TEXT_LIMIT
    shown = sum(1 for line in text.splitlines() if re.match(r"\d+\. \d\d Kjærsgaard", line))
    assert 0 < shown < 60
    assert f"… and {60 - shown} more: see the list." in text
