"""Members, their regions, e-mail verification and the audit log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.clock import utcnow
from storage.models.base import Base


class Sector(enum.StrEnum):
    CIVIL_SOCIETY = "civil_society"
    PUBLIC = "public"
    BUSINESS = "business"
    FOUNDATION = "foundation"
    ACADEMIA = "academia"


class Role(enum.StrEnum):
    MEMBER = "member"
    ORGANISER = "organiser"


class DigestFrequency(enum.StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    OFF = "off"


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Member(Base):
    """A person who started sign-up and gave consent. Personal columns are nulled on deletion."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    telegram_username: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified_at: Mapped[dt.datetime | None]
    organisation: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(2))
    digest_frequency: Mapped[str] = mapped_column(String(10), default=DigestFrequency.WEEKLY)
    role: Mapped[str] = mapped_column(String(12), default=Role.MEMBER)
    organiser_region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL")
    )
    # An organiser for every region: explicit, so that losing the region row (SET NULL above)
    # takes the organiser's powers away instead of widening them to the whole network.
    organiser_all_regions: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[dt.datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]
    # Set when Telegram refuses messages to the member (they blocked the bot, or their account
    # is gone); broadcasts and Telegram deliveries skip them until they write to the bot again.
    unreachable_at: Mapped[dt.datetime | None]

    region: Mapped[Region | None] = relationship(foreign_keys=[region_id], lazy="joined")
    organiser_region: Mapped[Region | None] = relationship(
        foreign_keys=[organiser_region_id], lazy="joined"
    )


class EmailVerification(Base):
    """The one pending verification code of a member (a new code replaces the old one)."""

    __tablename__ = "email_verifications"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=1)
    # Wrong tries since the address was last confirmed: a new code does not reset them.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    # After each run of wrong tries, no code is checked until then (the wait grows).
    locked_until: Mapped[dt.datetime | None]


class EmailCodeSend(Base):
    """One code mail sent: the throttle per member and per address counts these. The address
    is kept only as a keyed hash, and rows older than a day are deleted."""

    __tablename__ = "email_code_sends"
    __table_args__ = (Index("ix_email_code_sends_address_sent", "address_hash", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    address_hash: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime]


class AuditEntry(Base):
    """Who changed what and when. ``details`` never holds personal data, only ids and codes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(60))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
