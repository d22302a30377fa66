"""Broadcasts: an organiser's message to many members, delivered through the outbox."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.clock import utcnow
from storage.models.base import Base


class AudienceKind(enum.StrEnum):
    EVERYONE = "everyone"
    REGION = "region"
    SECTOR = "sector"
    EVENT = "event"


class MediaKind(enum.StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


class Broadcast(Base):
    """One confirmed broadcast.

    The recipients are snapshotted when the organiser confirms: one outbox row per member, keyed
    ``broadcast:{id}:{member_id}``, written in the same transaction as this row. Progress and the
    final report are counted from those rows; nothing here is updated per message.

    ``draft_key`` makes confirming idempotent (a double tap creates one broadcast).
    ``progress_chat_id``/``progress_message_id`` is the organiser's message that the scheduler
    edits with the progress, at most once per few seconds (``progress_at``, ``progress_shown``).
    ``finished_at`` is set, with the report queued, once no row is waiting any more.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_key: Mapped[str] = mapped_column(String(100), unique=True)
    author_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    # Telegram HTML (validated: only the tags Telegram knows, balanced, safe links).
    text: Mapped[str] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(10))
    media_file_id: Mapped[str | None] = mapped_column(String(255))
    audience_kind: Mapped[str] = mapped_column(String(10))
    # The region id, sector code or event id the audience names (None for everyone).
    audience_value: Mapped[str | None] = mapped_column(String(40))
    # An organiser for one region reaches only members of that region, whatever the audience.
    scope_region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL")
    )
    total: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(2))
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(Integer)
    progress_at: Mapped[dt.datetime | None]
    progress_shown: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(index=True)
