"""The audit log: every change to a member's record or powers, with ids only, no personal data."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.models import AuditEntry

# What an operator wants in the log (one line each, ids only), written once the change is
# committed: the audit entry is the one place every such change passes.
OPERATOR_LINES = {
    "member.registered": "member joined",
    "email.verified": "member verified their e-mail",
    "member.role_changed": "member's role changed",
    "privacy.erased": "member erased",
    "member.unreachable": "member blocked the bot",
    "event.created": "event published",
    "event.cancelled": "event cancelled",
    "broadcast.created": "broadcast started",
    "broadcast.finished": "broadcast finished",
}
_PENDING = "samvirke_operator_lines"
log = logging.getLogger("samvirke.activity")


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
    if action in OPERATOR_LINES:
        ids = {"member": member_id, "by": actor_member_id}
        ids |= {k: v for k, v in details.items() if k.endswith("_id") and type(v) is int}
        fields = " ".join(f"{k}={v}" for k, v in ids.items() if v is not None)
        session.info.setdefault(_PENDING, []).append(f"{OPERATOR_LINES[action]}: {fields}")


@event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for line in session.info.pop(_PENDING, []):
        log.info("%s", line)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
