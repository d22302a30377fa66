"""Organisers and events through the real Application: /newevent step by step (dates echoed
back, mistakes explained, the draft surviving a restart, a preview, Publish), editing and
cancelling a published event, /attendees with the participant list and check-in, the QR code,
and /stats."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest
from sqlalchemy import select

from storage.events import attendance as event_attendance
from storage.events import publishing as event_publishing
from storage.events import views as events
from storage.models import Event
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BOT_USERNAME,
    BotHarness,
    Clock,
    SentMessage,
    asked_again,
    find_member,
    record_filenames,
    sign_up_member,
    start_bot,
    stop_bot,
    verify_member,
)
from tests.support.events_kit import (
    ADMIN,
    CPH,
    NOW,
    PLACE,
    START,
    TITLE,
    add_member,
    add_organiser,
    going,
    outbox,
    publish,
    region_id,
)

ANNE = ADMIN_ID  # administrator, so organiser for all regions
ORGANISERS_ONLY = "Sorry, that is for the network's organisers."
WALK_IN = "➕ Check in someone not on the list"
# The examples are for a day three weeks after today (NOW: 25 November 2026).
ASK_WHEN = (
    "When is it? Type the date and the time, for example 16.12.2026 13:00-17:00, 16/12 13-17 "
    "or 16 December 2026 13-17."
)
ASK_END = "When does it end? Type a time (for example 17:00) or a date and a time."
ASK_PLACE = "Where is it? Type the address, an online link (https://…), or both in one message."
ASK_CAPACITY = "How many seats are there? Type a number, or press No limit."


@pytest.fixture
async def anne(bot: BotHarness, db: Database) -> None:
    await sign_up_member(
        bot, ANNE, first_name="Anne", last_name="Admin", email="anne@example.dk",
        organisation="Sociale Entreprenører i Danmark",
    )  # fmt: skip
    await verify_member(bot, db, ANNE)


async def saved_events(db: Database) -> list[Event]:
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(Event).order_by(Event.id))).all()
        uow.session.expunge_all()
        return list(rows)


async def draft_until_preview(bot: BotHarness) -> SentMessage:
    chat = bot.chat
    await chat.send(ANNE, "/newevent")
    await chat.send(ANNE, TITLE)
    await chat.send(ANNE, "Gratis. Korte oplæg, derefter workshop.")
    [ask_end] = await chat.send(ANNE, "20 februar 2027 kl. 13")
    assert ask_end.text == ASK_END
    [confirm] = await chat.send(ANNE, "17")
    await chat.press(ANNE, confirm, "Yes, that is right")
    [regions] = await chat.send(ANNE, PLACE)
    await chat.press(ANNE, regions, "Region Midtjylland")
    await chat.send(ANNE, "36")
    [deadline] = bot.request.sent_to(ANNE)[-1:]
    [preview] = await chat.press(ANNE, deadline, "No deadline")
    return preview


# --- /newevent ----------------------------------------------------------------------------------


async def test_an_organiser_creates_and_publishes_the_example_meeting(
    bot: BotHarness, db: Database, anne: None
) -> None:
    chat = bot.chat
    [ask_title] = await chat.send(ANNE, "/newevent")
    assert ask_title.text == (
        "Let us create an event. I will show you a preview first.\n\n"
        "What is the title of the event?\nSend /cancel to stop."
    )
    [ask_description] = await chat.send(ANNE, TITLE)
    assert ask_description.button_texts == ["Skip"]
    [ask_when] = await chat.send(ANNE, "Gratis. Korte oplæg, derefter workshop.")
    assert ask_when.text == ASK_WHEN
    [confirm] = await chat.send(ANNE, "20 februar 2027 kl. 13-17")
    assert confirm.text == (
        "I read that as: Saturday, 20 February 2027, 13:00–17:00. Is that right?"
    )
    assert confirm.button_texts == ["Yes, that is right", "No, type it again"]
    [ask_place] = await chat.press(ANNE, confirm, "Yes, that is right")
    assert ask_place.text == ASK_PLACE
    [ask_region] = await chat.send(ANNE, PLACE)
    assert "Region Midtjylland" in ask_region.button_texts
    assert ask_region.button_texts[-1] == "All regions (the whole network)"
    [ask_capacity] = await chat.press(ANNE, ask_region, "Region Midtjylland")
    assert ask_capacity.text == ASK_CAPACITY
    [ask_deadline] = await chat.send(ANNE, "36")
    assert ask_deadline.button_texts == ["No deadline"]
    # The example is a deadline that would be accepted: two days before this event, at noon.
    assert ask_deadline.text == (
        "Until when can members answer? Type a date (and a time), for example 18.2.2027 12:00, "
        "or press No deadline: then until the event starts."
    )
    [preview] = await chat.send(ANNE, "1.2.2027 12:00")
    assert preview.text.splitlines() == [
        "Preview:",
        "",
        f"📅 {TITLE}",
        "Saturday, 20 February 2027, 13:00–17:00",
        f"Place: {PLACE}",
        "Region: Region Midtjylland",
        "Seats: 36",
        "Answer by Monday, 1 February 2027 12:00",
        "",
        "Gratis. Korte oplæg, derefter workshop.",
        "",
        "A programme is optional: add it with Change something.",
    ]
    assert preview.button_texts == ["Publish", "Change something", "Discard the draft"]
    assert await saved_events(db) == []  # nothing is published before Publish
    # The optional programme, from the preview.
    [fields] = await chat.press(ANNE, preview, "Change something")
    [ask] = await chat.press(ANNE, fields, "Programme (optional)")
    assert ask.text.startswith("Send the programme, one item per line")
    [again] = await chat.send(ANNE, "Velkommen")
    assert again.text == asked_again(
        "I could not read line 1. Please type each item like 13:00 Welcome – Karen Jensen, "
        "Teknologisk Institut.",
        ask.text,
    )
    [preview] = await chat.send(
        ANNE, "13:00 Velkommen – Karen Jensen, Teknologisk Institut\n13:15 Korte oplæg"
    )
    assert preview.text.splitlines()[-3:] == [
        "Programme:", "13:00 Velkommen (Karen Jensen, Teknologisk Institut)", "13:15 Korte oplæg",
    ]  # fmt: skip

    [published, card] = await chat.press(ANNE, preview, "Publish")
    [event] = await saved_events(db)
    assert published.text == (
        "Published! Members can find it with /events.\n"
        f"Share this link to invite people: https://t.me/{BOT_USERNAME}?start=event_{event.id}"
    )
    assert (event.title, event.location, event.capacity) == (TITLE, PLACE, 36)
    assert event.starts_at == START.astimezone(dt.UTC)
    assert event.ends_at.astimezone(CPH).hour == 17
    assert event.rsvp_deadline == dt.datetime(2027, 2, 1, 11, 0, tzinfo=dt.UTC)
    assert event.region_id == await region_id(db)
    assert event.timezone == "Europe/Copenhagen"
    assert card.text.startswith(f"📅 {TITLE}")
    assert "Programme:\n13:00 Velkommen (Karen Jensen, Teknologisk Institut)" in card.text
    assert card.button_texts == [
        "Going", "Maybe", "Can't go", "Add to calendar", "Materials",
        "Attendees", "Check-in code", "Edit", "Cancel event", "« Upcoming events",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "explanation"),
    [
        ("1.1.2020 10:00-12:00", "That time has passed. Please choose a time in the future."),
        ("3/12 17-13", "The end must be after the start."),
        ("next thursday", "I could not read that date. Please type it as shown below."),
        ("31.2.2027 13-17", "That date does not exist. Please check the day and the month."),
        ("3.12.2026", "Please add the time, as shown below."),
    ],
)  # fmt: skip
async def test_dates_that_cannot_be_right_are_explained_and_asked_again(
    bot: BotHarness, anne: None, typed: str, explanation: str
) -> None:
    chat = bot.chat
    await chat.send(ANNE, "/newevent")
    await chat.send(ANNE, TITLE)
    await chat.send(ANNE, "x")
    replies = await chat.send(ANNE, typed)
    assert [r.text for r in replies] == [asked_again(explanation, ASK_WHEN)]


async def test_type_the_time_again_and_wrong_answers_elsewhere(bot: BotHarness, anne: None) -> None:
    chat = bot.chat
    await chat.send(ANNE, "/newevent")
    await chat.send(ANNE, TITLE)
    [ask_when] = await chat.press(ANNE, bot.request.sent_to(ANNE)[-1], "Skip")
    assert ask_when.text == ASK_WHEN
    [confirm] = await chat.send(ANNE, "3/12 13-17")
    [again] = await chat.press(ANNE, confirm, "No, type it again")
    assert again.text == ASK_WHEN
    [confirm] = await chat.send(ANNE, "4/12 13-17")
    [again] = await chat.send(ANNE, "yes")  # a button is expected
    assert again.text == asked_again("Please choose one of the buttons.", confirm.text)
    assert again.button_texts == confirm.button_texts
    await chat.press(ANNE, again, "Yes, that is right")
    replies = await chat.send(ANNE, "   ")
    assert [r.text for r in replies] == [
        asked_again("Please type an address or an online link.", ASK_PLACE)
    ]
    [ask_region] = await chat.send(ANNE, "https://meet.example.org/midt")
    [ask_capacity] = await chat.press(ANNE, ask_region, "All regions (the whole network)")
    assert ask_capacity.text == ASK_CAPACITY
    replies = await chat.send(ANNE, "mange")
    assert [r.text for r in replies] == [
        asked_again(
            "Please type a number of seats from 1 to 100000, or press No limit.", ASK_CAPACITY
        )
    ]
    [ask_deadline] = await chat.press(ANNE, replies[-1], "No limit")
    assert ask_deadline.button_texts == ["No deadline"]
    replies = await chat.send(ANNE, "10.12.2026")
    assert [r.text for r in replies] == [
        asked_again("The RSVP deadline must be before the event starts.", ask_deadline.text)
    ]
    [preview] = await chat.press(ANNE, replies[-1], "No deadline")
    assert "Online: https://meet.example.org/midt" in preview.text
    assert "Region: All regions" in preview.text
    assert "Seats: no limit" in preview.text


async def test_the_draft_survives_a_restart(db: Database) -> None:
    before = await start_bot(db, Clock(NOW))
    try:
        await sign_up_member(before, ANNE, first_name="Anne", last_name="Admin")
        await before.chat.send(ANNE, "/newevent")
        await before.chat.send(ANNE, TITLE)
        await before.chat.send(ANNE, "Gratis.")
    finally:
        await stop_bot(before)

    after = await start_bot(db, Clock(NOW))  # a new process: the draft comes from the database
    try:
        after.chat.user(ANNE, "Anne", "Admin", language_code="en")
        [confirm] = await after.chat.send(ANNE, "20/2 13-17")  # the question it was at
        assert confirm.text.startswith("I read that as: Saturday, 20 February 2027, 13:00–17:00")
        await after.chat.press(ANNE, confirm, "Yes, that is right")
        [regions] = await after.chat.send(ANNE, PLACE)
        await after.chat.press(ANNE, regions, "Region Midtjylland")
        [ask_deadline] = await after.chat.send(ANNE, "36")
        [preview] = await after.chat.press(ANNE, ask_deadline, "No deadline")
        assert f"📅 {TITLE}" in preview.text
        assert "Gratis." in preview.text
        await after.chat.press(ANNE, preview, "Publish")
    finally:
        await stop_bot(after)
    assert [e.title for e in await saved_events(db)] == [TITLE]


async def test_change_an_answer_from_the_preview(bot: BotHarness, anne: None) -> None:
    preview = await draft_until_preview(bot)
    [fields] = await bot.chat.press(ANNE, preview, "Change something")
    assert fields.button_texts == [
        "Title", "Description", "Time", "Place", "Region", "Seats", "Answer deadline",
        "Programme (optional)",
    ]  # fmt: skip
    [ask] = await bot.chat.press(ANNE, fields, "Seats")
    assert ask.text == ASK_CAPACITY
    [preview] = await bot.chat.send(ANNE, "40")
    assert "Seats: 40" in preview.text
    [discarded] = await bot.chat.press(ANNE, preview, "Discard the draft")
    assert discarded.text == "The draft is discarded. Nothing was published."


async def test_members_cannot_create_events(bot: BotHarness, db: Database) -> None:
    await sign_up_member(bot, 4001, email="lars@example.dk")
    [reply] = await bot.chat.send(4001, "/newevent")
    assert reply.text == ORGANISERS_ONLY
    [reply] = await bot.chat.send(4001, "/attendees")
    assert reply.text == ORGANISERS_ONLY
    [reply] = await bot.chat.send(4001, "/stats")
    assert reply.text == ORGANISERS_ONLY


async def test_a_regional_organiser_publishes_in_their_region_only(
    bot: BotHarness, db: Database
) -> None:
    await add_organiser(db, 4002, organiser_region="skane", language="sv")
    bot.chat.user(4002, "Ingrid", "Öberg", language_code="sv")
    await bot.chat.send(4002, "/newevent")
    await bot.chat.send(4002, "Skånemötet")
    await bot.chat.send(4002, "x")
    [confirm] = await bot.chat.send(4002, "20 februari 2027 kl 13-17")
    assert "lördag 20 februari 2027, 13:00–17:00" in confirm.text
    await bot.chat.press(4002, confirm, "ne:when:ok")
    [regions] = await bot.chat.send(4002, "Malmö")
    assert regions.button_texts == ["Region Skåne"]


# --- editing and cancelling -------------------------------------------------------------------


async def test_a_new_time_is_announced_to_those_going(
    bot: BotHarness, db: Database, anne: None
) -> None:
    event = await publish(db)
    karen = await add_member(db, 4101, language="da")
    await going(db, karen, event.id)
    [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
    [fields] = await bot.chat.press(ANNE, card, "Edit")
    assert fields.text == f"What do you want to change in “{TITLE}”?\nSend /cancel to stop."
    [ask] = await bot.chat.press(ANNE, fields, "Time")
    assert ask.text == ASK_WHEN
    [confirm] = await bot.chat.send(ANNE, "27 februar 2027 kl. 13-17")
    assert "Saturday, 27 February 2027, 13:00–17:00" in confirm.text
    [saved, new_card] = await bot.chat.press(ANNE, confirm, "Yes, that is right")
    assert saved.text == "Saved. 1 member is told about the change."
    assert "Saturday, 27 February 2027, 13:00–17:00" in new_card.text
    [notice] = await outbox(db, "event-changed:")
    assert notice.payload["chat_id"] == 4101
    assert "lørdag den 27. februar 2027, 13:00–17:00" in notice.payload["text"]
    [update] = await outbox(db, f"invite:{event.id}:{karen}:1")
    assert update.payload["calendar"]["sequence"] == 1


async def test_edit_title_seats_and_deadline(bot: BotHarness, db: Database, anne: None) -> None:
    event = await publish(db, capacity=1)
    a, b = await add_member(db, 4201), await add_member(db, 4202)
    await going(db, a, event.id)
    await going(db, b, event.id)  # waiting
    for field, value, expected in [
        ("Seats", "2", "Saved. 1 member got a seat from the waiting list."),
        ("Title", "Netværksmøde i Aarhus", "Saved. 2 members are told about the change."),
        ("Answer deadline", "1.2.2027", "Saved."),
    ]:
        [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
        [fields] = await bot.chat.press(ANNE, card, "Edit")
        [ask] = await bot.chat.press(ANNE, fields, field)
        if field == "Answer deadline":  # the example is for this event, as in /newevent
            assert ask.text == (
                "Until when can members answer? Type a date (and a time), for example "
                "18.2.2027 12:00, or press No deadline: then until the event starts."
            )
        [saved, _card] = await bot.chat.send(ANNE, value)
        assert saved.text == expected
    view = await events.get(db.unit_of_work(), event.id)
    assert (view.title, view.capacity, view.going) == ("Netværksmøde i Aarhus", 2, 2)
    assert view.rsvp_deadline == dt.datetime(2027, 2, 1, 22, 59, tzinfo=dt.UTC)
    [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
    [fields] = await bot.chat.press(ANNE, card, "Edit")
    await bot.chat.press(ANNE, fields, "Seats")
    replies = await bot.chat.send(ANNE, "1")
    assert [r.text for r in replies] == [
        asked_again(
            "2 members are already going: the number of seats cannot be lower than that.",
            ASK_CAPACITY,
        )
    ]
    [stopped] = await bot.chat.send(ANNE, "/cancel")
    assert stopped.text == "Nothing changed."


async def test_an_organiser_on_the_waiting_list_keeps_their_place_on_the_card_after_an_edit(
    bot: BotHarness, db: Database, anne: None
) -> None:
    event = await publish(db, capacity=1)
    await going(db, await add_member(db, 4211), event.id)
    [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
    await bot.chat.press(ANNE, card, "Join the waiting list")
    line = "⏳ The event is full: you are number 1 on the waiting list."
    assert card.text.endswith(line)
    [fields] = await bot.chat.press(ANNE, card, "Edit")
    await bot.chat.press(ANNE, fields, "Title")
    [_saved, edited] = await bot.chat.send(ANNE, "Netværksmøde i Aarhus")
    assert edited.text.startswith("📅 Netværksmøde i Aarhus")
    assert edited.text.endswith(line)
    assert edited.button_texts[0] == "⏳ Waiting list: number 1"


async def test_cancelling_with_a_message(bot: BotHarness, db: Database, anne: None) -> None:
    event = await publish(db)
    karen = await add_member(db, 4301)
    await going(db, karen, event.id)
    [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
    [ask] = await bot.chat.press(ANNE, card, "Cancel event")
    assert ask.button_texts == ["Without a message"]
    [confirm] = await bot.chat.send(ANNE, "Vi holder mødet til foråret i stedet.")
    assert confirm.button_texts == ["Yes, cancel the event", "No, keep it"]
    [done] = await bot.chat.press(ANNE, confirm, "Yes, cancel the event")
    assert done.text == f"“{TITLE}” is cancelled. 1 member is told."
    [notice] = await outbox(db, "event-cancelled:")
    assert "Vi holder mødet til foråret i stedet." in notice.payload["text"]
    assert [r.key for r in await outbox(db, "invite-cancel:")] == [
        f"invite-cancel:{event.id}:{karen}:1"
    ]
    [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
    assert "❌ This event has been cancelled." in card.text
    # no check-in at a cancelled event
    assert card.button_texts == ["Attendees", "« Upcoming events"]
    [choose] = await bot.chat.send(ANNE, "/attendees")
    assert choose.button_texts[0].startswith("❌ Cancelled: ")
    [report] = await bot.chat.press(ANNE, choose, choose.button_texts[0])
    assert "❌ This event has been cancelled." in report.text
    assert report.button_texts == ["Participant list (CSV)"]
    # Buttons on a message from before the cancellation no longer offer a check-in.
    for data in (f"oe:qr:{event.id}", f"oe:ck:{event.id}:0"):
        report.buttons.append({"text": data, "callback_data": data})
        [reply] = await bot.chat.press(ANNE, report, data)
        assert reply.text == f"“{TITLE}” has been cancelled: there is no check-in for it."
    assert bot.request.calls_of("sendPhoto") == []


async def test_an_organiser_for_another_region_cannot_edit(bot: BotHarness, db: Database) -> None:
    event = await publish(db)
    await add_organiser(db, 4401, organiser_region="skane")
    bot.chat.user(4401, "Ingrid", None, language_code="en")
    [card] = await bot.chat.send(4401, f"/start event_{event.id}")
    assert "Edit" not in card.button_texts  # not offered
    card.buttons.append({"text": "Edit", "callback_data": f"oe:edit:{event.id}"})
    [reply] = await bot.chat.press(4401, card, "Edit")  # an old or forged button
    assert reply.text == "Sorry, you organise events for another region."


# --- /attendees, check-in, /stats -------------------------------------------------------------


async def test_attendees_counts_list_and_participant_csv(
    bot: BotHarness, db: Database, anne: None
) -> None:
    event = await publish(db, capacity=2)
    karen = await add_member(db, 4501, name="Karen Jensen", organisation="Teknologisk Institut",
                             sector="academia")  # fmt: skip
    await add_member(db, 4502, name="=Lars Holm", sector="public", region="hovedstaden")
    for user in (4501, 4502):
        member = await find_member(db, user)
        await going(db, member.id, event.id)
    await going(db, await add_member(db, 4503, name="Ingrid Öberg"), event.id)  # waiting
    bot.clock.now = START.astimezone(dt.UTC)
    await event_attendance.check_in_by_code(
        db.unit_of_work(), karen, event.checkin_code, now=bot.clock.now
    )

    [choose] = await bot.chat.send(ANNE, "/attendees")
    assert choose.text == "Which event?"
    [report] = await bot.chat.press(ANNE, choose, f"oe:att:{event.id}")
    lines = report.text.splitlines()
    assert lines[:8] == [
        f"Attendees: {TITLE}",
        "Saturday, 20 February 2027, 13:00–17:00",
        "",
        "Going: 2 of 2 seats",
        "Maybe: 0",
        "Waiting list: 1",
        "Checked in: 1",
        "",
    ]
    assert "By sector (going / checked in):" in lines
    assert "  University or research: 1 / 1" in lines
    assert "  Public sector (municipality or region): 1 / 0" in lines
    assert "  Region Hovedstaden: 1 / 0" in lines
    assert "1. =Lars Holm (Aarhus Kommune, Public sector (municipality or region))" in lines
    assert "2. Karen Jensen (Teknologisk Institut, University or research) ✓" in lines
    assert lines[-2:] == ["Waiting list:", "1. Ingrid Öberg"]
    assert report.button_texts == [
        "Participant list (CSV)", "Check people in", "Check-in code", "Send follow-up now",
    ]  # fmt: skip

    names = record_filenames(bot.request)
    [document] = await bot.chat.press(ANNE, report, "Participant list (CSV)")
    assert names == ["participant-list.csv"]  # Anne writes in English; "deltagerliste" in Danish
    assert document.document is not None
    assert document.document.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"))))
    assert rows == [
        ["Name", "Organisation", "Sector", "Region", "Answer", "Checked in"],
        ["'=Lars Holm", "Aarhus Kommune", "Public sector (municipality or region)",
         "Region Hovedstaden", "Going", "No"],
        ["Karen Jensen", "Teknologisk Institut", "University or research", "Region Midtjylland",
         "Going", "Yes"],
    ]  # fmt: skip


async def test_a_danish_organiser_gets_a_deltagerliste(bot: BotHarness, db: Database) -> None:
    event = await publish(db)
    await going(db, await add_member(db, 4601), event.id)
    await add_organiser(db, 4602, language="da")
    bot.chat.user(4602, "Mette", None, language_code="da")
    [choose] = await bot.chat.send(4602, "/attendees")
    [report] = await bot.chat.press(4602, choose, f"oe:att:{event.id}")
    assert "lørdag den 20. februar 2027, 13:00–17:00" in report.text
    names = record_filenames(bot.request)
    [document] = await bot.chat.press(4602, report, f"oe:csv:{event.id}")
    assert names == ["deltagerliste.csv"]
    # Danish Excel opens it directly: semicolons, UTF-8 with BOM, Danish headers and values.
    assert document.document is not None
    assert document.document.startswith(b"\xef\xbb\xbf")
    text = document.document.decode("utf-8-sig")
    assert text.splitlines()[0] == "Navn;Organisation;Sektor;Region;Svar;Tjekket ind"
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[1] == ["Karen Jensen", "Aarhus Kommune", "Offentlig sektor (kommune eller region)",
                       "Region Midtjylland", "Kommer", "Nej"]  # fmt: skip


async def test_organisers_check_people_in_by_hand_and_show_the_qr_code(
    bot: BotHarness, db: Database, anne: None
) -> None:
    event = await publish(db)
    karen = await add_member(db, 4701, name="Karen Jensen")
    await going(db, karen, event.id)
    [choose] = await bot.chat.send(ANNE, "/attendees")
    [report] = await bot.chat.press(ANNE, choose, f"oe:att:{event.id}")
    [listing] = await bot.chat.press(ANNE, report, "Check people in")
    assert listing.button_texts == ["⬜ Karen Jensen", WALK_IN]
    await bot.chat.press(ANNE, listing, "⬜ Karen Jensen")
    assert toast_text(bot) == "Check-in opens two hours before the event starts."
    bot.clock.now = START.astimezone(dt.UTC) - dt.timedelta(hours=1)
    await bot.chat.press(ANNE, listing, "⬜ Karen Jensen")
    assert toast_text(bot) == "Checked in."
    assert listing.button_texts == ["✅ Karen Jensen", WALK_IN]
    assert "Checked in: 1." in listing.text
    await bot.chat.press(ANNE, listing, "✅ Karen Jensen")
    assert toast_text(bot) == "Check-in undone."
    assert listing.button_texts == ["⬜ Karen Jensen", WALK_IN]

    [photo] = await bot.chat.press(ANNE, report, "Check-in code")
    assert photo.document is not None
    assert photo.document.startswith(b"\x89PNG\r\n\x1a\n")
    link = f"https://t.me/{BOT_USERNAME}?start=checkin_{event.checkin_code}"
    assert photo.text == (
        f"Check-in code for “{TITLE}”: {event.checkin_code}\n"
        "At the venue, members scan this QR code or send the code to the bot.\n" + link
    )
    assert bot.request.calls_of("sendPhoto")


def toast_text(bot: BotHarness) -> str:
    return str(bot.request.calls_of("answerCallbackQuery")[-1].params.get("text", ""))


async def test_stats_for_funders_with_csv(bot: BotHarness, db: Database, anne: None) -> None:
    event = await publish(db)
    await publish(db, title="Skåne", region_id=await region_id(db, "skane"))
    members = [
        await add_member(db, 4800 + i, sector=sector)
        for i, sector in enumerate(["academia", "public", "civil_society"])
    ]
    for member in members:
        await going(db, member, event.id)
    start = START.astimezone(dt.UTC)
    for member in members[:2]:
        await event_attendance.check_in_by_code(
            db.unit_of_work(), member, event.checkin_code, now=start
        )
    bot.clock.now = start + dt.timedelta(days=1)

    [periods] = await bot.chat.send(ANNE, "/stats")
    assert periods.button_texts == [
        "This month", "Last month", "This year", "Last year", "The last 12 months",
        "Timebank: hours exchanged", "Connections: introductions and invitations",
    ]  # fmt: skip
    [hours] = await bot.chat.press(ANNE, periods, "Timebank: hours exchanged")
    assert hours.button_texts == ["As a spreadsheet (CSV)"]
    [regions] = await bot.chat.press(ANNE, periods, "This year")
    assert regions.button_texts[0] == "All regions"
    names = record_filenames(bot.request)
    [text, document] = await bot.chat.press(ANNE, regions, "Region Midtjylland")
    assert text.text.splitlines()[:6] == [
        "Participation 01.01.2027 – 31.12.2027, Region Midtjylland",
        "",
        "Events held: 1",
        "Registered (going): 3",
        "Attended (checked in): 2 (2 different people)",
        "",
    ]
    assert "  University or research: 1" in text.text
    assert names == ["stats-20270101-20271231.csv"]  # the last day, as the text says
    assert document.document is not None
    rows = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"))))
    assert rows[0][:6] == [
        "Date", "Event", "Region", "Registered", "Attended", "Attended: University or research"
    ]  # fmt: skip
    assert rows[1][:5] == ["2027-02-20", TITLE, "Region Midtjylland", "3", "2"]
    assert rows[-1][:5] == ["", "Total", "Region Midtjylland", "3", "2"]  # no count as event

    replies = await bot.chat.send(ANNE, "/stats 1.1.2027 28.2.2027")
    [text, _] = await bot.chat.press(ANNE, replies[-1], "All regions")
    assert text.text.startswith("Participation 01.01.2027 – 28.02.2027, all regions")
    assert "Events held: 2" in text.text
    assert ADMIN.is_admin


@pytest.mark.parametrize(
    ("typed", "data"),
    [
        ("/stats 1.1.2026 31.12.9999", None),
        (None, "st:r:00010101-00010201:all"),
        (None, "st:r:20261399-20261499:all"),
    ],
    ids=["typed-year-9999", "forged-year-1", "forged-month-13"],
)
async def test_stats_for_impossible_periods_answer_clearly(
    bot: BotHarness, anne: None, typed: str | None, data: str | None
) -> None:
    """Issue 17, item 4: these crashed into the apology (OverflowError, ValueError)."""
    if typed is not None:
        replies = await bot.chat.send(ANNE, typed)
    else:
        [periods] = await bot.chat.send(ANNE, "/stats")
        forged = dataclasses.replace(periods, buttons=[{"text": "x", "callback_data": data}])
        replies = await bot.chat.press(ANNE, forged, "x")
    assert replies[-1].text.startswith("Please choose a period between 2000 and 20")


async def test_stats_for_dates_that_cannot_be_read_say_how_to_type_them(
    bot: BotHarness, anne: None
) -> None:
    [reply] = await bot.chat.send(ANNE, "/stats january june")
    assert reply.text == (
        "I could not read those dates. Please type the first and the last day of the period, "
        "e.g. /stats 1.1.2026 30.6.2026."
    )


async def test_stats_for_a_period_typed_back_to_front_say_which_day_comes_first(
    bot: BotHarness, anne: None
) -> None:
    [reply] = await bot.chat.send(ANNE, "/stats 30.6.2026 1.1.2026")
    assert reply.text == (
        "The last day comes before the first. Please type the first day of the period, then "
        "the last, e.g. /stats 1.1.2026 30.6.2026."
    )


async def test_an_edit_to_an_event_cancelled_meanwhile_ends_with_a_reason(
    bot: BotHarness, db: Database, anne: None
) -> None:
    event = await publish(db)
    [card] = await bot.chat.send(ANNE, f"/start event_{event.id}")
    [fields] = await bot.chat.press(ANNE, card, "Edit")
    await bot.chat.press(ANNE, fields, "Title")
    await event_publishing.cancel(db.unit_of_work(), ADMIN, event.id, message=None, now=NOW)
    [reply] = await bot.chat.send(ANNE, "Nyt navn")
    assert reply.text == "Sorry, that event has been cancelled."
    [after] = await bot.chat.send(ANNE, "Nyt navn")  # the conversation has ended
    assert after.text == "Sorry, I did not understand that. Send /help to see what I can do."
    assert (await events.get(db.unit_of_work(), event.id)).title == TITLE


def test_the_deadline_example_is_never_in_the_past() -> None:
    from zoneinfo import ZoneInfo

    from bot.events.forms import deadline_example

    cph = ZoneInfo("Europe/Copenhagen")
    now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    # Far enough ahead: two days before, at noon.
    far = dt.datetime(2027, 2, 20, 12, 0, tzinfo=dt.UTC)
    assert deadline_example(far, now=now, tz=cph) == "18.2.2027 12:00"
    # Tomorrow: two days before would be past, so an hour before the start.
    soon = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    assert deadline_example(soon, now=now, tz=cph) == "3.12.2026 12:00"
    # No start known yet: two weeks from now, less two days.
    assert deadline_example(None, now=now, tz=cph) == "14.12.2026 12:00"
