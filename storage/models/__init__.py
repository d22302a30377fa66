"""SQLAlchemy models: the system of record. Changes go through Alembic migrations.

One module per area; every model is importable from here, and importing this package registers
all tables on ``Base.metadata`` (which the migrations compare against).
"""

from storage.models.base import Base, UTCDateTime
from storage.models.bot_state import BotConversation, BotUserData
from storage.models.broadcasts import AudienceKind, Broadcast, MediaKind
from storage.models.channels import BotChat, ChatKind, ChatPost, ChatPurpose
from storage.models.events import CheckIn, Event, EventStatus, Rsvp, RsvpStatus
from storage.models.followup import EventFeedback, EventFollowUp
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
from storage.models.people import (
    Admission,
    AdmissionStatus,
    DirectoryEntry,
    Introduction,
    IntroductionStatus,
    Invitation,
    InvitationUse,
    MemberBlock,
    MemberTopic,
    ParticipantVisibility,
    Topic,
)
from storage.models.programme import EventMaterial, ProgrammeItem
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
    "Admission",
    "AdmissionStatus",
    "AudienceKind",
    "AuditEntry",
    "Base",
    "BotChat",
    "BotConversation",
    "BotUserData",
    "Broadcast",
    "ChatKind",
    "ChatPost",
    "ChatPurpose",
    "CheckIn",
    "ContactStatus",
    "DigestFrequency",
    "DirectoryEntry",
    "EmailCodeSend",
    "EmailVerification",
    "EntryKind",
    "Event",
    "EventFeedback",
    "EventFollowUp",
    "EventMaterial",
    "EventStatus",
    "ExchangeStatus",
    "Introduction",
    "IntroductionStatus",
    "Invitation",
    "InvitationUse",
    "ListingKind",
    "ListingStatus",
    "MediaKind",
    "Member",
    "MemberBlock",
    "MemberTopic",
    "OutboxMessage",
    "OutboxStatus",
    "ParticipantVisibility",
    "ProgrammeItem",
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
    "Topic",
    "UTCDateTime",
]
