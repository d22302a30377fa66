"""SQLAlchemy models: the system of record. Changes go through Alembic migrations.

One module per area; every model is importable from here, and importing this package registers
all tables on ``Base.metadata`` (which the migrations compare against).
"""

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.bot_state import BotConversation, BotUserData
from storage.models.broadcasts import AudienceKind, Broadcast, MediaKind
from storage.models.events import CheckIn, Event, EventStatus, Rsvp, RsvpStatus
from storage.models.members import (
    AuditEntry,
    DigestFrequency,
    EmailCodeSend,
    EmailVerification,
    Member,
    Region,
    Role,
    Sector,
)
from storage.models.outbox import OutboxMessage, OutboxStatus
from storage.models.scheduling import SchedulerRun
from storage.models.timebank import (
    AccountKind,
    ContactStatus,
    EntryKind,
    ExchangeStatus,
    ListingKind,
    ListingStatus,
    TimebankAccount,
    TimebankCategory,
    TimebankContactRequest,
    TimebankCoordinator,
    TimebankEntry,
    TimebankExchange,
    TimebankListing,
)

__all__ = [
    "AccountKind",
    "AudienceKind",
    "AuditEntry",
    "Base",
    "BotConversation",
    "BotUserData",
    "Broadcast",
    "CheckIn",
    "ContactStatus",
    "DigestFrequency",
    "EmailCodeSend",
    "EmailVerification",
    "EntryKind",
    "Event",
    "EventStatus",
    "ExchangeStatus",
    "ListingKind",
    "ListingStatus",
    "MediaKind",
    "Member",
    "OutboxMessage",
    "OutboxStatus",
    "Region",
    "Role",
    "Rsvp",
    "RsvpStatus",
    "SchedulerRun",
    "Sector",
    "TimebankAccount",
    "TimebankCategory",
    "TimebankContactRequest",
    "TimebankCoordinator",
    "TimebankEntry",
    "TimebankExchange",
    "TimebankListing",
    "UTCDateTime",
    "utcnow",
]
