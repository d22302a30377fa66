"""The member directory, its topics, introductions between members and blocks."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.clock import utcnow
from storage.models.base import Base


class IntroductionStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class DirectoryEntry(Base):
    """A member's answer about the directory (no row: not asked yet) and what they show."""

    __tablename__ = "directory_entries"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    listed: Mapped[bool] = mapped_column(default=False)
    can_help: Mapped[str | None] = mapped_column(String(200))
    looking_for: Mapped[str | None] = mapped_column(String(200))
    # Whether the e-mail address goes to the other side of an accepted introduction.
    share_email: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Topic(Base):
    """A topic members can mark on their card; administrators keep the list (``/topics``)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_da: Mapped[str] = mapped_column(String(60))
    name_sv: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MemberTopic(Base):
    __tablename__ = "member_topics"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )


class Introduction(Base):
    """A request to be put in touch (``organiser_member_id`` set: an organiser introduces two
    members). Contacts are shared only when both sides have accepted.

    The sectors and the region are copied at creation so that the connection figures survive
    the erasure of either side (then the member ids are nulled and the note removed)."""

    __tablename__ = "introductions"
    __table_args__ = (
        Index("ix_introductions_pair", "from_member_id", "to_member_id"),
        Index("ix_introductions_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    to_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    organiser_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=IntroductionStatus.PENDING)
    from_accepted_at: Mapped[dt.datetime | None]
    to_accepted_at: Mapped[dt.datetime | None]
    from_sector: Mapped[str | None] = mapped_column(String(20))
    to_sector: Mapped[str | None] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    reminder_count: Mapped[int] = mapped_column(Integer, default=0)


class MemberBlock(Base):
    """``blocker`` gets no further introduction requests from ``blocked`` (silently)."""

    __tablename__ = "member_blocks"

    blocker_member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AdmissionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class Invitation(Base):
    """An invitation link (``/start join_<code>``) for one person or for several."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class InvitationUse(Base):
    """One person signing up with an invitation (a second press by the same person is the same
    use)."""

    __tablename__ = "invitation_uses"
    __table_args__ = (UniqueConstraint("invitation_id", "telegram_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    used_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Admission(Base):
    """How a member came in: the invitation and who made it, and (approval mode) the decision."""

    __tablename__ = "admissions"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL")
    )
    invited_by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(10), default=AdmissionStatus.APPROVED)
    decided_by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ParticipantVisibility(Base):
    """A member's choice to be shown (or not) on an event's "Who was there" list; without a
    row, their directory choice applies."""

    __tablename__ = "participant_visibility"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    visible: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
