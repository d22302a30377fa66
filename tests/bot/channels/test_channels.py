"""Channels and groups through the real Application with real ``Update`` objects: the bot added
to a channel as administrator (``my_chat_member``), the administrator asked what it is for,
``/channels``, removal, "Announce in …" after publishing (one post per event per chat), and
Going / Maybe / Can't go pressed in a group by a member and by someone who has not signed up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import BotChat
from storage.uow import Database
from tests.bot.events.test_organiser import ANNE, draft_until_preview, saved_events
from tests.support.botkit import (
    BOT_ID,
    BOT_USERNAME,
    BotHarness,
    Clock,
    SentMessage,
    sign_up_member,
    start_bot,
    stop_bot,
    verify_member,
)
from tests.support.events_kit import NOW, outbox, statuses

CHANNEL = -100_111
GROUP = -100_222


def bot_member(status: str, **rights: bool) -> dict[str, Any]:
    member: dict[str, Any] = {
        "user": {"id": BOT_ID, "is_bot": True, "first_name": "Samvirke"},
        "status": status,
    }
    if status == "administrator":
        member |= {
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": False,
            "can_restrict_members": False,
            "can_promote_members": False,
            "can_change_info": False,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
        } | rights
    return member


def membership(chat_id: int, kind: str, title: str, by: int, old: str, new: str) -> dict[str, Any]:
    rights = {"can_post_messages": True, "can_edit_messages": True} if kind == "channel" else {}
    return {
        "chat": {"id": chat_id, "type": kind, "title": title},
        "from": by,
        "date": int(NOW.timestamp()),
        "old_chat_member": bot_member(old),
        "new_chat_member": bot_member(new, **rights),
    }


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[BotHarness]:
    harness = await start_bot(
        db, Clock(NOW), public_url="https://samvirke.example.org", default_language="en"
    )
    harness.chat.user(ANNE, first_name="Anne", language_code="en")
    harness.chat.user(77, first_name="Karen", language_code="en")
    harness.chat.user(4242, first_name="Ola", language_code="en")
    yield harness
    await stop_bot(harness)


async def chats(db: Database) -> list[BotChat]:
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(BotChat).order_by(BotChat.id))).all()
        uow.session.expunge_all()
        return list(rows)


async def setup_question(db: Database) -> SentMessage:
    """The outbox message that asks the administrator, as it reaches their chat."""
    [row] = await outbox(db, "chat-setup:")
    buttons = [b for line in row.payload["buttons"] for b in line]
    return SentMessage(9_000 + row.id, row.payload["chat_id"], row.payload["text"], buttons)


async def add_channel(bot: BotHarness, db: Database, *, chat_id: int = CHANNEL) -> None:
    kind, title = ("channel", "Samvirke Midt") if chat_id == CHANNEL else ("supergroup", "Midt")
    await bot.chat.send_update("my_chat_member", membership(chat_id, kind, title, ANNE, "left",
                                                           "administrator"))  # fmt: skip
    question = await setup_question(db) if chat_id == CHANNEL else None
    if question is None:
        [row] = [r for r in await chats(db) if r.chat_id == chat_id]
        question = SentMessage(1, ANNE, "", [{"text": "x", "callback_data": f"chn:show:{row.id}"}])
        [screen] = await bot.chat.press(ANNE, question, "x")
    else:
        [screen] = await bot.chat.press(ANNE, question, "Set it up")
    await bot.chat.press(ANNE, screen, "Region Midtjylland")
    await bot.chat.press(ANNE, bot.request.messages[screen.message_id], "Announcements only")


async def test_an_administrator_adds_the_bot_to_a_channel_and_says_what_it_is_for(
    bot: BotHarness, db: Database
) -> None:
    await bot.chat.send_update(
        "my_chat_member",
        membership(CHANNEL, "channel", "Samvirke Midt", ANNE, "left", "administrator"),
    )
    [chat] = await chats(db)
    assert (chat.chat_id, chat.kind, chat.title, chat.active) == (
        CHANNEL, "channel", "Samvirke Midt", True,
    )  # fmt: skip
    assert (chat.can_post, chat.can_edit, chat.configured) == (True, True, False)
    question = await setup_question(db)
    assert question.chat_id == ANNE
    assert "“Samvirke Midt”" in question.text

    [screen] = await bot.chat.press(ANNE, question, "Set it up")
    assert "Choose what the chat is for" in screen.text
    assert "✓ All regions" in screen.button_texts
    await bot.chat.press(ANNE, screen, "Region Midtjylland")
    screen = bot.request.messages[screen.message_id]
    assert "✓ Region Midtjylland" in screen.button_texts
    await bot.chat.press(ANNE, screen, "Also reminders")
    screen = bot.request.messages[screen.message_id]
    assert "Posts: announcements and reminders" in screen.text
    [chat] = await chats(db)
    assert (chat.configured, chat.purpose) == (True, "reminders")

    [listing] = await bot.chat.send(ANNE, "/channels")
    assert "Samvirke Midt – channel (can post, can edit)" in listing.text

    # A second "added" for the same chat asks nothing new and keeps one row.
    await bot.chat.send_update(
        "my_chat_member",
        membership(CHANNEL, "channel", "Samvirke Midt", ANNE, "administrator", "administrator"),
    )
    assert len(await chats(db)) == 1
    assert len(await outbox(db, "chat-setup:")) == 1


async def test_removing_the_bot_from_a_chat_is_noticed(bot: BotHarness, db: Database) -> None:
    await bot.chat.send_update(
        "my_chat_member", membership(GROUP, "supergroup", "Midt", ANNE, "left", "administrator")
    )
    await bot.chat.send_update(
        "my_chat_member", membership(GROUP, "supergroup", "Midt", 4242, "administrator", "left")
    )
    [chat] = await chats(db)
    assert chat.active is False
    assert chat.left_at is not None
    [listing] = await bot.chat.send(ANNE, "/channels")
    assert listing.text.startswith("I am in no channel or group yet.")


async def test_only_administrators_see_channels(bot: BotHarness, db: Database) -> None:
    await sign_up_member(bot, 77, first_name="Karen", email="karen@example.dk")
    [reply] = await bot.chat.send(77, "/channels")
    assert reply.text == "Sorry, that is for administrators."
    # Someone who is not an administrator of Samvirke adds the bot: it is recorded, nobody is
    # asked in private (an administrator sets it up with /channels).
    await bot.chat.send_update(
        "my_chat_member", membership(GROUP, "supergroup", "Midt", 77, "left", "administrator")
    )
    assert len(await chats(db)) == 1
    assert await outbox(db, "chat-setup:") == []


async def publish_with_offer(bot: BotHarness, db: Database) -> tuple[int, SentMessage]:
    await sign_up_member(bot, ANNE, first_name="Anne", email="anne@example.dk")
    await verify_member(bot, db, ANNE)
    await add_channel(bot, db)
    await add_channel(bot, db, chat_id=GROUP)
    preview = await draft_until_preview(bot)
    replies = await bot.chat.press(ANNE, preview, "Publish")
    [event] = await saved_events(db)
    offer = replies[-1]
    assert offer.text == "Announce it in the network's channels and groups?"
    assert offer.button_texts == ["Announce in Midt", "Announce in Samvirke Midt"]
    return event.id, offer


async def test_announcing_posts_once_per_chat_with_the_right_buttons(
    bot: BotHarness, db: Database
) -> None:
    event_id, offer = await publish_with_offer(bot, db)
    await bot.chat.press(ANNE, offer, "Announce in Samvirke Midt")
    await bot.chat.press(ANNE, offer, "Announce in Samvirke Midt")  # a double tap
    await bot.chat.press(ANNE, offer, "Announce in Midt")
    toasts = [c.params.get("text") for c in bot.request.calls_of("answerCallbackQuery")][-3:]
    assert toasts == [
        "Announced in Samvirke Midt.",
        "It is posted in Samvirke Midt already.",
        "Announced in Midt.",
    ]
    rows = {row.payload["chat_id"]: row for row in await outbox(db, "chatpost:")}
    assert set(rows) == {CHANNEL, GROUP}
    deep = f"https://t.me/{BOT_USERNAME}?start=event_{event_id}"
    page = f"https://samvirke.example.org/events/{event_id}"
    assert rows[CHANNEL].payload["buttons"] == [
        [
            {"text": "Sign up / answer in Telegram", "url": deep},
            {"text": "Event page", "url": page},
        ]
    ]
    group_buttons = rows[GROUP].payload["buttons"]
    assert [b["text"] for b in group_buttons[0]] == ["Going", "Maybe", "Can't go"]
    assert group_buttons[1] == rows[CHANNEL].payload["buttons"][0]
    assert "36 seats left" in rows[GROUP].payload["text"]


async def test_going_in_a_group_works_for_members_and_invites_the_others(
    bot: BotHarness, db: Database
) -> None:
    event_id, offer = await publish_with_offer(bot, db)
    await bot.chat.press(ANNE, offer, "Announce in Midt")
    [row] = [r for r in await outbox(db, "chatpost:") if r.payload["chat_id"] == GROUP]
    post = SentMessage(
        5_000, GROUP, row.payload["text"], [b for line in row.payload["buttons"] for b in line]
    )
    await sign_up_member(bot, 77, first_name="Karen", email="karen@example.dk")
    before = len(bot.request.calls)
    replies = await bot.chat.press(77, post, "Going")
    assert replies == []  # nothing is said in the group (or anywhere) but the notice
    answer = bot.request.calls[before:]
    assert [c.method for c in answer] == ["answerCallbackQuery"]
    assert answer[0].params["text"].startswith("You are going!")
    assert "going" in (await statuses(db, event_id)).values()

    before = len(bot.request.calls)
    replies = await bot.chat.press(4242, post, "Maybe")  # has never signed up
    assert replies == []
    [call] = bot.request.calls[before:]
    assert call.method == "answerCallbackQuery"
    assert call.params["url"] == f"https://t.me/{BOT_USERNAME}?start=event_{event_id}"
    assert len(await statuses(db, event_id)) == 1

    # A forged button is answered quietly, never with an error in the group.
    forged = SentMessage(5_001, GROUP, "", [{"text": "x", "callback_data": "grp:99x:g"}])
    assert await bot.chat.press(77, forged, "x") == []
    unknown = SentMessage(5_002, GROUP, "", [{"text": "x", "callback_data": "grp:999999:g"}])
    assert await bot.chat.press(77, unknown, "x") == []
    assert bot.request.calls[-1].method == "answerCallbackQuery"
