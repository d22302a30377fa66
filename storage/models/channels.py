"""The network's Telegram channels and groups the bot is an administrator in, and the event
posts it keeps true there."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.clock import utcnow
from storage.models.base import Base


class ChatKind(enum.StrEnum):
    CHANNEL = "channel"
    GROUP = "group"  # groups and supergroups


class ChatPurpose(enum.StrEnum):
    ANNOUNCEMENTS = "announcements"
    REMINDERS = "reminders"  # announcements and, the day before, a reminder post


class BotChat(Base):
    """A channel or group the bot was added to. ``active``: the bot is an administrator there
    now; a chat it left or was removed from stays, inactive, with its posts.

    ``region_ids``: comma-separated ids of the regions whose events it is for; empty for every
    region. ``configured``: the administrator who added the bot has answered what it is for.
    """

    __tablename__ = "bot_chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    can_post: Mapped[bool] = mapped_column(Boolean, default=False)
    can_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by_user_id: Mapped[int | None] = mapped_column(BigInteger)
    region_ids: Mapped[str] = mapped_column(String(200), default="")
    purpose: Mapped[str] = mapped_column(String(15), default=ChatPurpose.ANNOUNCEMENTS)
    configured: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    left_at: Mapped[dt.datetime | None]


class ChatPost(Base):
    """The one post of an event in a chat (unique per chat and event).

    ``message_id`` is known once the post went out. ``shown`` is a fingerprint of what the last
    queued copy shows; the scheduler queues an edit when the event's card differs from it, at
    most once a minute per post (``edited_at``), so a burst of answers becomes one edit.
    """

    __tablename__ = "bot_chat_posts"
    __table_args__ = (UniqueConstraint("bot_chat_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_chat_id: Mapped[int] = mapped_column(ForeignKey("bot_chats.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(Integer)
    shown: Mapped[str] = mapped_column(String(64), default="")
    edits: Mapped[int] = mapped_column(Integer, default=0)
    edited_at: Mapped[dt.datetime | None]
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
