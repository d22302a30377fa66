"""SQLAlchemy models: the system of record. Changes go through Alembic migrations.

One module per area; every model is importable from here, and importing this package registers
all tables on ``Base.metadata`` (which the migrations compare against).
"""

from samvirke.storage.models.base import Base, UTCDateTime, utcnow
from samvirke.storage.models.bot_state import BotConversation, BotUserData
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

__all__ = [
    "AuditEntry",
    "Base",
    "BotConversation",
    "BotUserData",
    "DigestFrequency",
    "EmailVerification",
    "Member",
    "OutboxMessage",
    "OutboxStatus",
    "Region",
    "Role",
    "Sector",
    "UTCDateTime",
    "utcnow",
]
