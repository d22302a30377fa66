"""Members and events through the real Application: /events (their region first, all regions,
paging), the event card with Going / Maybe / Can't go and Add to calendar, the waiting list,
deep links (also before signing up), /myevents, the RSVP deadline and check-in."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest

from storage.events import attendance as event_attendance
from storage.events import publishing as event_publishing
from storage.uow import Database
from tests.support.botkit import (
    BOT_USERNAME,
    BotHarness,
    SentMessage,
    find_member,
    record_filenames,
    sign_up_member,
    snapshot,
    verify_member,
)
from tests.support.events_kit import (
    ADMIN,
    NOW,
    PLACE,
    START,
    TITLE,
    add_member,
    going,
    outbox,
    outbox_keys,
    publish,
    region_id,
    statuses,
)

KAREN = 3001  # signs up for real (Region Midtjylland, English)
LARS = 3002
SIGNUP = "Once you are signed up, I will show you the event."
WHEN_EN = "Saturday, 20 February 2027, 13:00–17:00"


@pytest.fixture
async def karen(bot: BotHarness, db: Database) -> int:
    await sign_up_member(bot, KAREN, email="karen@example.dk")
    await verify_member(bot, db, KAREN)
    member = await find_member(db, KAREN)
    return int(member.id)


def toast(bot: BotHarness) -> str:
    return str(bot.request.calls_of("answerCallbackQuery")[-1].params.get("text", ""))


async def open_card(bot: BotHarness, user: int, event_id: int) -> SentMessage:
    [card] = await bot.chat.send(user, f"/start event_{event_id}")
    return card


# --- /events ------------------------------------------------------------------------------------


async def test_events_shows_my_region_first_and_all_regions_on_a_button(
    bot: BotHarness, db: Database, karen: int
) -> None:
    midt = await publish(db)
    await publish(db, title="Skåne-mødet", region_id=await region_id(db, "skane"))
    await publish(db, title="Hele netværket", region_id=None, location=None,
                  online_url="https://meet.example.org/alle")  # fmt: skip
    [listing] = await bot.chat.send(KAREN, "/events")
    # All of the list on one page: no "(1–2 / 2)" after the heading.
    assert listing.text.startswith("Upcoming events in Region Midtjylland\n\n1. ")
    assert TITLE in listing.text
    assert "Hele netværket" in listing.text
    assert "Skåne-mødet" not in listing.text
    assert "36 seats left" in listing.text
    # A long title is cut after a whole word, with "…" and no space before it.
    assert "1. Innovation på det sociale område – aktører i…" in listing.button_texts
    assert listing.button("1. Innovation på det sociale område – aktører i…")["callback_data"] == (
        f"ev:show:{midt.id}"
    )
    await bot.chat.press(KAREN, listing, "All regions")
    assert listing.text.startswith("Upcoming events in all regions\n\n1. ")
    assert "Skåne-mødet" in listing.text
    assert "Region Skåne" in listing.text
    await bot.chat.press(KAREN, listing, "Only my region")
    assert "Skåne-mødet" not in listing.text


async def test_many_events_are_paged(bot: BotHarness, db: Database, karen: int) -> None:
    base = START.astimezone(dt.UTC)
    for day in range(7):
        start = base + dt.timedelta(days=day)
        await publish(
            db, title=f"Møde {day}", starts_at=start, ends_at=start + dt.timedelta(hours=2)
        )
    [listing] = await bot.chat.send(KAREN, "/events")
    assert "(1–5 / 7)" in listing.text
    assert [t for t in listing.button_texts if t[0].isdigit()] == [
        f"{n + 1}. Møde {n}" for n in range(5)
    ]
    assert "‹ Previous" not in listing.button_texts
    await bot.chat.press(KAREN, listing, "Next ›")
    assert "(6–7 / 7)" in listing.text
    assert [t for t in listing.button_texts if t[0].isdigit()] == ["6. Møde 5", "7. Møde 6"]
    assert "Next ›" not in listing.button_texts
    await bot.chat.press(KAREN, listing, "‹ Previous")
    assert "(1–5 / 7)" in listing.text

    for day in range(7, 11):
        start = base + dt.timedelta(days=day)
        await publish(
            db, title=f"Møde {day}", starts_at=start, ends_at=start + dt.timedelta(hours=2)
        )
    [listing] = await bot.chat.send(KAREN, "/events")
    await bot.chat.press(KAREN, listing, "Next ›")
    await bot.chat.press(KAREN, listing, "Next ›")
    assert "(11 / 11)" in listing.text  # one event on the last page, not "(11–11 / 11)"


async def test_no_events_yet(bot: BotHarness, karen: int) -> None:
    [listing] = await bot.chat.send(KAREN, "/events")
    assert listing.text == "There are no upcoming events in your region at the moment."
    assert listing.button_texts == ["All regions"]


async def test_someone_not_signed_up_is_asked_to_sign_up(bot: BotHarness, db: Database) -> None:
    await publish(db)
    bot.chat.user(4242, "Nils", None, language_code="en")
    [reply] = await bot.chat.send(4242, "/events")
    assert reply.text == "Please sign up first: send /start."


# --- the card and answers ----------------------------------------------------------------------


async def test_going_maybe_and_cant_go_from_the_card(
    bot: BotHarness, db: Database, karen: int
) -> None:
    event = await publish(db)
    [listing] = await bot.chat.send(KAREN, "/events")
    [card] = await bot.chat.press(KAREN, listing, f"ev:show:{event.id}")
    assert card.text.splitlines()[:5] == [
        f"📅 {TITLE}",
        WHEN_EN,
        f"Place: {PLACE}",
        "Region: Region Midtjylland",
        "36 seats left",
    ]
    assert "Programme" not in card.text
    assert "korte oplæg" in card.text
    assert card.button_texts == [
        "Going",
        "Maybe",
        "Can't go",
        "Add to calendar",
        "« Upcoming events",
    ]

    await bot.chat.press(KAREN, card, "Going")
    assert toast(bot) == "You are going! A calendar invitation is on its way by e-mail."
    assert card.text.endswith("✅ You are going.")
    assert "35 seats left" in card.text
    assert card.button_texts[:3] == ["✅ Going", "Maybe", "Can't go"]
    assert await outbox_keys(db, "invite") == [f"invite:{event.id}:{karen}:0"]

    edits = len(bot.request.calls_of("editMessageText"))
    await bot.chat.press(KAREN, snapshot(card), f"ev:rsvp:{event.id}:g")
    assert toast(bot) == "That is already your answer."
    assert len(bot.request.calls_of("editMessageText")) == edits  # nothing redrawn
    assert await outbox_keys(db, "invite") == [f"invite:{event.id}:{karen}:0"]  # nothing resent

    await bot.chat.press(KAREN, card, "Maybe")
    assert toast(bot) == "Noted: maybe."
    assert card.text.endswith("🤔 You answered maybe.")
    assert "36 seats left" in card.text
    assert card.button_texts[:3] == ["Going", "🤔 Maybe", "Can't go"]
    await bot.chat.press(KAREN, card, "Can't go")
    assert card.text.endswith("🚫 You can't go.")
    assert card.button_texts[:3] == ["Going", "Maybe", "🚫 Can't go"]
    assert await outbox_keys(db, "invite") == [
        f"invite:{event.id}:{karen}:0",
        f"invite-cancel:{event.id}:{karen}:1",
    ]


async def test_a_full_event_waits_and_the_first_waiting_gets_the_freed_seat(
    bot: BotHarness, db: Database, karen: int
) -> None:
    event = await publish(db, capacity=1)
    lars = await add_member(db, LARS, name="Lars Holm", language="da")
    await going(db, lars, event.id)
    card = await open_card(bot, KAREN, event.id)
    assert "Full: press Join the waiting list to get the next free seat" in card.text
    assert card.button_texts[0] == "Join the waiting list"
    await bot.chat.press(KAREN, card, "Join the waiting list")
    assert toast(bot) == (
        "The event is full: you are number 1 on the waiting list. We will tell you if a seat "
        "becomes free."
    )
    assert card.text.endswith("⏳ The event is full: you are number 1 on the waiting list.")
    assert card.button_texts[0] == "⏳ Waiting list: number 1"
    assert "Full: 1 on the waiting list" in card.text
    assert await outbox_keys(db, f"invite:{event.id}:{karen}") == []

    [myevents] = await bot.chat.send(KAREN, "/myevents")
    assert "number 1 on the waiting list" in myevents.text

    # Lars cannot come after all: Karen gets his seat, a Telegram notice and an invite.
    lars_card = await open_card(bot, LARS, event.id)
    await bot.chat.press(LARS, lars_card, f"ev:rsvp:{event.id}:n")
    assert await statuses(db, event.id) == {lars: "not_going", karen: "going"}
    [notice] = await outbox(db, "promoted:")
    assert notice.payload["chat_id"] == KAREN
    assert notice.payload["text"].startswith(
        f"Good news: a seat has become free at “{TITLE}” ({WHEN_EN}), and it is yours."
    )
    assert "A calendar invitation is on its way to karen@example.dk." in notice.payload["text"]
    assert await outbox_keys(db, f"invite:{event.id}:{karen}") == [f"invite:{event.id}:{karen}:0"]
    [myevents] = await bot.chat.send(KAREN, "/myevents")
    assert "✅ You are going." in myevents.text
    # The notice's button opens the event.
    assert notice.payload["buttons"][0][0]["callback_data"] == f"ev:show:{event.id}"


async def test_the_member_who_took_the_last_seat_is_not_asked_to_join_the_waiting_list(
    bot: BotHarness, db: Database, karen: int
) -> None:
    event = await publish(db, capacity=1)
    card = await open_card(bot, KAREN, event.id)
    assert "1 seat left" in card.text
    await bot.chat.press(KAREN, card, "Going")
    lines = card.text.splitlines()
    assert "Full" in lines
    assert "waiting list" not in card.text
    assert lines[-1] == "✅ You are going."
    assert card.button_texts[:3] == ["✅ Going", "Maybe", "Can't go"]
    # In /events the full event reads Full, with no button to press there.
    [listing] = await bot.chat.send(KAREN, "/events")
    assert " · Full" in listing.text


async def test_each_answer_has_its_own_mark_in_danish_and_swedish(
    bot: BotHarness, db: Database
) -> None:
    event = await publish(db, capacity=1)
    await going(db, await add_member(db, LARS, name="Lars Holm"), event.id)
    for user, language, waiting, line, maybe, cant in [
        (3011, "da", "⏳ Venteliste: nummer 1", "nummer 1 på ventelisten", "🤔 Måske",
         "🚫 Kan ikke"),
        (3012, "sv", "⏳ Väntelista: nummer 1", "nummer 1 på väntelistan", "🤔 Kanske",
         "🚫 Kan inte"),
    ]:  # fmt: skip
        await add_member(db, user, name="Sofie Berg", language=language)
        bot.chat.user(user, "Sofie", None, language_code=language)
        card = await open_card(bot, user, event.id)
        await bot.chat.press(user, card, f"ev:rsvp:{event.id}:g")
        assert card.button_texts[0] == waiting, language
        assert line in card.text
        await bot.chat.press(user, card, f"ev:rsvp:{event.id}:m")
        assert card.button_texts[1] == maybe
        await bot.chat.press(user, card, f"ev:rsvp:{event.id}:n")
        assert card.button_texts[2] == cant
        assert card.text.splitlines()[-1].startswith("🚫 ")


async def test_add_to_calendar_sends_an_ics_file(bot: BotHarness, db: Database, karen: int) -> None:
    event = await publish(db)
    card = await open_card(bot, KAREN, event.id)
    names = record_filenames(bot.request)
    [document] = await bot.chat.press(KAREN, card, "Add to calendar")
    assert names == ["innovation-paa-det-sociale-omraade-aktoerer-i-region-midt.ics"]
    assert document.text == f"Open the file to add “{TITLE}” to your calendar."
    assert document.document is not None
    cal = icalendar.Calendar.from_ical(document.document)
    assert cal["METHOD"] == "PUBLISH"
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["UID"]) == event.uid
    assert vevent["SUMMARY"] == TITLE
    assert vevent["LOCATION"] == PLACE
    assert vevent["URL"] == f"https://t.me/{BOT_USERNAME}?start=event_{event.id}"
    assert vevent.decoded("DTSTART").astimezone(dt.UTC) == START.astimezone(dt.UTC)
    assert [t["TZID"] for t in cal.walk("VTIMEZONE")] == ["Europe/Copenhagen"]


async def test_answers_close_at_the_deadline(bot: BotHarness, db: Database, karen: int) -> None:
    deadline = NOW + dt.timedelta(days=10)
    event = await publish(db, rsvp_deadline=deadline)
    card = await open_card(bot, KAREN, event.id)
    assert "Answer by Saturday, 5 December 2026 13:00" in card.text
    bot.clock.advance(days=11)
    [reply] = await bot.chat.press(KAREN, card, "Going")
    assert reply.text == "The deadline for answering has passed, so answers are closed."
    assert await statuses(db, event.id) == {}
    late_card = await open_card(bot, KAREN, event.id)
    # No answer buttons any more.
    assert late_card.button_texts == ["Add to calendar", "« Upcoming events"]


async def test_add_to_calendar_on_an_old_card_of_a_cancelled_event(
    bot: BotHarness, db: Database, karen: int
) -> None:
    event = await publish(db)
    card = await open_card(bot, KAREN, event.id)
    await event_publishing.cancel(db.unit_of_work(), ADMIN, event.id, message=None, now=NOW)
    names = record_filenames(bot.request)
    [reply] = await bot.chat.press(KAREN, card, "Add to calendar")
    assert names == []
    assert reply.document is None
    assert reply.text == (
        f"“{TITLE}” has been cancelled, so there is nothing to add to your calendar."
    )


async def test_a_danish_member_reads_dates_in_danish(bot: BotHarness, db: Database) -> None:
    await sign_up_member(bot, 3003, language_code="da", email="soeren@example.dk")
    event = await publish(db)
    card = await open_card(bot, 3003, event.id)
    assert "lørdag den 20. februar 2027, 13:00–17:00" in card.text


# --- deep links ---------------------------------------------------------------------------------


async def test_a_deep_link_opens_the_event(bot: BotHarness, db: Database, karen: int) -> None:
    event = await publish(db)
    card = await open_card(bot, KAREN, event.id)
    assert card.text.startswith(f"📅 {TITLE}")
    [unknown] = await bot.chat.send(KAREN, "/start event_999")
    assert unknown.text == "Sorry, I cannot find that event. Send /events to see the upcoming ones."
    await event_publishing.cancel(
        db.unit_of_work(), ADMIN, event.id, message="Vi ses til foråret.", now=NOW
    )
    [cancelled] = await bot.chat.send(KAREN, f"/start event_{event.id}")
    assert cancelled.text == (
        f"Sorry, “{TITLE}” has been cancelled.\n\n"
        "Message from the organisers: Vi ses til foråret.\n\n"
        "Send /events to see the upcoming ones."
    )
    [menu] = await bot.chat.send(KAREN, "/start")
    assert menu.text.startswith("Welcome back")


async def test_a_deep_link_before_signing_up_shows_the_event_afterwards(
    bot: BotHarness, db: Database
) -> None:
    event = await publish(db)
    chat = bot.chat
    chat.user(LARS, "Lars", "Holm", language_code="en")
    replies = await chat.send(LARS, f"/start event_{event.id}")
    assert SIGNUP in replies[0].text
    replies = await chat.press(LARS, replies[-1], "su:name")
    replies = await chat.send(LARS, "lars@example.dk")
    replies = await chat.send(LARS, "Aarhus Kommune")
    replies = await chat.press(LARS, replies[-1], "su:sector:public")
    replies = await chat.press(LARS, replies[-1], "Region Midtjylland")
    replies = await chat.press(LARS, replies[-1], "su:consent:yes")
    assert replies[0].text.startswith("Thank you, Lars Holm, you are signed up!")
    card = replies[-1]
    assert card.text.startswith(f"📅 {TITLE}")
    assert card.button_texts[:3] == ["Going", "Maybe", "Can't go"]
    await chat.press(LARS, card, "Going")
    member = await find_member(bot.services.db, LARS)
    assert await statuses(db, event.id) == {member.id: "going"}
    # No invite until the address is confirmed.
    assert await outbox_keys(db, "invite") == []


# --- check-in --------------------------------------------------------------------------------


async def test_check_in_with_the_code_or_its_link(
    bot: BotHarness, db: Database, karen: int
) -> None:
    event = await publish(db)
    lars = await add_member(db, LARS)
    [early] = await bot.chat.send(KAREN, event.checkin_code)
    assert early.text == "Check-in opens two hours before the event starts."
    bot.clock.now = START.astimezone(dt.UTC) - dt.timedelta(minutes=30)
    typed = event.checkin_code.lower()[:3] + " " + event.checkin_code.lower()[3:]
    [welcome] = await bot.chat.send(KAREN, typed)
    assert welcome.text == f"Welcome to “{TITLE}”! You are checked in."
    [again] = await bot.chat.send(KAREN, event.checkin_code)
    assert again.text == f"You were already checked in at “{TITLE}”."
    [linked] = await bot.chat.send(LARS, f"/start checkin_{event.checkin_code}")
    assert linked.text == f"Welcome to “{TITLE}”! You are checked in."
    report = await event_attendance.attendees(db.unit_of_work(), ADMIN, event.id)
    assert report.checked_in == 2
    assert lars in [a.member_id for a in report.attendees]
    [wrong] = await bot.chat.send(KAREN, "ZZZ234")
    assert wrong.text == "I do not know that check-in code. Please check it and try again."
    # Six letters are a word, not a code: the usual answer.
    [word] = await bot.chat.send(KAREN, "thanks")
    assert word.text == "Sorry, I did not understand that. Send /help to see what I can do."


async def test_the_menu_has_events(bot: BotHarness, db: Database, karen: int) -> None:
    await publish(db)
    [menu] = await bot.chat.send(KAREN, "/start")
    assert menu.button_texts[:2] == ["Events", "My events"]
    [listing] = await bot.chat.press(KAREN, menu, "Events")
    assert TITLE in listing.text
    [mine] = await bot.chat.press(KAREN, menu, "My events")
    assert mine.text == "You have not answered any upcoming event yet. Send /events to see them."
