"""After a meeting: the follow-up sent to its participants and the feedback they gave."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.clock import utcnow
from storage.models.base import Base


class EventFollowUp(Base):
    """That an event's follow-up went out, and when first (one row per event: the database
    decides who was first when an organiser's press and the scheduled job meet)."""

    __tablename__ = "event_followups"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class EventFeedback(Base):
    """A participant's rating (1–5) of an event and an optional comment. Shown to organisers
    without names. An erased member's row stays for the counts, without the comment."""

    __tablename__ = "event_feedback"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
