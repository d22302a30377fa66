"""The audit log: every change to a member's record or powers, with ids only, no personal data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


def record(
    session: AsyncSession,
    action: str,
    *,
    now: dt.datetime,
    member_id: int | None = None,
    actor_member_id: int | None = None,
    **details: Any,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            action=action,
            member_id=member_id,
            actor_member_id=actor_member_id,
            details=details,
        )
    )
