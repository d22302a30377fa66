"""SQLAlchemy models: the system of record. Changes go through Alembic migrations.

One module per area; every model is importable from here, and importing this package registers
all tables on ``Base.metadata`` (which the migrations compare against).
"""

from samvirke.storage.models.base import Base, UTCDateTime, utcnow
from samvirke.storage.models.bot_state import BotConversation, BotUserData
from samvirke.storage.models.broadcasts import AudienceKind, Broadcast, MediaKind
from samvirke.storage.models.events import CheckIn, Event, EventStatus, Rsvp, RsvpStatus
from samvirke.storage.models.members import (
    AuditEntry,
    DigestFrequency,
    EmailVerification,
    Member,
    Region,
    Role,
    Sector,
)
from samvirke.storage.models.outbox import OutboxMessage, OutboxStatus
from samvirke.storage.models.scheduling import SchedulerRun
from samvirke.storage.models.timebank import (
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
