"""E-mail verification: a six-digit code by mail, 30 minutes to type it, at most 5 wrong tries."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.errors import DomainError, NotFound
from storage.models import EmailVerification, Member
from storage.uow import UnitOfWork

CODE_LIFETIME = dt.timedelta(minutes=30)
MAX_WRONG_TRIES = 5
RESEND_AFTER = dt.timedelta(seconds=60)


def _hash(member_id: int, code: str) -> str:
    return hashlib.sha256(f"{member_id}:{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


async def pending(session: AsyncSession, member_id: int) -> EmailVerification | None:
    """The member's code waiting to be typed, if any."""
    return waiting(await session.get(EmailVerification, member_id))


def waiting(row: EmailVerification | None) -> EmailVerification | None:
    """``row`` if its code still waits to be typed (a used code leaves an empty hash)."""
    return row if row is not None and row.code_hash else None


async def issue(
    session: AsyncSession, member: Member, email: str, *, now: dt.datetime
) -> EmailVerification:
    """Replace any pending code of the member by a new one and queue the mail with it."""
    code = new_code()
    pending = await session.get(EmailVerification, member.id)
    if pending is None:
        pending = EmailVerification(member_id=member.id, sequence=0)
        session.add(pending)
    pending.email = email
    pending.code_hash = _hash(member.id, code)
    pending.sequence = (pending.sequence or 0) + 1
    pending.attempts = 0
    pending.created_at = now
    pending.expires_at = now + CODE_LIFETIME
    await session.flush()
    await outbox.enqueue(
        session,
        key=f"verify:{member.id}:{pending.sequence}",
        channel=outbox.EMAIL,
        member_id=member.id,
        payload={
            "template": "verification",
            "language": member.language,
            "to_name": member.name,
            "to_email": email,
            "context": {
                "name": member.name,
                "code": code,
                "minutes": int(CODE_LIFETIME.total_seconds() // 60),
            },
        },
        now=now,
    )
    audit.record(
        session, "email.code_sent", now=now, member_id=member.id, sequence=pending.sequence
    )
    return pending


class CheckResult(enum.StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY_TRIES = "too_many_tries"
    NOTHING_PENDING = "nothing_pending"


@dataclass(frozen=True)
class Check:
    result: CheckResult
    email: str | None = None
    tries_left: int = 0


async def check(uow: UnitOfWork, member_id: int, code: str, *, now: dt.datetime) -> Check:
    code = "".join(code.split())
    async with uow:
        member = await uow.session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        waiting = await pending(uow.session, member_id)
        if waiting is None:
            return Check(CheckResult.NOTHING_PENDING)
        if waiting.attempts >= MAX_WRONG_TRIES:
            return Check(CheckResult.TOO_MANY_TRIES, waiting.email)
        if now >= waiting.expires_at:
            return Check(CheckResult.EXPIRED, waiting.email)
        if not hmac.compare_digest(waiting.code_hash, _hash(member_id, code)):
            waiting.attempts += 1
            audit.record(uow.session, "email.code_wrong", now=now, member_id=member_id)
            await uow.commit()
            left = MAX_WRONG_TRIES - waiting.attempts
            if left <= 0:
                return Check(CheckResult.TOO_MANY_TRIES, waiting.email)
            return Check(CheckResult.WRONG, waiting.email, tries_left=left)
        email = waiting.email
        member.email = email
        member.email_verified_at = now
        member.updated_at = now
        # The row stays (with no code) so that the next code continues its numbering.
        waiting.code_hash = ""
        waiting.attempts = 0
        audit.record(uow.session, "email.verified", now=now, member_id=member_id)
        # Meetings the member said Going to before the address was confirmed: invite now.
        from storage.events import notices as event_notices

        await event_notices.send_missed_invites(uow.session, member, now=now)
        await uow.commit()
        return Check(CheckResult.VERIFIED, email)


class ResendTooSoon(DomainError):
    code = "resend_too_soon"


async def resend(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> str:
    """A new code for the pending address (at most one a minute). Returns the address."""
    async with uow:
        member = await uow.session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        waiting = await pending(uow.session, member_id)
        if waiting is None:
            if member.email_verified_at is not None or not member.email:
                raise NotFound("nothing_pending")
            email = member.email
        else:
            if now - waiting.created_at < RESEND_AFTER:
                raise ResendTooSoon(
                    seconds=int((RESEND_AFTER - (now - waiting.created_at)).total_seconds()) + 1
                )
            email = waiting.email
        await issue(uow.session, member, email, now=now)
        await uow.commit()
        return email
