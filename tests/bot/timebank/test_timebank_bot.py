"""The timebank through the real Application: real Updates, Bot API calls recorded.

Messages owed to the other member go through the outbox; these tests read the outbox rows
and press the buttons in their payload as that member would once the message is delivered.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import select

from scheduler.timebank_expiry import expire_pending_exchanges
from storage.members import profiles as members
from storage.models import OutboxMessage, Role, TimebankEntry, TimebankExchange, TimebankListing
from storage.timebank import listings as timebank_listings
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    Clock,
    SentMessage,
    asked_again,
    find_member,
    record_filenames,
    sign_up_member,
    snapshot,
    start_bot,
    stop_bot,
)
from tests.support.timebank_kit import (
    ADMIN,
    HOUR,
    POLICY,
    Person,
    assert_ledger_sound,
    balance,
    count,
    entries,
    exchange,
    exchange_row,
    telegram_rows,
)

KAREN = 6001
LARS = 6002
INGRID = 6003

MAIN_BUTTONS = ["Offer help", "Ask for help", "Browse", "Log hours", "History", "My listings"]
ORGANISERS_ONLY = "Sorry, that is for the network's organisers."


async def signed_up(
    bot: BotHarness, db: Database, user_id: int, first: str, last: str, username: str, **kw: Any
) -> Person:
    await sign_up_member(
        bot,
        user_id,
        first_name=first,
        last_name=last,
        username=username,
        email=f"{username}@example.dk",
        **kw,
    )
    member = await find_member(db, user_id)
    assert member is not None
    return Person(member.id, user_id, f"{first} {last}")


@pytest.fixture
async def karen(bot: BotHarness, db: Database) -> Person:
    return await signed_up(bot, db, KAREN, "Karen", "Jensen", "karenj")


@pytest.fixture
async def lars(bot: BotHarness, db: Database) -> Person:
    return await signed_up(bot, db, LARS, "Lars", "Holm", "larsh", sector="public")


def delivered(row: OutboxMessage) -> SentMessage:
    """The Telegram message an outbox row becomes, as its recipient sees it."""
    payload = row.payload
    buttons = [b for line in payload.get("buttons") or [] for b in line]
    return SentMessage(900_000 + row.id, int(payload["chat_id"]), str(payload["text"]), buttons)


async def one_row(db: Database, prefix: str, member_id: int | None = None) -> OutboxMessage:
    rows = [
        r for r in await telegram_rows(db, prefix) if member_id is None or r.member_id == member_id
    ]
    assert len(rows) == 1, [r.key for r in rows]
    return rows[0]


def texts(replies: list[SentMessage]) -> list[str]:
    return [m.text for m in replies]


async def log_hours(
    bot: BotHarness,
    user: int,
    *,
    direction: str,
    who: str,
    hours: str,
    description: str = "Grant-writing help for the food co-op",
) -> list[SentMessage]:
    """Log hours from /timebank: direction button, who (a button or typed), hours (a button
    or typed), description; returns the replies to the last step (the summary)."""
    chat = bot.chat
    screen = (await chat.send(user, "/timebank"))[-1]
    replies = await chat.press(user, screen, "Log hours")
    replies = await chat.press(user, replies[-1], direction)
    if who.startswith("@"):
        replies = await chat.send(user, who)
    else:
        replies = await chat.press(user, replies[-1], who)
    if hours in replies[-1].button_texts:
        replies = await chat.press(user, replies[-1], hours)
    else:
        replies = await chat.send(user, hours)
    return await chat.send(user, description)


# --- the screen -----------------------------------------------------------------------------


async def test_timebank_shows_the_balance_and_the_buttons(
    bot: BotHarness, db: Database, karen: Person
) -> None:
    [screen] = await bot.chat.send(KAREN, "/timebank")
    assert screen.text.startswith("Your timebank\n\nBalance: 0 h (it may go from -20 h to 100 h)")
    assert "No exchanges yet." in screen.text
    assert screen.button_texts == MAIN_BUTTONS
    # Organisers also get the statistics.
    await members.set_role(
        db.unit_of_work(), ADMIN, karen.id, Role.ORGANISER, region_id=None, now=bot.clock.now
    )
    [screen] = await bot.chat.send(KAREN, "/timebank")
    assert screen.button_texts == [*MAIN_BUTTONS, "Statistics"]


async def test_strangers_are_asked_to_sign_up(bot: BotHarness) -> None:
    bot.chat.user(4242, language_code="en")
    [reply] = await bot.chat.send(4242, "/timebank")
    assert reply.text == "Please sign up first: send /start."


async def test_the_welcome_back_menu_opens_the_timebank(bot: BotHarness, karen: Person) -> None:
    [menu] = await bot.chat.send(KAREN, "/start")
    [screen] = await bot.chat.press(KAREN, menu, "Timebank")
    assert screen.text.startswith("Your timebank")


# --- offers, requests, browsing, contact ----------------------------------------------------


async def test_offer_help_step_by_step_then_manage_it(
    bot: BotHarness, db: Database, karen: Person
) -> None:
    chat = bot.chat
    screen = (await chat.send(KAREN, "/timebank"))[-1]
    [ask] = await chat.press(KAREN, screen, "Offer help")
    assert ask.text.startswith("What can you offer? A short title")
    [again] = await chat.send(KAREN, "x" * 101)
    assert again.text == asked_again(
        "That title is too long: at most 100 characters, please.", ask.text
    )
    await chat.send(KAREN, "Help with grants")
    [ask] = await chat.send(KAREN, "I have written ten ESF+ applications.\nAsk me!")
    assert ask.text == "Which category?"
    assert ask.button_texts[0] == "Funding and grant writing"
    [ask] = await chat.press(KAREN, ask, "Funding and grant writing")
    assert ask.button_texts[:2] == ["The whole network", "Region Hovedstaden"]
    [preview] = await chat.press(KAREN, ask, "Region Midtjylland")
    # Nothing is live before the member has seen it as others will, and said Publish.
    assert await count(db, TimebankListing) == 0
    assert preview.text == (
        "This is how members will see it under Browse:\n\n"
        "Offer · Funding and grant writing · Region Midtjylland\n"
        "Help with grants\n"
        "I have written ten ESF+ applications.\nAsk me!\n"
        "– Karen Jensen"
    )
    assert preview.button_texts == ["Publish", "Change something", "Cancel"]
    [which] = await chat.press(KAREN, preview, "Change something")
    assert which.button_texts == [
        "Title",
        "Description",
        "Category",
        "Region",
        "« Back to the preview",
    ]
    [question] = await chat.press(KAREN, which, "Title")
    assert question.text.startswith("What can you offer?")
    [preview] = await chat.send(KAREN, "Help with grant applications")
    assert preview.text.splitlines()[3] == "Help with grant applications"
    [which] = await chat.press(KAREN, preview, "Change something")
    [preview] = await chat.press(KAREN, which, "« Back to the preview")
    assert preview.button_texts[0] == "Publish"
    assert await count(db, TimebankListing) == 0
    [card] = await chat.press(KAREN, preview, "Publish")
    assert card.text == (
        "Published. Members can now find it under Browse.\n\n"
        "Offer · Funding and grant writing · Region Midtjylland\n"
        "Help with grant applications\n"
        "I have written ten ESF+ applications.\nAsk me!"
    )
    assert card.button_texts == ["Pause", "Edit", "Delete"]

    [paused, card] = await chat.press(KAREN, card, "Pause")
    assert paused.text == "Paused."
    assert card.text.startswith("Paused (not shown under Browse)")
    assert (await timebank_listings.browse(db.unit_of_work())).total == 0
    [_, card] = await chat.press(KAREN, card, "Resume")
    assert (await timebank_listings.browse(db.unit_of_work())).total == 1

    [fields] = await chat.press(KAREN, card, "Edit")
    [question] = await chat.press(KAREN, fields, "Title")
    assert question.text.startswith("Type the new title.")
    [saved, card] = await chat.send(KAREN, "Grant writing, EU and Nordic funds")
    assert saved.text == "Saved."
    assert card.text.splitlines()[1] == "Grant writing, EU and Nordic funds"

    [fields] = await chat.press(KAREN, card, "Edit")
    [question] = await chat.press(KAREN, fields, "Category")
    [saved, card] = await chat.press(KAREN, question, "IT and digital tools")
    assert card.text.startswith("Offer · IT and digital tools · Region Midtjylland")
    [fields] = await chat.press(KAREN, card, "Edit")
    [question] = await chat.press(KAREN, fields, "Region")
    [saved, card] = await chat.press(KAREN, question, "The whole network")
    assert card.text.startswith("Offer · IT and digital tools · The whole network")

    [really] = await chat.press(KAREN, card, "Delete")
    assert really.button_texts == ["Yes, delete it", "No, keep it"]
    [deleted] = await chat.press(KAREN, really, "Yes, delete it")
    assert deleted.text == "Deleted."
    screen = (await chat.send(KAREN, "/timebank"))[-1]
    [none] = await chat.press(KAREN, screen, "My listings")
    assert none.text == "You have no offers or requests yet."


async def test_cancel_on_the_preview_stores_nothing(
    bot: BotHarness, db: Database, karen: Person
) -> None:
    screen = (await bot.chat.send(KAREN, "/timebank"))[-1]
    await bot.chat.press(KAREN, screen, "Ask for help")
    await bot.chat.send(KAREN, "Feedback on our application")
    [ask] = await bot.chat.send(KAREN, "Two pages, due in March.")
    [ask] = await bot.chat.press(KAREN, ask, "Funding and grant writing")
    [preview] = await bot.chat.press(KAREN, ask, "The whole network")
    assert preview.text.startswith("This is how members will see it under Browse:\n\nRequest")
    before_cancel = snapshot(preview)
    [cancelled] = await bot.chat.press(KAREN, preview, "Cancel")
    assert cancelled.text == "Nothing changed."
    assert preview.button_texts == []
    assert await count(db, TimebankListing) == 0
    assert await bot.chat.press(KAREN, before_cancel, "Publish") == []
    assert await count(db, TimebankListing) == 0


async def test_cancel_while_posting_stores_nothing(
    bot: BotHarness, db: Database, karen: Person
) -> None:
    screen = (await bot.chat.send(KAREN, "/timebank"))[-1]
    await bot.chat.press(KAREN, screen, "Ask for help")
    await bot.chat.send(KAREN, "Feedback on our application")
    [question] = await bot.chat.send(KAREN, "/events")
    assert question.text.startswith(
        "Please answer the question, or send /cancel to stop.\n\nDescribe it in a few sentences"
    )
    [cancelled] = await bot.chat.send(KAREN, "/cancel")
    assert cancelled.text == "Nothing changed."
    assert await count(db, TimebankListing) == 0


async def post(db: Database, bot: BotHarness, who: Person, kind: str, title: str) -> int:
    categories = await timebank_listings.categories(db.unit_of_work())
    listing = await timebank_listings.create_listing(
        db.unit_of_work(),
        who.id,
        kind=kind,
        title=title,
        description=f"About {title}",
        category_id=categories[0].id,
        region_id=None,
        now=bot.clock.now,
    )
    bot.clock.advance(minutes=1)
    return listing.id


async def browse_all(bot: BotHarness, user: int) -> SentMessage:
    """Browse from /timebank: one tap shows the newest listings."""
    screen = (await bot.chat.send(user, "/timebank"))[-1]
    [page] = await bot.chat.press(user, screen, "Browse")
    return page


async def open_listing(bot: BotHarness, user: int, title: str) -> SentMessage:
    """Browse, then the button that names the listing: the listing whole, in place."""
    page = await browse_all(bot, user)
    [label] = [b for b in page.button_texts if b.endswith(title)]
    assert await bot.chat.press(user, page, label) == []  # redrawn, not a new message
    return bot.request.messages[page.message_id]


async def test_browse_pages_newest_first_and_contact_is_accepted(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    for n in range(6):
        await post(db, bot, lars, "request" if n % 2 else "offer", f"Listing {n}")
    page = await browse_all(bot, KAREN)
    assert page.text.startswith("Offers and requests, newest first (page 1 of 2):")
    assert page.text.index("Listing 5") < page.text.index("Listing 1")
    assert "Listing 0" not in page.text
    assert "1. Request · Funding and grant writing · The whole network\nListing 5" in page.text
    assert "– Lars Holm" in page.text
    # One button per listing, named by its title; then the pages, then the filter.
    assert page.button_texts == [
        "1. Listing 5",
        "2. Listing 4",
        "3. Listing 3",
        "4. Listing 2",
        "5. Listing 1",
        "Older »",
        "Filter",
    ]
    await bot.chat.press(KAREN, page, "Older »")
    edited = bot.request.messages[page.message_id]
    assert "Listing 0" in edited.text
    assert "(page 2 of 2)" in edited.text
    assert edited.button_texts[-2:] == ["« Newer", "Filter"]

    # The listing whole, with buttons that say whom they concern, and the way back to page 2.
    await bot.chat.press(KAREN, edited, "1. Listing 0")
    card = bot.request.messages[page.message_id]
    assert card.text == (
        "Offer · Funding and grant writing · The whole network\nListing 0\nAbout Listing 0\n"
        "– Lars Holm"
    )
    assert card.button_texts == [
        "Contact Lars Holm",
        "Log hours with Lars Holm",
        "« Back to the list",
    ]
    await bot.chat.press(KAREN, card, "« Back to the list")
    assert "(page 2 of 2)" in bot.request.messages[page.message_id].text

    # Lars sees his own listings without buttons to contact himself.
    own = await browse_all(bot, LARS)
    assert own.button_texts == ["Older »", "Filter"]

    card = await open_listing(bot, KAREN, "Listing 5")
    [asked] = await bot.chat.press(KAREN, card, "Contact Lars Holm")
    assert asked.text == (
        "I have asked Lars Holm whether they want to get in touch about “Listing 5”. If they "
        "accept, I introduce you to each other here."
    )
    [again] = await bot.chat.press(KAREN, card, "Contact Lars Holm")
    assert again.text == "You have already asked about “Listing 5”."
    request = await one_row(db, "tb:contact:")
    assert request.member_id == lars.id
    assert "@karenj" not in request.payload["text"]

    [accepted] = await bot.chat.press(LARS, delivered(request), "Accept")
    assert accepted.text == "Accepted. I have introduced you to each other."
    intros = {r.member_id: r for r in await telegram_rows(db, "tb:intro:")}
    assert set(intros) == {karen.id, lars.id}
    assert (
        f'<a href="tg://user?id={LARS}">Lars Holm</a> (@larsh)' in intros[karen.id].payload["text"]
    )
    assert intros[karen.id].payload["parse_mode"] == "HTML"
    [pressed_twice] = await bot.chat.press(LARS, delivered(request), "Accept")
    assert pressed_twice.text == "You have already accepted."
    assert len(await telegram_rows(db, "tb:intro:")) == 2

    # "Log hours" under the introduction: the other member is already chosen.
    [ask] = await bot.chat.press(KAREN, delivered(intros[karen.id]), "Log hours")
    assert ask.text == "What happened?"
    [ask] = await bot.chat.press(KAREN, ask, "Someone helped me")
    assert ask.text.startswith("How many hours?")
    await bot.chat.send(KAREN, "/cancel")


async def test_browse_filters_by_category_and_region_and_comes_back(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await post(db, bot, lars, "offer", "Bookkeeping for small associations")
    page = await browse_all(bot, KAREN)
    assert await bot.chat.press(KAREN, page, "Filter") == []
    categories = bot.request.messages[page.message_id]
    assert categories.text == "Browse offers and requests: which category?"
    assert categories.button_texts[-1] == "« Back to the list"
    await bot.chat.press(KAREN, categories, "IT and digital tools")
    where = bot.request.messages[page.message_id]
    assert where.text == "Which region?"
    await bot.chat.press(KAREN, where, "« Back")
    assert bot.request.messages[page.message_id].text == categories.text
    await bot.chat.press(KAREN, bot.request.messages[page.message_id], "IT and digital tools")
    await bot.chat.press(KAREN, bot.request.messages[page.message_id], "All regions")
    empty = bot.request.messages[page.message_id]
    assert empty.text == "Nothing here yet. Be the first: offer help or ask for it."
    assert empty.button_texts == ["Offer help", "Ask for help", "Filter"]
    # A long title is cut at a word boundary, with no broken word and no trailing space.
    await post(db, bot, lars, "offer", "Mentoring for new chairpersons of voluntary associations")
    page = await browse_all(bot, KAREN)
    assert page.button_texts[0] == "1. Mentoring for new chairpersons of…"


async def test_a_made_up_member_button_is_refused(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    """Callback data comes from the client: a member who is no contact is not shown by name."""
    screen = (await bot.chat.send(KAREN, "/timebank"))[-1]
    [ask] = await bot.chat.press(KAREN, screen, "Log hours")
    await bot.chat.press(KAREN, ask, "I helped someone")
    forged = SentMessage(1, KAREN, "", [{"text": "x", "callback_data": f"tb:lg:who:m{lars.id}"}])
    [ask] = await bot.chat.press(KAREN, forged, "x")
    assert ask.text.startswith(
        "Please choose from the list, or type their @username.\n\nWho was it?"
    )
    forged = SentMessage(1, KAREN, "", [{"text": "x", "callback_data": f"tb:log:m{lars.id}"}])
    [refused] = await bot.chat.press(KAREN, forged, "x")
    assert refused.text == "Please choose from the list, or type their @username."


async def test_a_declined_contact_keeps_the_telegram_contact_private(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    """A network of named members: the listing shows who posted it, so the poster is not told
    that declining hides their name; what stays private is their Telegram contact."""
    await post(db, bot, lars, "offer", "Facilitation of workshops")
    card = await open_listing(bot, KAREN, "Facilitation of workshops")
    assert card.text.endswith("– Lars Holm")
    await bot.chat.press(KAREN, card, "Contact Lars Holm")
    request = await one_row(db, "tb:contact:")
    assert "not told who you are" not in request.payload["text"]
    assert request.payload["text"].endswith(
        "If you decline, they are only told that it did not work out this time, and your "
        "Telegram contact is not shared."
    )
    [declined] = await bot.chat.press(LARS, delivered(request), "Decline")
    assert declined.text == (
        "Declined. They are told only that it did not work out this time; your Telegram "
        "contact has not been shared."
    )
    told = await one_row(db, "tb:contact-declined:")
    assert told.member_id == karen.id
    assert "larsh" not in told.payload["text"]
    assert f"tg://user?id={LARS}" not in told.payload["text"]
    assert await telegram_rows(db, "tb:intro:") == []


# --- logging hours and confirming -----------------------------------------------------------


async def test_i_helped_someone_typed_username_then_they_confirm_once(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    chat = bot.chat
    screen = (await chat.send(KAREN, "/timebank"))[-1]
    [ask] = await chat.press(KAREN, screen, "Log hours")
    assert ask.text == "What happened?"
    assert ask.button_texts == ["I helped someone", "Someone helped me"]
    [ask] = await chat.press(KAREN, ask, "I helped someone")
    assert ask.text == "Who was it? Type their Telegram @username (they must have signed up here)."
    who = ask
    [ask] = await chat.send(KAREN, "@nobody")
    assert ask.text.startswith("No member has the username @nobody.")
    assert ask.text.endswith("\n\n" + who.text)
    [ask] = await chat.send(KAREN, "@LarsH")
    assert ask.text.startswith("How many hours?")
    assert ask.button_texts == ["0.5 h", "1 h", "1.5 h", "2 h", "3 h", "4 h"]
    hours = snapshot(ask)
    [ask] = await chat.send(KAREN, "0.33")
    assert ask.text == asked_again(
        "Please use quarter hours: e.g. 0.25, 0.5, 0.75 or 1.", hours.text
    )
    assert ask.buttons == hours.buttons
    [ask] = await chat.send(KAREN, "25")
    assert ask.text == asked_again("At most 24 hours per exchange, please.", hours.text)
    [ask] = await chat.press(KAREN, ask, "2 h")
    assert ask.text.startswith("Describe the help in a few words")
    [summary] = await chat.send(KAREN, "Grant-writing help for the food co-op")
    assert summary.text == (
        # Found by a typed @username: the organisation shows who it is (issue 17, item 11).
        "Please check:\n\nYou helped Lars Holm (Sociale Entreprenører i Danmark): 2 h, "
        "“Grant-writing help for the food co-op”\n\nLars Holm (Sociale Entreprenører i Danmark) "
        "is asked to confirm. The hours move when they do."
    )
    tapped = snapshot(summary)
    [sent] = await chat.press(KAREN, summary, "Send for confirmation")
    assert sent.text.startswith("Sent. Lars Holm is asked to confirm")
    assert summary.buttons == []
    # A second press on the same summary (a double tap) logs nothing more.
    await chat.press(KAREN, tapped, "Send for confirmation")
    assert await count(db, TimebankExchange) == 1
    assert await entries(db) == []

    request = await one_row(db, "tb:confirm:")
    assert request.member_id == lars.id
    assert request.payload["text"].startswith(
        "Karen Jensen says they helped you: 2 h, “Grant-writing help for the food co-op”."
    )
    message = delivered(request)
    [confirmed] = await chat.press(LARS, message, "Confirm")
    assert confirmed.text == (
        "Confirmed: the hours have moved.\n"
        "Karen Jensen helped you: 2 h, “Grant-writing help for the food co-op”\n"
        "Your balance is now -2 h."
    )
    [already] = await chat.press(LARS, message, "Confirm")
    assert already.text == "You have already confirmed this exchange."
    assert len(await entries(db)) == 1
    assert await balance(db, karen) == 2 * HOUR
    notice = await one_row(db, "tb:confirmed:")
    assert notice.member_id == karen.id
    assert notice.payload["text"].endswith("Your balance is now 2 h.")

    [screen] = await chat.send(KAREN, "/timebank")
    assert "Balance: 2 h" in screen.text
    assert "Recent exchanges:" in screen.text
    assert "You helped Lars Holm: 2 h, “Grant-writing help for the food co-op”" in screen.text
    await assert_ledger_sound(db)


async def test_a_double_tapped_confirm_handled_at_once_moves_the_hours_once(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    view = await exchange(db, bot.clock.now, karen, lars, 1.5, confirm=False)
    message = delivered(await one_row(db, "tb:confirm:"))
    await asyncio.gather(
        bot.chat.press(LARS, message, "Confirm"), bot.chat.press(LARS, message, "Confirm")
    )
    assert (await exchange_row(db, view.id)).status == "confirmed"
    assert len(await entries(db)) == 1
    assert await balance(db, lars) == -90
    replies = texts(bot.request.sent_to(LARS))
    assert replies.count("You have already confirmed this exchange.") == 1
    assert not any(r.startswith("Sorry, something went wrong") for r in replies)


async def test_someone_helped_me_chosen_from_recent_contacts(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await exchange(db, bot.clock.now, karen, lars, 1)  # now they are contacts
    [summary] = await log_hours(
        bot, LARS, direction="Someone helped me", who="Karen Jensen", hours="1,5"
    )
    assert "Karen Jensen helped you: 1.5 h" in summary.text
    await bot.chat.press(LARS, summary, "Send for confirmation")
    request = await one_row(db, "tb:confirm:", karen.id)
    assert request.payload["text"].startswith("Lars Holm says you helped them: 1.5 h")
    await bot.chat.press(KAREN, delivered(request), "Confirm")
    assert await balance(db, karen) == 150
    assert await balance(db, lars) == -150


async def test_decline_moves_nothing_and_tells_who_logged_it(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    [summary] = await log_hours(bot, KAREN, direction="I helped someone", who="@larsh", hours="3")
    await bot.chat.press(KAREN, summary, "Send for confirmation")
    message = delivered(await one_row(db, "tb:confirm:"))
    [declined] = await bot.chat.press(LARS, message, "Decline")
    assert declined.text == "Declined. No hours were moved; they have been told."
    notice = await one_row(db, "tb:declined:")
    assert notice.member_id == karen.id
    assert notice.payload["text"].startswith("Lars Holm declined the exchange: 3 h")
    [too_late] = await bot.chat.press(LARS, message, "Confirm")
    assert too_late.text == "That exchange was declined; no hours were moved."
    assert await entries(db) == []


async def test_pending_confirmations_on_the_screen_confirm_and_withdraw(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await exchange(db, bot.clock.now, karen, lars, 1, description="Budget", confirm=False)
    await exchange(db, bot.clock.now, lars, karen, 2, description="Website", confirm=False)
    [screen] = await bot.chat.send(KAREN, "/timebank")
    assert "Waiting for your confirmation:\n1. Lars Holm helped you: 2 h, “Website”" in screen.text
    assert "Waiting for the other side to confirm:\na. You helped Lars Holm: 1 h, “Budget”" in (
        screen.text
    )
    assert screen.button_texts[:3] == ["Confirm 1", "Decline 1", "Withdraw a"]
    screen = snapshot(screen)
    [withdrawn] = await bot.chat.press(KAREN, snapshot(screen), "Withdraw a")
    assert withdrawn.text == "Withdrawn. No hours were moved; the other side has been told."
    assert (await one_row(db, "tb:cancelled:")).member_id == lars.id
    [confirmed] = await bot.chat.press(KAREN, screen, "Confirm 1")
    assert confirmed.text.endswith("Your balance is now -2 h.")


async def test_pending_exchanges_expire_and_both_are_told(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    [summary] = await log_hours(bot, KAREN, direction="I helped someone", who="@larsh", hours="1")
    await bot.chat.press(KAREN, summary, "Send for confirmation")
    message = delivered(await one_row(db, "tb:confirm:"))
    bot.clock.advance(days=14)
    assert await expire_pending_exchanges(db, bot.services.settings, bot.clock.now) == 1
    notices = await telegram_rows(db, "tb:expired:")
    assert sorted(n.member_id or 0 for n in notices) == sorted([karen.id, lars.id])
    assert "was not confirmed within 14 days and has expired" in notices[0].payload["text"]
    [too_late] = await bot.chat.press(LARS, message, "Confirm")
    assert too_late.text == "That exchange was not confirmed in time and has expired."
    assert await entries(db) == []


async def test_an_exchange_past_the_limit_is_refused_with_the_reason_and_balances(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    soeren = await signed_up(bot, db, INGRID, "Ingrid", "Öberg", "ingrid")
    await exchange(db, bot.clock.now, karen, lars, 12)
    await exchange(db, bot.clock.now, soeren, lars, 7)  # Lars at -19 h
    [summary] = await log_hours(bot, KAREN, direction="I helped someone", who="@larsh", hours="2")
    [ask] = await bot.chat.press(KAREN, summary, "Send for confirmation")
    assert ask.text.startswith(
        "Refused: the balance of Lars Holm would fall to -21 h, below the minimum of -20 h.\n"
        "Balances now: Karen Jensen 12 h, Lars Holm -19 h.\n\nHow many hours?"
    )
    # Fewer hours: the description is kept, so the summary comes straight back.
    [summary] = await bot.chat.send(KAREN, "1")
    assert "You helped Lars Holm (Sociale Entreprenører i Danmark): 1 h" in summary.text
    await bot.chat.press(KAREN, summary, "Send for confirmation")
    # Meanwhile Lars accepted more help elsewhere: now the confirmation itself is refused.
    [*_, logged] = await telegram_rows(db, "tb:confirm:")
    await exchange(db, bot.clock.now, soeren, lars, 0.5)
    message = delivered(logged)
    [refused] = await bot.chat.press(LARS, message, "Confirm")
    assert refused.text == (
        "Refused: your balance would fall to -20.5 h, below the minimum of -20 h.\n"
        "Balances now: Karen Jensen 12 h, Lars Holm -19.5 h."
    )
    assert await balance(db, lars) == -19.5 * HOUR
    await assert_ledger_sound(db)


async def test_a_member_cannot_log_hours_with_themselves(
    bot: BotHarness, db: Database, karen: Person
) -> None:
    screen = (await bot.chat.send(KAREN, "/timebank"))[-1]
    [ask] = await bot.chat.press(KAREN, screen, "Log hours")
    await bot.chat.press(KAREN, ask, "I helped someone")
    [ask] = await bot.chat.send(KAREN, "@karenj")
    assert ask.text.startswith(
        "You cannot exchange hours with yourself (or your own organisation).\n\nWho was it?"
    )
    assert await count(db, TimebankExchange) == 0


async def test_log_hours_from_a_listing_and_the_flow_survives_a_restart(
    db: Database, now: dt.datetime
) -> None:
    before = await start_bot(db, Clock(now))
    try:
        await signed_up(before, db, KAREN, "Karen", "Jensen", "karenj")
        lars = await signed_up(before, db, LARS, "Lars", "Holm", "larsh")
        await post(db, before, lars, "offer", "Design of a flyer")
        card = await open_listing(before, KAREN, "Design of a flyer")
        [ask] = await before.chat.press(KAREN, card, "Log hours with Lars Holm")
        # Who, and who helped whom, come from the listing (an offer: Lars helped Karen).
        assert ask.text.startswith("How many hours?")
        [ask] = await before.chat.press(KAREN, ask, "1.5 h")
        assert ask.button_texts == ["Use “Design of a flyer”"]
    finally:
        await stop_bot(before)

    after = await start_bot(db, before.clock)
    try:
        [summary] = await after.chat.press(KAREN, ask, "Use “Design of a flyer”")
        assert "Lars Holm helped you: 1.5 h, “Design of a flyer”" in summary.text
        await after.chat.press(KAREN, summary, "Send for confirmation")
        request = await one_row(db, "tb:confirm:")
        assert request.member_id == lars.id
        async with db.unit_of_work() as uow:
            logged = await uow.session.scalar(select(TimebankExchange))
            assert logged is not None
            assert logged.listing_id is not None
            assert logged.giver_account_id != logged.initiator_account_id
    finally:
        await stop_bot(after)


# --- history, statistics ----------------------------------------------------------------------


async def test_history_in_the_bot_and_as_csv(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await exchange(db, bot.clock.now, karen, lars, 2, description="=cmd|' /C calc'!A0")
    bot.clock.advance(days=1)
    await exchange(db, bot.clock.now, lars, karen, 0.75, description="Translation, æøå")
    screen = (await bot.chat.send(KAREN, "/timebank"))[-1]
    [history] = await bot.chat.press(KAREN, screen, "History")
    lines = history.text.splitlines()
    assert lines[:2] == ["Your history", "Balance: 1.25 h"]
    assert lines[3] == "Nov 26, 2026 · -0.75 h · Lars Holm · Translation, æøå (balance 1.25 h)"
    assert lines[4].startswith("Nov 25, 2026 · +2 h · Lars Holm")
    names = record_filenames(bot.request)
    [document] = await bot.chat.press(KAREN, history, "As a spreadsheet (CSV)")
    assert names == ["timebank-history.csv"]
    assert document.document is not None
    rows = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"))))
    assert rows[0] == ["date", "kind", "counterpart", "hours", "description", "balance", "entry"]
    assert [r[1:6] for r in rows[1:]] == [
        ["exchange", "Lars Holm", "2", "'=cmd|' /C calc'!A0", "2"],
        ["exchange", "Lars Holm", "-0.75", "Translation, æøå", "1.25"],
    ]


async def test_statistics_for_organisers_with_csv(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    await exchange(db, bot.clock.now, karen, lars, 2)
    await exchange(db, bot.clock.now, lars, karen, 1)
    [refused] = await bot.chat.press(
        LARS, SentMessage(1, LARS, "", [{"text": "Statistics", "callback_data": "tb:st"}]), "tb:st"
    )
    assert refused.text == ORGANISERS_ONLY
    await members.set_role(
        db.unit_of_work(), ADMIN, karen.id, Role.ORGANISER, region_id=None, now=bot.clock.now
    )
    screen = (await bot.chat.send(KAREN, "/timebank"))[-1]
    [report] = await bot.chat.press(KAREN, screen, "Statistics")
    assert report.text.startswith("Timebank statistics, 2025-12 to 2026-11")
    assert "Hours exchanged: 3 h in 2 exchanges" in report.text
    assert "Active members: 2" in report.text
    assert "  2026-11: 3 h (2 exchanges, 2 members)" in report.text
    assert "  Region Midtjylland: 3 h" in report.text
    assert "  Civil society: 2 h" in report.text
    assert "  Public sector (municipality or region): 1 h" in report.text
    [document] = await bot.chat.press(KAREN, report, "As a spreadsheet (CSV)")
    assert document.document is not None
    rows = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"))))
    assert rows == [
        ["month", "region", "sector", "exchanges", "hours", "active_members"],
        ["2026-11", "Region Midtjylland", "civil_society", "1", "2", "2"],
        ["2026-11", "Region Midtjylland", "public", "1", "1", "2"],
    ]


# --- administrators -------------------------------------------------------------------------


async def test_administrators_run_organisation_accounts_and_corrections(
    bot: BotHarness, db: Database, karen: Person, lars: Person
) -> None:
    chat = bot.chat
    admin = await signed_up(bot, db, ADMIN_ID, "Anne", "Admin", "anne")
    [help_text] = await chat.send(ADMIN_ID, "/timebank help")
    assert help_text.text.startswith("Timebank administration:")
    [added] = await chat.send(ADMIN_ID, "/timebank org add Aarhus Festuge")
    assert added.text.startswith("Organisation account added: org:")
    org_id = int(added.text.split("org:")[1].split()[0])
    [made] = await chat.send(ADMIN_ID, f"/timebank coordinator {org_id} @larsh")
    assert made.text == "Lars Holm now coordinates the account."

    # A volunteer logs hours given to the organisation; its coordinator confirms.
    [summary] = await log_hours(
        bot, KAREN, direction="I helped someone", who="Aarhus Festuge", hours="4"
    )
    await chat.press(KAREN, summary, "Send for confirmation")
    request = await one_row(db, "tb:confirm:")
    assert request.member_id == lars.id
    assert request.payload["text"].startswith("Karen Jensen says they helped Aarhus Festuge: 4 h")
    [confirmed] = await chat.press(LARS, delivered(request), "Confirm")
    assert confirmed.text.endswith("The balance of Aarhus Festuge is now -4 h.")
    [screen] = await chat.send(LARS, "/timebank")
    assert "Aarhus Festuge (you coordinate it): -4 h" in screen.text

    # The coordinator logs for the organisation: first "whose hours".
    [ask] = await chat.press(LARS, screen, "Log hours")
    assert ask.button_texts == ["Myself", "Aarhus Festuge"]
    [ask] = await chat.press(LARS, ask, "Aarhus Festuge")
    assert ask.button_texts == ["Aarhus Festuge helped someone", "Someone helped Aarhus Festuge"]
    [ask] = await chat.press(LARS, ask, "Aarhus Festuge helped someone")
    assert "Aarhus Festuge" not in ask.button_texts  # not with itself
    [ask] = await chat.press(LARS, ask, "Karen Jensen")
    [ask] = await chat.press(LARS, ask, "1 h")
    [summary] = await chat.send(LARS, "Free festival pass")
    assert "Aarhus Festuge helped Karen Jensen: 1 h, “Free festival pass”" in summary.text
    await chat.press(LARS, summary, "Send for confirmation")
    paid = await one_row(db, "tb:confirm:", karen.id)
    assert paid.payload["text"].startswith("Aarhus Festuge says they helped you: 1 h")
    await chat.press(KAREN, delivered(paid), "Confirm")
    assert await balance(db, karen) == 3 * HOUR
    [history] = await chat.press(LARS, (await chat.send(LARS, "/timebank"))[-1], "History")
    assert history.button_texts == ["History of Aarhus Festuge"]
    [org_history] = await chat.press(LARS, history, "History of Aarhus Festuge")
    assert org_history.text.startswith("History of Aarhus Festuge\nBalance: -3 h")
    [removed] = await chat.send(ADMIN_ID, f"/timebank coordinator {org_id} @larsh remove")
    assert removed.text == "Lars Holm no longer coordinates the account."

    [adjusted] = await chat.send(
        ADMIN_ID, f"/timebank adjust org:{org_id} @karenj 1.5 Paper sign-up sheet from the fair"
    )
    assert adjusted.text.startswith("Adjusted: 1.5 h from Aarhus Festuge to Karen Jensen")
    assert await balance(db, karen) == 4.5 * HOUR
    [no_reason] = await chat.send(ADMIN_ID, f"/timebank adjust org:{org_id} @karenj 1")
    assert no_reason.text.startswith("Timebank administration:")
    [history] = await chat.send(ADMIN_ID, "/timebank history @karenj")
    first_entry = min(e.id for e in await entries(db))
    assert f"#{first_entry} " in history.text
    [reversed_] = await chat.send(ADMIN_ID, f"/timebank reverse {first_entry} Counted twice")
    assert reversed_.text.startswith(f"Reversed entry #{first_entry} with entry #")
    [twice] = await chat.send(ADMIN_ID, f"/timebank reverse {first_entry} Counted twice")
    assert twice.text == "That entry has already been reversed."
    assert await balance(db, karen) == 0.5 * HOUR
    async with db.unit_of_work() as uow:
        kinds = (await uow.session.scalars(select(TimebankEntry.kind))).all()
    assert sorted(kinds) == ["adjustment", "exchange", "exchange", "reversal"]
    await assert_ledger_sound(db, POLICY)

    [categories] = await chat.send(ADMIN_ID, "/timebank category add Urban gardening")
    assert categories.text == "Category added: Urban gardening"
    [listed] = await chat.send(ADMIN_ID, "/timebank categories")
    assert listed.text.splitlines()[-1].endswith("Urban gardening")
    # Members' arguments are ignored: they get their screen.
    [screen] = await chat.send(KAREN, "/timebank adjust @larsh @karenj 24 free hours")
    assert screen.text.startswith("Your timebank")
    del admin
