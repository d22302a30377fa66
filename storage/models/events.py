"""Events (network meetings), members' answers to them (RSVPs, waitlist) and check-ins."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.clock import utcnow
from storage.models.base import Base


class EventStatus(enum.StrEnum):
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class RsvpStatus(enum.StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NOT_GOING = "not_going"
    WAITLIST = "waitlist"


class Event(Base):
    """A published network meeting. Drafts live in the organiser's conversation until Publish.

    ``uid`` is the iCalendar UID, fixed for the event's life; ``sequence`` is its iCalendar
    SEQUENCE, raised on every change attendees are told about (time, place, title, description)
    and on cancellation.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    # None: an event for the whole network (every region).
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL"), index=True
    )
    capacity: Mapped[int | None] = mapped_column(Integer)
    rsvp_deadline: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(12), default=EventStatus.PUBLISHED)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    checkin_code: Mapped[str] = mapped_column(String(12), unique=True)
    organiser_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    cancel_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]


class Rsvp(Base):
    """A member's answer to an event: going, maybe, not going, or waiting for a seat.

    ``version`` rises with every change of status (outbox keys of the messages a change causes
    use it). ``invite_sequence`` is the SEQUENCE of the last calendar message mailed to the
    member for this event (None: none yet); ``invite_active`` says whether that message was a
    REQUEST (their calendar holds the event) rather than a CANCEL.

    An erased member's row stays, anonymous (see storage.privacy.erase), so counts stay right.
    """

    __tablename__ = "rsvps"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id"),
        Index("ix_rsvps_event_status", "event_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer, default=1)
    responded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    going_since: Mapped[dt.datetime | None]
    waitlist_since: Mapped[dt.datetime | None]
    invite_sequence: Mapped[int | None] = mapped_column(Integer)
    invite_active: Mapped[bool] = mapped_column(default=False)


class CheckIn(Base):
    """A member marked present at an event: by sending its code, or by an organiser
    (``by_member_id``). Independent of the RSVP: walk-ins count as attended too."""

    __tablename__ = "check_ins"
    __table_args__ = (UniqueConstraint("event_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
