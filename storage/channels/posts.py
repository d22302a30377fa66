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

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.errors import NotAllowed, NotFound
from storage.events import rules
from storage.events.views import EventView, load, view_with_counts
from storage.models import BotChat, ChatPost, ChatPurpose, Event, EventStatus, Region
from storage.permissions import Actor
from storage.uow import UnitOfWork
from templates import channel_cards
from templates.channel_cards import Buttons
from templates.i18n import translator

EDIT_INTERVAL = dt.timedelta(minutes=1)
CHAT_EDITS_PER_MINUTE = 20
# Posts of events that ended longer ago than this are left as they are.
KEEP_TRUE_AFTER_END = dt.timedelta(days=1)


@dataclass(frozen=True)
class Announced:
    chat_title: str
    new: bool  # False: the event was posted in this chat already


def _card(view: EventView, chat: BotChat, links: channel_cards.Links) -> tuple[str, Buttons]:
    """The card's text and buttons as they are now, for this chat."""
    return channel_cards.text(view, links.language), channel_cards.buttons(view, chat.kind, links)


async def _queue_post(
    session: AsyncSession,
    chat: BotChat,
    card: tuple[str, Buttons],
    *,
    key: str,
    now: dt.datetime,
    **extra: object,
) -> bool:
    """Queue a post (or, with ``message_id`` in ``extra``, an edit) of ``card`` in the chat."""
    return await outbox.enqueue(
        session,
        key=key,
        channel=outbox.TELEGRAM,
        member_id=None,
        payload={"chat_id": chat.chat_id, **channel_cards.payload(*card), **extra},
        now=now,
    )


def _posts_of_events(
    *conditions: ColumnElement[bool],
) -> Select[ChatPost, BotChat, Event, str]:
    """Posts with their chat (an active one), event and region name, locked (posts another
    worker holds are skipped), oldest first."""
    return (
        select(ChatPost, BotChat, Event, Region.name)
        .join(BotChat, ChatPost.bot_chat_id == BotChat.id)
        .join(Event, ChatPost.event_id == Event.id)
        .outerjoin(Region, Event.region_id == Region.id)
        .where(BotChat.active.is_(True), ChatPost.message_id.is_not(None), *conditions)
        .order_by(ChatPost.id)
        .with_for_update(of=ChatPost, skip_locked=True)
    )


async def _recent_edits(session: AsyncSession, chat: BotChat, now: dt.datetime) -> int:
    """How many edits were queued in the chat within the last ``EDIT_INTERVAL``."""
    count = await session.scalar(
        select(func.count())
        .select_from(ChatPost)
        .where(ChatPost.bot_chat_id == chat.id, ChatPost.edited_at > now - EDIT_INTERVAL)
    )
    return int(count or 0)


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
        card = _card(await view_with_counts(session, event, region_name), chat, links)
        post = ChatPost(
            bot_chat_id=chat.id,
            event_id=event.id,
            shown=channel_cards.fingerprint(*card),
            created_at=now,
        )
        session.add(post)
        await session.flush()
        await _queue_post(
            session, chat, card, key=f"chatpost:{chat.id}:{event.id}", now=now, post_id=post.id
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
            await session.execute(_posts_of_events(Event.ends_at > now - KEEP_TRUE_AFTER_END))
        ).all()
        recent: dict[int, int] = {}
        for post, chat, event, region_name in rows:
            if post.edited_at is not None and now - post.edited_at < EDIT_INTERVAL:
                continue
            if chat.id not in recent:
                recent[chat.id] = await _recent_edits(session, chat, now)
            if recent[chat.id] >= CHAT_EDITS_PER_MINUTE:
                continue
            card = _card(await view_with_counts(session, event, region_name), chat, links)
            shown = channel_cards.fingerprint(*card)
            if shown == post.shown:
                continue
            post.edits += 1
            post.shown = shown
            post.edited_at = now
            recent[chat.id] += 1
            await _queue_post(
                session,
                chat,
                card,
                key=f"chatpost-edit:{post.id}:{post.edits}",
                now=now,
                message_id=post.message_id,
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
                _posts_of_events(
                    BotChat.purpose == ChatPurpose.REMINDERS,
                    ChatPost.reminded.is_(False),
                    Event.status == EventStatus.PUBLISHED,
                    Event.starts_at > now,
                    Event.starts_at <= now + REMINDER_BEFORE,
                )
            )
        ).all()
        t = translator(links.language)
        for post, chat, event, region_name in rows:
            text, buttons = _card(await view_with_counts(session, event, region_name), chat, links)
            post.reminded = True
            if await _queue_post(
                session,
                chat,
                (t("Reminder: tomorrow") + "\n" + text, buttons),
                key=f"chatpost-reminder:{post.id}",
                now=now,
            ):
                queued += 1
        await uow.commit()
    return queued
