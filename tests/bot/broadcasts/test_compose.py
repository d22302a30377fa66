"""/broadcast as an organiser uses it, through the real Application (real Updates, Bot API calls
recorded), then delivered by the scheduler's TelegramDelivery and BroadcastProgress through the
same recording Bot API, so the organiser's progress message can be read as they would see it."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot, Update

from scheduler.telegram.delivery import TelegramDelivery, TelegramOptions
from scheduler.telegram.progress import BroadcastProgress
from storage.members import profiles as members
from storage.models import Broadcast, Event, Role, Rsvp
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    Clock,
    RecordingRequest,
    SentMessage,
    asked_again,
    find_member,
    sign_up_member,
    start_bot,
    stop_bot,
)
from tests.support.broadcastkit import TOKEN, add_members, member, outbox_rows, region_ids

KAREN = 5001  # an organiser for all regions
METTE = 5002  # an organiser for Region Hovedstaden
LARS = 5003  # a member
FIRST_MEMBER = 10_000  # the audience: Telegram ids from here

ASK_MESSAGE = (
    "Write the message for the members. You can use Telegram's formatting (bold, italic, "
    "links), or send a photo or a document with a caption. Send /cancel to stop."
)
WHO = "Who should get it?"
SEE_IT = "This is how the members will see it:"
ORGANISERS_ONLY = "Sorry, that is for the network's organisers."
ADMIN = Actor(ADMIN_ID, None, is_admin=True)


async def appoint(
    harness: BotHarness, db: Database, user: int, region_code: str | None = None
) -> int:
    found = await find_member(db, user)
    assert found is not None
    region = (await region_ids(db))[region_code] if region_code else None
    await members.set_role(
        db.unit_of_work(), ADMIN, found.id, Role.ORGANISER, region_id=region, now=harness.clock.now
    )
    return int(found.id)


@pytest.fixture
async def network(bot: BotHarness, db: Database, now: dt.datetime) -> dict[str, Any]:
    """Karen (organiser, all regions), Mette (organiser, Hovedstaden), Lars (member); 6
    members in Midtjylland (civil society) and 3 in Hovedstaden (business)."""
    await sign_up_member(bot, KAREN, first_name="Karen", email="karen@example.dk")
    await sign_up_member(
        bot, METTE, first_name="Mette", email="mette@example.dk", region="Region Hovedstaden"
    )
    await sign_up_member(bot, LARS, first_name="Lars", email="lars@example.dk")
    karen = await appoint(bot, db, KAREN)
    await appoint(bot, db, METTE, "hovedstaden")
    midt = await add_members(db, 6, first_telegram_id=FIRST_MEMBER, now=now)
    hoved = await add_members(
        db, 3, first_telegram_id=FIRST_MEMBER + 100, now=now, region="hovedstaden",
        sector="business",
    )  # fmt: skip
    await deliver_all(db, bot)  # Karen and Mette are told they are organisers now
    return {"karen": karen, "midt": midt, "hoved": hoved}


_ids = itertools.count(50_000)


async def send_update(harness: BotHarness, user_id: int, **message: Any) -> list[SentMessage]:
    """A message with any content (formatted text, a photo with a caption, a document)."""
    data = {
        "message_id": next(_ids),
        "date": int(dt.datetime.now(dt.UTC).timestamp()),
        "chat": {"id": user_id, "type": "private"},
        "from": harness.chat._from(user_id),
        **message,
    }
    before = set(harness.request.messages)
    await harness.app.process_update(
        Update.de_json({"update_id": next(_ids), "message": data}, harness.app.bot)
    )
    return [m for i, m in harness.request.messages.items() if i not in before]


async def write_formatted(harness: BotHarness, user_id: int) -> list[SentMessage]:
    """ "Netværksmøde i Aarhus den 20. februar – tilmeld dig" with Aarhus bold and a link."""
    text = "Netværksmøde i Aarhus den 20. februar – tilmeld dig"
    return await send_update(
        harness,
        user_id,
        text=text,
        entities=[
            {"type": "bold", "offset": 15, "length": 6},
            {
                "type": "text_link",
                "offset": 40,
                "length": 11,
                "url": "https://samvirke.example/e/1",
            },
        ],
    )


FORMATTED = (
    'Netværksmøde i <b>Aarhus</b> den 20. februar – <a href="https://samvirke.example/e/1">'
    "tilmeld dig</a>"
)
# Each copy starts with the network (the bot's name) and the organiser, in the reader's language.
LABEL_EN = "<b>📣 Samvirke · from Karen Jensen</b>\n\n"
LABEL_DA = "<b>📣 Samvirke · fra Karen Jensen</b>\n\n"


def scheduler_bot(request: RecordingRequest) -> Bot:
    return Bot(TOKEN, request=request, get_updates_request=RecordingRequest())


async def deliver_all(db: Database, harness: BotHarness, **options: Any) -> None:
    send = TelegramDelivery(
        db, scheduler_bot(harness.request), options=TelegramOptions(**options), clock=harness.clock
    )
    while (await send.run_once()).claimed:
        pass


# --- the whole flow ---------------------------------------------------------------------------


async def test_an_organiser_broadcasts_to_a_region_and_watches_it_go_out(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    chat = bot.chat
    replies = await chat.send(KAREN, "/broadcast")
    assert [m.text for m in replies] == [ASK_MESSAGE]

    replies = await write_formatted(bot, KAREN)
    assert [m.text for m in replies] == [WHO]
    assert replies[0].button_texts == [
        "Everyone",
        "A region",
        "A sector",
        "Cancel",
    ]  # no event is coming up, so no event button
    choice = replies[0]
    assert await chat.press(KAREN, choice, "A region") == []  # the question is edited
    assert choice.text == "Which region?"
    replies = await chat.press(KAREN, choice, "Region Midtjylland")

    assert [m.text for m in replies] == [
        SEE_IT,
        LABEL_EN + FORMATTED,
        "It goes to 8 members: the members in Region Midtjylland. Send it?",
    ]  # Karen and Lars live in Midtjylland too
    preview = bot.request.calls_of("sendMessage")[-2]
    assert (preview.params["text"], preview.params["parse_mode"]) == (
        LABEL_EN + FORMATTED,
        "HTML",
    )
    confirm = replies[-1]
    assert confirm.button_texts == [
        "Send to 8 members",
        "Choose another audience",
        "Change the message",
        "Cancel",
    ]

    assert await chat.press(KAREN, confirm, "Send to 8 members") == []
    assert confirm.text == "Sending your broadcast: sent 0 of 8."
    assert confirm.buttons == []

    rows = await outbox_rows(db, "broadcast:")
    assert len(rows) == 8
    # Karen and Lars read English, the six others Danish: each gets the label in their language.
    assert sorted(r.payload["text"] for r in rows.values()) == sorted(
        [LABEL_EN + FORMATTED] * 2 + [LABEL_DA + FORMATTED] * 6
    )

    # The scheduler delivers; two members have blocked the bot.
    blocked = network["midt"][:2]
    bot.request.blocked_chats.update(m.telegram_user_id for m in blocked)
    progress = BroadcastProgress(db, scheduler_bot(bot.request), clock=bot.clock)
    await deliver_all(db, bot, batch_size=3)
    for m in network["midt"][2:]:
        [received] = bot.request.sent_to(m.telegram_user_id)
        assert received.text == LABEL_DA + FORMATTED
    assert bot.request.sent_to(network["hoved"][0].telegram_user_id) == []
    assert (await member(db, blocked[0].id)).unreachable_at == bot.clock.now

    await progress.run_once()
    report = (
        "Your broadcast is done.\nDelivered: 6\n"
        "Unreachable (blocked the bot or left Telegram): 2\nFailed: 0"
    )
    # The progress message makes way for the report, which arrives once, as a message.
    assert confirm.message_id not in bot.request.messages
    await deliver_all(db, bot)
    assert [m.text for m in bot.request.sent_to(KAREN)].count(report) == 1
    assert bot.request.sent_to(KAREN)[-1].text == report
    assert not any("Your broadcast is done" in e.params["text"]
                   for e in bot.request.calls_of("editMessageText"))  # fmt: skip


async def test_progress_is_shown_while_it_goes_out(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    replies = await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(bot, KAREN, text="Hej alle")
    replies = await bot.chat.press(KAREN, replies[0], "Everyone")
    confirm = replies[-1]
    assert confirm.text == "It goes to 12 members: all members. Send it?"
    await bot.chat.press(KAREN, confirm, "Send to 12 members")
    progress = BroadcastProgress(db, scheduler_bot(bot.request), clock=bot.clock)
    send = TelegramDelivery(
        db,
        scheduler_bot(bot.request),
        options=TelegramOptions(batch_size=5),
        clock=bot.clock,
    )

    await send.run_once()
    await progress.run_once()
    assert confirm.text == "Sending your broadcast: sent 5 of 12."
    await send.run_once()
    bot.clock.advance(seconds=1)
    await progress.run_once()
    assert confirm.text == "Sending your broadcast: sent 5 of 12."  # at most every 3 seconds
    bot.clock.advance(seconds=2)
    await progress.run_once()
    assert confirm.text == "Sending your broadcast: sent 10 of 12."
    edits = len(bot.request.calls_of("editMessageText"))
    bot.clock.advance(seconds=3)
    await progress.run_once()
    assert len(bot.request.calls_of("editMessageText")) == edits  # nothing new, no edit
    await send.run_once()
    bot.clock.advance(seconds=3)
    await progress.run_once()
    assert confirm.message_id not in bot.request.messages  # made way for the report


async def test_a_photo_with_a_caption_goes_to_a_sector(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(
        bot,
        KAREN,
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
            {"file_id": "LARGE-PHOTO", "file_unique_id": "l", "width": 1280, "height": 853},
        ],
        caption="Program for mødet",
        caption_entities=[{"type": "italic", "offset": 0, "length": 7}],
    )
    assert [m.text for m in replies] == [WHO]
    await bot.chat.press(KAREN, replies[0], "A sector")
    replies = await bot.chat.press(KAREN, replies[0], "Business")
    assert replies[-1].text == "It goes to 3 members: the members in the sector Business. Send it?"
    [photo] = bot.request.calls_of("sendPhoto")
    assert (photo.params["photo"], photo.params["caption"]) == (
        "LARGE-PHOTO",
        LABEL_EN + "<i>Program</i> for mødet",
    )
    await bot.chat.press(KAREN, replies[-1], "Send to 3 members")
    await deliver_all(db, bot)
    sent = [c for c in bot.request.calls_of("sendPhoto") if int(c.params["chat_id"]) > FIRST_MEMBER]
    assert sorted(int(c.params["chat_id"]) for c in sent) == [
        m.telegram_user_id for m in network["hoved"]
    ]
    assert {c.params["parse_mode"] for c in sent} == {"HTML"}
    assert {c.params["caption"] for c in sent} == {LABEL_DA + "<i>Program</i> for mødet"}


async def test_a_document_can_be_broadcast(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(
        bot,
        KAREN,
        document={"file_id": "DOC-1", "file_unique_id": "d1", "file_name": "deltagere.pdf"},
    )
    replies = await bot.chat.press(KAREN, replies[0], "Everyone")
    await bot.chat.press(KAREN, replies[-1], "Send to 12 members")
    rows = await outbox_rows(db, "broadcast:")
    assert {r.payload.get("document") for r in rows.values()} == {"DOC-1"}
    # Without a caption, the label alone says who sent the file.
    assert {r.payload["text"] for r in rows.values()} == {LABEL_EN.strip(), LABEL_DA.strip()}


async def test_an_organiser_for_one_region_broadcasts_to_it(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    await bot.chat.send(METTE, "/broadcast")
    replies = await send_update(bot, METTE, text="Hej Hovedstaden")
    assert replies[0].button_texts == ["Everyone in Region Hovedstaden", "A sector", "Cancel"]
    await bot.chat.press(METTE, replies[0], "A sector")
    replies = await bot.chat.press(METTE, replies[0], "Foundation")
    assert replies[-1].text == (
        "No member in this audience can get it (the members in the sector Foundation in "
        "Region Hovedstaden). Please choose another one."
    )
    assert "Send to" not in " ".join(replies[-1].button_texts)
    replies = await bot.chat.press(METTE, replies[-1], "Choose another audience")
    replies = await bot.chat.press(METTE, replies[-1], "Everyone in Region Hovedstaden")
    assert replies[-1].text == (
        "It goes to 4 members: all members in Region Hovedstaden. Send it?"
    )  # Mette herself and the three business members


async def test_the_members_going_to_an_event(
    bot: BotHarness, db: Database, network: dict[str, Any], now: dt.datetime
) -> None:
    async with db.unit_of_work() as uow:
        event = Event(
            uid="e1@samvirke.test",
            title="Innovation på det sociale område",
            starts_at=now + dt.timedelta(days=3),
            ends_at=now + dt.timedelta(days=3, hours=4),
            timezone="Europe/Copenhagen",
            region_id=(await region_ids(db))["midtjylland"],
            checkin_code="XYZ789",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(event)
        await uow.session.flush()
        for m in network["midt"][:3]:
            uow.session.add(Rsvp(event_id=event.id, member_id=m.id, status="going"))
        await uow.commit()

    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(bot, KAREN, text="Husk mødet på torsdag")
    assert "Members going to an event" in replies[0].button_texts
    await bot.chat.press(KAREN, replies[0], "Members going to an event")
    assert replies[0].text == "The members going to which event?"
    [event_button, back] = replies[0].button_texts
    assert event_button == "28 Nov 13:00 Innovation på det sociale område"
    replies = await bot.chat.press(KAREN, replies[0], event_button)
    assert replies[-1].text == (
        "It goes to 3 members: the members going to Innovation på det sociale område "
        "(28 Nov 13:00). Send it?"
    )
    del back


# --- mistakes, second thoughts, double taps, restarts ----------------------------------------


async def test_members_and_strangers_cannot_broadcast(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    assert [m.text for m in await bot.chat.send(LARS, "/broadcast")] == [ORGANISERS_ONLY]
    bot.chat.user(9999, language_code="en")
    assert [m.text for m in await bot.chat.send(9999, "/broadcast")] == [ORGANISERS_ONLY]


async def test_broken_markup_and_wrong_input_get_the_question_again(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    await bot.chat.send(KAREN, "/broadcast")
    # Plain text with angle brackets is escaped, not refused.
    replies = await send_update(bot, KAREN, text="1 < 2 & <b>")
    assert [m.text for m in replies] == [WHO]
    question = replies[0]
    replies = await bot.chat.send(KAREN, "hello?")
    # One message: what was wrong and the same question, with its buttons.
    assert [m.text for m in replies] == [asked_again("Please choose one of the buttons.", WHO)]
    assert "Everyone" in replies[0].button_texts
    stale = copy.deepcopy(question)  # as a member still sees it, buttons and all
    replies = await bot.chat.press(KAREN, question, "Everyone")
    assert replies[1].text == LABEL_EN + "1 &lt; 2 &amp; &lt;b&gt;"  # shown as typed
    confirm = replies[-1]
    send_it = "It goes to 12 members: all members. Send it?"
    assert confirm.text == send_it
    # Text where a button is wanted, and a button of an earlier question: the question again
    # (not the whole preview), and the old button stops working.
    replies = await bot.chat.send(KAREN, "yes")
    assert [m.text for m in replies] == [asked_again("Please choose one of the buttons.", send_it)]
    replies = await bot.chat.press(KAREN, stale, "Everyone")
    assert [m.text for m in replies][-1] == asked_again(
        "That button belongs to an earlier question.", send_it
    )
    assert replies[-1].button_texts == confirm.button_texts
    too_long = "x" * 3937  # Telegram's 4,096 less the room kept for the label
    replies = await bot.chat.press(KAREN, replies[-1], "Change the message")
    assert [m.text for m in replies] == [ASK_MESSAGE]
    replies = await send_update(bot, KAREN, text=too_long)
    assert [m.text for m in replies] == [
        asked_again("That message is too long: at most 3936 characters, please.", ASK_MESSAGE)
    ]
    replies = await bot.chat.send(KAREN, "/members")
    assert [m.text for m in replies] == [
        asked_again(
            "You are writing a broadcast. Please go on, or send /cancel to stop.", ASK_MESSAGE
        )
    ]
    replies = await bot.chat.send(KAREN, "/cancel")
    assert [m.text for m in replies] == ["Broadcast cancelled. Nothing was sent."]
    assert await outbox_rows(db, "broadcast:") == {}


async def test_a_double_tap_on_send_sends_once(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(bot, KAREN, text="Hej")
    replies = await bot.chat.press(KAREN, replies[0], "Everyone")
    confirm = replies[-1]
    stale = copy.deepcopy(confirm)
    await bot.chat.press(KAREN, confirm, "Send to 12 members")
    await bot.chat.press(KAREN, stale, "Send to 12 members")  # the button pressed again
    async with db.unit_of_work() as uow:
        assert len((await uow.session.scalars(select(Broadcast))).all()) == 1
    assert len(await outbox_rows(db, "broadcast:")) == 12


async def test_a_restart_of_the_bot_keeps_the_draft(
    db: Database, now: dt.datetime, bot: BotHarness, network: dict[str, Any]
) -> None:
    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(bot, KAREN, text="Hej efter genstart")
    replies = await bot.chat.press(KAREN, replies[0], "Everyone")
    confirm = replies[-1]
    await bot.app.update_persistence()

    after = await start_bot(db, Clock(now + dt.timedelta(minutes=5)))
    try:
        after.chat.user(KAREN, "Karen", "Jensen", language_code="en")
        await after.chat.press(KAREN, confirm, "Send to 12 members")
    finally:
        await stop_bot(after)
    rows = await outbox_rows(db, "broadcast:")
    assert len(rows) == 12
    assert {r.payload["text"].split("\n\n")[-1] for r in rows.values()} == {"Hej efter genstart"}


async def test_a_restart_mid_broadcast_resumes_without_resending(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(bot, KAREN, text="Hej igen")
    replies = await bot.chat.press(KAREN, replies[0], "Everyone")
    confirm = replies[-1]
    await bot.chat.press(KAREN, confirm, "Send to 12 members")
    options = TelegramOptions(batch_size=4, lease=dt.timedelta(minutes=5))

    # A worker sends four, then claims four more and dies before sending them.
    first = TelegramDelivery(db, scheduler_bot(bot.request), options=options, clock=bot.clock)
    assert (await first.run_once()).sent == 4
    from storage import outbox

    await outbox.claim(
        db.unit_of_work(), channel="telegram", limit=4, now=bot.clock.now, lease=options.lease
    )
    # A new worker: the rows in flight wait for their lease; nothing is sent twice.
    bot.clock.advance(minutes=6)
    await deliver_all(db, bot, batch_size=4)
    await BroadcastProgress(db, scheduler_bot(bot.request), clock=bot.clock).run_once()

    audience = [KAREN, METTE, LARS] + [
        m.telegram_user_id for m in network["midt"] + network["hoved"]
    ]
    for chat_id in audience:
        received = [m for m in bot.request.sent_to(chat_id) if m.text.endswith("\n\nHej igen")]
        assert len(received) == (2 if chat_id == KAREN else 1), chat_id  # Karen: + preview
    await deliver_all(db, bot)
    assert bot.request.sent_to(KAREN)[-1].text.startswith(
        "Your broadcast is done.\nDelivered: 12\n"
    )


# --- members blocking and unblocking the bot ---------------------------------------------------


async def chat_member_update(harness: BotHarness, user_id: int, old: str, new: str) -> None:
    bot_user = {"id": 999_000, "is_bot": True, "first_name": "Samvirke"}
    data = {
        "update_id": next(_ids),
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private"},
            "from": harness.chat._from(user_id),
            "date": int(dt.datetime.now(dt.UTC).timestamp()),
            "old_chat_member": {"user": bot_user, "status": old, "until_date": 0},
            "new_chat_member": {"user": bot_user, "status": new, "until_date": 0},
        },
    }
    await harness.app.process_update(Update.de_json(data, harness.app.bot))


async def test_telegram_says_when_a_member_blocks_and_unblocks_the_bot(
    bot: BotHarness, db: Database, network: dict[str, Any]
) -> None:
    lars = await find_member(db, LARS)
    await chat_member_update(bot, LARS, "member", "kicked")
    assert (await member(db, lars.id)).unreachable_at == bot.clock.now

    await bot.chat.send(KAREN, "/broadcast")
    replies = await send_update(bot, KAREN, text="Hej")
    replies = await bot.chat.press(KAREN, replies[0], "Everyone")
    assert replies[-1].text == "It goes to 11 members: all members. Send it?"  # not Lars

    await chat_member_update(bot, LARS, "kicked", "member")
    assert (await member(db, lars.id)).unreachable_at is None
