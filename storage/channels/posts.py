"""Event posts in channels and groups, kept true through the outbox.

- ``announce``: the one post of an event in a chat (key ``chatpost:<chat>:<event>``; a second
  announce in the same chat is refused by that key and by the table's unique constraint).
- ``record_sent``: the delivery notes the post's message id, so it can be edited later.
- ``sync``: run every minute by the scheduler. For each post of an event that has not ended
  (or was cancelled lately) it compares the card as it is now with what was last queued, and
  queues an edit (key ``chatpost-edit:<post>:<n>``) when they differ, at most once per post per
  ``EDIT_INTERVAL`` and at most ``CHAT_EDITS_PER_MINUTE`` per chat: a burst of answers becomes
  one edit, and a group never hears more than Telegram allows.
- ``queue_reminders``: in chats meant for reminders too, a reminder post the day before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from storage import outbox
from storage.errors import NotAllowed, NotFound
from storage.events import rules
from storage.events.views import load, view_with_counts
from storage.models import BotChat, ChatPost, ChatPurpose, Event, EventStatus, Region
from storage.permissions import Actor
from storage.uow import UnitOfWork
from templates import channel_cards
from templates.i18n import translator

EDIT_INTERVAL = dt.timedelta(minutes=1)
CHAT_EDITS_PER_MINUTE = 20
# Posts of events that ended longer ago than this are left as they are.
KEEP_TRUE_AFTER_END = dt.timedelta(days=1)


@dataclass(frozen=True)
class Announced:
    chat_title: str
    new: bool  # False: the event was posted in this chat already


async def announce(
    uow: UnitOfWork,
    actor: Actor,
    event_id: int,
    chat_row_id: int,
    *,
    links: channel_cards.Links,
    now: dt.datetime,
) -> Announced:
    async with uow:
        session = uow.session
        event, region_name = await load(session, event_id, lock=False)
        rules.require_manager(actor, event.region_id)
        if event.status != EventStatus.PUBLISHED or event.ends_at <= now:
            raise NotAllowed("event_over" if event.ends_at <= now else "event_cancelled")
        chat = await session.get(BotChat, chat_row_id)
        if chat is None or not chat.active or not chat.can_post:
            raise NotFound("chat_not_found")
        existing = await session.scalar(
            select(ChatPost).where(ChatPost.bot_chat_id == chat.id, ChatPost.event_id == event.id)
        )
        if existing is not None:
            return Announced(chat.title, False)
        view = await view_with_counts(session, event, region_name)
        card_text = channel_cards.text(view, links.language)
        card_buttons = channel_cards.buttons(view, chat.kind, links)
        post = ChatPost(
            bot_chat_id=chat.id,
            event_id=event.id,
            shown=channel_cards.fingerprint(card_text, card_buttons),
            created_at=now,
        )
        session.add(post)
        await session.flush()
        await outbox.enqueue(
            session,
            key=f"chatpost:{chat.id}:{event.id}",
            channel=outbox.TELEGRAM,
            member_id=None,
            payload={
                "chat_id": chat.chat_id,
                **channel_cards.payload(card_text, card_buttons),
                "post_id": post.id,
            },
            now=now,
        )
        await uow.commit()
        return Announced(chat.title, True)


async def record_sent(uow: UnitOfWork, post_id: int, message_id: int) -> None:
    async with uow:
        post = await uow.session.get(ChatPost, post_id)
        if post is not None and post.message_id is None:
            post.message_id = message_id
            await uow.commit()


async def sync(uow: UnitOfWork, *, links: channel_cards.Links, now: dt.datetime) -> int:
    """Queue the edits that make posted copies true again; returns how many were queued."""
    queued = 0
    async with uow:
        session = uow.session
        rows = (
            await session.execute(
                select(ChatPost, BotChat, Event, Region.name)
                .join(BotChat, ChatPost.bot_chat_id == BotChat.id)
                .join(Event, ChatPost.event_id == Event.id)
                .outerjoin(Region, Event.region_id == Region.id)
                .where(
                    BotChat.active.is_(True),
                    ChatPost.message_id.is_not(None),
                    Event.ends_at > now - KEEP_TRUE_AFTER_END,
                )
                .order_by(ChatPost.id)
                .with_for_update(of=ChatPost, skip_locked=True)
            )
        ).all()
        recent: dict[int, int] = {}
        for post, chat, event, region_name in rows:
            if post.edited_at is not None and now - post.edited_at < EDIT_INTERVAL:
                continue
            if chat.id not in recent:
                recent[chat.id] = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(ChatPost)
                        .where(
                            ChatPost.bot_chat_id == chat.id,
                            ChatPost.edited_at > now - EDIT_INTERVAL,
                        )
                    )
                    or 0
                )
            if recent[chat.id] >= CHAT_EDITS_PER_MINUTE:
                continue
            view = await view_with_counts(session, event, region_name)
            card_text = channel_cards.text(view, links.language)
            card_buttons = channel_cards.buttons(view, chat.kind, links)
            shown = channel_cards.fingerprint(card_text, card_buttons)
            if shown == post.shown:
                continue
            post.edits += 1
            post.shown = shown
            post.edited_at = now
            recent[chat.id] += 1
            await outbox.enqueue(
                session,
                key=f"chatpost-edit:{post.id}:{post.edits}",
                channel=outbox.TELEGRAM,
                member_id=None,
                payload={
                    "chat_id": chat.chat_id,
                    **channel_cards.payload(card_text, card_buttons),
                    "message_id": post.message_id,
                },
                now=now,
            )
            queued += 1
        await uow.commit()
    return queued


REMINDER_BEFORE = dt.timedelta(days=1)


async def queue_reminders(uow: UnitOfWork, *, links: channel_cards.Links, now: dt.datetime) -> int:
    """In chats meant for reminders too: a reminder post the day before each event announced
    there (key ``chatpost-reminder:<post>``: once per post); returns how many were queued."""
    queued = 0
    async with uow:
        session = uow.session
        rows = (
            await session.execute(
                select(ChatPost, BotChat, Event, Region.name)
                .join(BotChat, ChatPost.bot_chat_id == BotChat.id)
                .join(Event, ChatPost.event_id == Event.id)
                .outerjoin(Region, Event.region_id == Region.id)
                .where(
                    BotChat.active.is_(True),
                    BotChat.purpose == ChatPurpose.REMINDERS,
                    ChatPost.reminded.is_(False),
                    ChatPost.message_id.is_not(None),
                    Event.status == EventStatus.PUBLISHED,
                    Event.starts_at > now,
                    Event.starts_at <= now + REMINDER_BEFORE,
                )
                .order_by(ChatPost.id)
                .with_for_update(of=ChatPost, skip_locked=True)
            )
        ).all()
        t = translator(links.language)
        for post, chat, event, region_name in rows:
            view = await view_with_counts(session, event, region_name)
            post.reminded = True
            if await outbox.enqueue(
                session,
                key=f"chatpost-reminder:{post.id}",
                channel=outbox.TELEGRAM,
                member_id=None,
                payload={
                    "chat_id": chat.chat_id,
                    **channel_cards.payload(
                        t("Reminder: tomorrow") + "\n" + channel_cards.text(view, links.language),
                        channel_cards.buttons(view, chat.kind, links),
                    ),
                },
                now=now,
            ):
                queued += 1
        await uow.commit()
    return queued
