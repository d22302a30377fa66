"""Walk-ins at the door through the real Application (issue 17, item 1): an organiser finds
someone who did not answer by part of their name or their @username, among the members of
their own region only, and checks them in; a forged press is refused in words."""

from __future__ import annotations

import csv
import datetime as dt
import io

from storage.uow import Database
from tests.support.botkit import BotHarness, SentMessage
from tests.support.events_kit import START, add_member, add_organiser, going, publish, region_id

OLA = 7100  # organiser for Region Skåne only
OPEN = START.astimezone(dt.UTC)  # check-in by hand is open
ADD = "➕ Check in someone not on the list"
AGAIN = "🔎 Search again"
BACK = "‹ Back to the check-in list"
ASK = (
    "Who came to “Innovation på det sociale område – aktører i Region Midt” without answering? "
    "Type their name (or part of it) or their Telegram @username."
)


def toast(bot: BotHarness) -> tuple[str, bool]:
    params = bot.request.calls_of("answerCallbackQuery")[-1].params
    return str(params.get("text", "")), bool(params.get("show_alert"))


def pressable(message: SentMessage, data: str) -> SentMessage:
    """``message`` with one button "x" carrying ``data`` (a press made up by hand)."""
    return SentMessage(message.message_id, message.chat_id, message.text,
                       [{"text": "x", "callback_data": data}])  # fmt: skip


async def skane_event(db: Database, *, language: str = "en") -> int:
    event = await publish(db, region_id=await region_id(db, "skane"))
    await add_organiser(
        db, OLA, name="Ola Nordin", organiser_region="skane", region="skane", language=language
    )
    return event.id


async def checkin_list(bot: BotHarness, event_id: int, organiser: int = OLA) -> SentMessage:
    [choose] = await bot.chat.send(organiser, "/attendees")
    [report] = await bot.chat.press(organiser, choose, f"oe:att:{event_id}")
    [listing] = await bot.chat.press(organiser, report, f"oe:ck:{event_id}:0")
    return listing


async def search(bot: BotHarness, event_id: int) -> SentMessage:
    """The organiser presses "Check in someone not on the list" in the check-in list."""
    listing = await checkin_list(bot, event_id)
    [ask] = await bot.chat.press(OLA, listing, f"oe:wf:{event_id}")
    return ask


async def test_a_walk_in_found_by_part_of_the_name_is_checked_in_and_listed(
    bot: BotHarness, db: Database
) -> None:
    event_id = await skane_event(db)
    await add_member(db, 7101, name="Sara Lind", organisation="Lunds kommun", region="skane")
    await add_member(db, 7102, name="Sara Lind", organisation="Malmö stad", region="skane",
                     sector="business")  # fmt: skip
    await add_member(db, 7103, name="Per Holm", organisation="Region Skåne", region="skane")
    bot.clock.now = OPEN

    listing = await checkin_list(bot, event_id)
    assert listing.text == "Nobody is going to “Innovation på det sociale område – aktører i " \
        "Region Midt” yet."  # fmt: skip
    assert listing.button_texts == [ADD]
    [ask] = await bot.chat.press(OLA, listing, ADD)
    assert ask.text == ASK
    assert ask.button_texts == [BACK]

    [found] = await bot.chat.send(OLA, "lind")
    assert found.text == "Members matching “lind”: tap the one who came."
    # Two Sara Linds, told apart by their organisations.
    assert found.button_texts == [
        "Sara Lind – Lunds kommun", "Sara Lind – Malmö stad", AGAIN, BACK,
    ]  # fmt: skip
    assert all(len(b["callback_data"].encode()) <= 64 for b in found.buttons)
    await bot.chat.press(OLA, found, "Sara Lind – Malmö stad")
    assert toast(bot) == ("Checked in.", False)
    assert found.text == "✅ Sara Lind is checked in."
    assert found.button_texts == ["➕ Check in someone else", BACK]

    # The walk-in is in the report, the check-in list and the participant list.
    [choose] = await bot.chat.send(OLA, "/attendees")
    [report] = await bot.chat.press(OLA, choose, f"oe:att:{event_id}")
    assert "Checked in: 1" in report.text.splitlines()
    assert "1. Sara Lind (Malmö stad, Business) ✓ (came without answering)" in report.text
    [document] = await bot.chat.press(OLA, report, f"oe:csv:{event_id}")
    assert document.document is not None
    rows = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"))))
    assert rows[1:] == [
        ["Sara Lind", "Malmö stad", "Business", "Region Skåne", "Came without answering", "Yes"]
    ]
    [listing] = await bot.chat.press(OLA, report, f"oe:ck:{event_id}:0")
    assert listing.button_texts == ["✅ Sara Lind", ADD]

    # Once checked in, she is not offered again; the other Sara Lind is.
    [ask] = await bot.chat.press(OLA, listing, ADD)
    [found] = await bot.chat.send(OLA, "sara")
    assert found.button_texts == ["Sara Lind – Lunds kommun", AGAIN, BACK]


async def test_a_walk_in_is_found_by_their_username(bot: BotHarness, db: Database) -> None:
    event_id = await skane_event(db)
    await add_member(db, 7111, name="Karin Ek", organisation=None, region="skane",
                     username="KarinEk")  # fmt: skip
    await add_member(db, 7112, name="Karin Ekholm", region="skane", username="ekholm")
    bot.clock.now = OPEN
    await search(bot, event_id)
    [found] = await bot.chat.send(OLA, "@karinek")
    # No organisation: the region tells her apart.
    assert found.button_texts == ["Karin Ek – Region Skåne", AGAIN, BACK]
    await bot.chat.press(OLA, found, "Karin Ek – Region Skåne")
    assert found.text == "✅ Karin Ek is checked in."


async def test_no_match_too_many_and_too_short_ask_again(bot: BotHarness, db: Database) -> None:
    event_id = await skane_event(db)
    for n in range(9):
        await add_member(db, 7120 + n, name=f"Anna Berg {n}", region="skane")
    bot.clock.now = OPEN
    await search(bot, event_id)

    [nothing] = await bot.chat.send(OLA, "Zlatan")
    assert nothing.text == "No member matches “Zlatan”. Type another name or @username."
    assert nothing.button_texts == [AGAIN, BACK]
    [many] = await bot.chat.send(OLA, "anna")  # still searching: another name, another search
    assert many.text == "More than 8 members match “anna”. Please type more of the name."
    assert many.button_texts == [BACK]
    [short] = await bot.chat.send(OLA, "a")
    assert short.text == "Please type at least 2 letters of the name, or the member's @username."
    [one] = await bot.chat.send(OLA, "berg 7")
    assert one.button_texts == ["Anna Berg 7 – Aarhus Kommune", AGAIN, BACK]
    [ask] = await bot.chat.press(OLA, nothing, AGAIN)
    assert ask.text == ASK

    # Back to the list ends the search: typed text is no longer a name to look for.
    [listing] = await bot.chat.press(OLA, ask, BACK)
    assert listing.button_texts == [ADD]
    replies = await bot.chat.send(OLA, "anna")
    assert all("match" not in r.text for r in replies)


async def test_members_of_other_regions_are_not_found_and_forged_presses_are_refused(
    bot: BotHarness, db: Database
) -> None:
    event_id = await skane_event(db)
    mette = await add_member(db, 7131, name="Mette Midt", region="midtjylland")
    bot.clock.now = OPEN
    ask = await search(bot, event_id)
    [nothing] = await bot.chat.send(OLA, "mette")
    assert nothing.text == "No member matches “mette”. Type another name or @username."

    # A press made up with her id (or one that does not exist): refused in words.
    for member_id in (mette, 2**31 - 1):
        forged = pressable(ask, f"oe:wi:{event_id}:{member_id}")
        assert await bot.chat.press(OLA, forged, "x") == []
        assert toast(bot) == ("I cannot find that member for this event.", True)
    await bot.chat.press(OLA, pressable(ask, f"oe:wi:{event_id}:{2**31}"), "x")
    assert toast(bot) == ("This button is no longer active.", False)
    [choose] = await bot.chat.send(OLA, "/attendees")
    [report] = await bot.chat.press(OLA, choose, f"oe:att:{event_id}")
    assert "Mette" not in report.text
    assert "Checked in: 0" in report.text.splitlines()

    # Members of another region who answered the event are on its own list, and an organiser
    # of every region finds anyone.
    await going(db, mette, event_id)
    [listing] = await bot.chat.press(OLA, report, f"oe:ck:{event_id}:0")
    assert listing.button_texts == ["⬜ Mette Midt", ADD]
    await add_organiser(db, 7139, name="Anne Alle")
    [ask] = await bot.chat.press(7139, await checkin_list(bot, event_id, 7139), ADD)
    assert ask.text == ASK
    [found] = await bot.chat.send(7139, "mette")
    assert found.button_texts == ["Mette Midt – Aarhus Kommune", AGAIN, BACK]


async def test_walk_ins_wait_until_check_in_opens(bot: BotHarness, db: Database) -> None:
    event_id = await skane_event(db)
    listing = await checkin_list(bot, event_id)
    [refused] = await bot.chat.press(OLA, listing, ADD)
    assert refused.text == "Check-in opens two hours before the event starts."
    replies = await bot.chat.send(OLA, "sara")  # not searching
    assert all("match" not in r.text for r in replies)


async def test_a_danish_organiser_adds_a_walk_in(bot: BotHarness, db: Database) -> None:
    event_id = await skane_event(db, language="da")
    await add_member(db, 7141, name="Søren Ærø", organisation="Malmö stad", region="skane")
    bot.clock.now = OPEN
    listing = await checkin_list(bot, event_id)
    assert listing.button_texts == ["➕ Tjek en ind, der ikke er på listen"]
    [ask] = await bot.chat.press(OLA, listing, f"oe:wf:{event_id}")
    assert ask.text == (
        "Hvem kom til “Innovation på det sociale område – aktører i Region Midt” uden "
        "tilmelding? Skriv navnet (eller en del af det) eller deres Telegram-@brugernavn."
    )
    [nothing] = await bot.chat.send(OLA, "jens")
    assert nothing.text == "Intet medlem passer på “jens”. Skriv et andet navn eller @brugernavn."
    assert nothing.button_texts == ["🔎 Søg igen", "‹ Tilbage til indtjekningen"]
    [found] = await bot.chat.send(OLA, "soren aero")  # typed as on a keyboard without ø and æ
    assert found.text == "Medlemmer, der passer på “soren aero”: tryk på den, der kom."
    await bot.chat.press(OLA, found, "Søren Ærø – Malmö stad")
    assert toast(bot) == ("Tjekket ind.", False)
    assert found.text == "✅ Søren Ærø er tjekket ind."
    assert found.button_texts == ["➕ Tjek en anden ind", "‹ Tilbage til indtjekningen"]
