"""The timebank: accounts, the double-entry ledger, exchanges, listings and contact requests.

Hours are integer minutes everywhere. A ledger entry moves ``minutes`` from its debit account
to its credit account; an account's balance is what was credited to it minus what was debited
from it, so the balances of all accounts always sum to zero. Entries are never changed or
deleted (the migration adds triggers that refuse it); a correction is a new entry.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.clock import utcnow
from storage.models.base import Base


class AccountKind(enum.StrEnum):
    MEMBER = "member"
    ORGANISATION = "organisation"


class EntryKind(enum.StrEnum):
    EXCHANGE = "exchange"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"


class ExchangeStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ListingKind(enum.StrEnum):
    OFFER = "offer"
    REQUEST = "request"


class ListingStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"


class ContactStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class TimebankCategory(Base):
    """What help is about (managed by the administrators); removed ones stay for old listings."""

    __tablename__ = "timebank_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TimebankAccount(Base):
    """One per member (made when first needed) and one per organisation account.

    ``balance_minutes`` is a cache of the ledger (credits minus debits), changed only in the
    transaction that writes the entry, under a row lock; ``timebank.check_ledger`` compares it
    with the entries. ``min_/max_balance_minutes`` override the configured limits when set.
    """

    __tablename__ = "timebank_accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'member' AND member_id IS NOT NULL AND name IS NULL) OR "
            "(kind = 'organisation' AND member_id IS NULL AND name IS NOT NULL)",
            name="owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    sector: Mapped[str | None] = mapped_column(String(20))
    balance_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_balance_minutes: Mapped[int | None] = mapped_column(Integer)
    max_balance_minutes: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TimebankCoordinator(Base):
    """A member who runs an organisation account: logs and confirms exchanges for it."""

    __tablename__ = "timebank_coordinators"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("timebank_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TimebankListing(Base):
    """An offer of help or a request for help, posted by a member."""

    __tablename__ = "timebank_listings"
    __table_args__ = (Index("ix_timebank_listings_browse", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("timebank_categories.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=ListingStatus.ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TimebankContactRequest(Base):
    """ "Contact" on a listing: the poster decides whether both are introduced."""

    __tablename__ = "timebank_contact_requests"
    __table_args__ = (UniqueConstraint("listing_id", "requester_member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("timebank_listings.id"))
    requester_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=ContactStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]


class TimebankExchange(Base):
    """Hours one side says were given: they move only when the other side confirms.

    ``initiator_account_id`` is the side that logged it (giver or receiver); the other side
    confirms. ``request_key`` makes a double-tapped "Send" create one exchange.
    """

    __tablename__ = "timebank_exchanges"
    __table_args__ = (
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("giver_account_id <> receiver_account_id", name="two_accounts"),
        Index("ix_timebank_exchanges_due", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    giver_account_id: Mapped[int] = mapped_column(ForeignKey("timebank_accounts.id"), index=True)
    receiver_account_id: Mapped[int] = mapped_column(ForeignKey("timebank_accounts.id"), index=True)
    initiator_account_id: Mapped[int] = mapped_column(ForeignKey("timebank_accounts.id"))
    initiated_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("timebank_listings.id", ondelete="SET NULL")
    )
    request_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=ExchangeStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
    decided_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class TimebankEntry(Base):
    """One immutable ledger entry: ``minutes`` debited from one account, credited to another.

    A confirmed exchange has exactly one entry (``exchange_id`` is unique); an entry is
    reversed at most once (``reverses_entry_id`` is unique).
    """

    __tablename__ = "timebank_entries"
    __table_args__ = (
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("timebank_accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("timebank_accounts.id"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    exchange_id: Mapped[int | None] = mapped_column(
        ForeignKey("timebank_exchanges.id"), unique=True
    )
    reverses_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("timebank_entries.id"), unique=True
    )
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
