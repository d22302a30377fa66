"""E-mail verification: a six-digit code by mail, 30 minutes to type it.

Guessing is bounded per member, not per code: wrong tries count across new codes, and each run
of five wrong tries locks checking for a while that doubles each time (15 minutes, 30, 60, ...
at most a day). Every code mail, from sign-up and from profile changes alike, passes one
throttle per member and per address, so that nobody can flood a stranger's inbox. The code is
stored as an HMAC keyed with the server's secret, the address in the throttle likewise.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.errors import DomainError, NotFound
from storage.models import EmailCodeSend, EmailVerification, Member
from storage.uow import UnitOfWork

CODE_LIFETIME = dt.timedelta(minutes=30)
MAX_WRONG_TRIES = 5  # in a row, before checking is locked
FIRST_LOCK = dt.timedelta(minutes=15)
LONGEST_LOCK = dt.timedelta(days=1)
RESEND_AFTER = dt.timedelta(seconds=60)
# At most this many code mails in each window, per member and per address.
MEMBER_LIMITS = ((dt.timedelta(hours=1), 5), (dt.timedelta(days=1), 10))
ADDRESS_LIMITS = ((dt.timedelta(hours=1), 3), (dt.timedelta(days=1), 5))
THROTTLE_MEMORY = dt.timedelta(days=1)


def _hash(key: bytes, member_id: int, code: str) -> str:
    return hmac.new(key, f"code:{member_id}:{code}".encode(), hashlib.sha256).hexdigest()


def address_hash(key: bytes, email: str) -> str:
    return hmac.new(key, f"address:{email.casefold()}".encode(), hashlib.sha256).hexdigest()


def lock_for(attempts: int) -> dt.timedelta:
    """How long checking stays locked after ``attempts`` wrong tries (a multiple of five)."""
    runs = max(1, attempts // MAX_WRONG_TRIES)
    factor: int = 2 ** min(runs - 1, 16)
    return min(FIRST_LOCK * factor, LONGEST_LOCK)


class CodeMailsThrottled(DomainError):
    """Too many code mails went to this member or this address lately."""

    code = "code_mails_throttled"


class ResendTooSoon(DomainError):
    code = "resend_too_soon"


async def _throttle(
    session: AsyncSession, key: bytes, member_id: int, email: str, *, now: dt.datetime
) -> str:
    """Refuse a code mail over the limits; returns the address's hash to record the send."""
    hashed = address_hash(key, email)
    # The same address again within a minute waits (a corrected typo goes out at once).
    last = await session.scalar(
        select(func.max(EmailCodeSend.sent_at)).where(
            EmailCodeSend.member_id == member_id, EmailCodeSend.address_hash == hashed
        )
    )
    if last is not None and now - last < RESEND_AFTER:
        raise ResendTooSoon(seconds=int((RESEND_AFTER - (now - last)).total_seconds()) + 1)
    for column, value, limits in (
        (EmailCodeSend.member_id, member_id, MEMBER_LIMITS),
        (EmailCodeSend.address_hash, hashed, ADDRESS_LIMITS),
    ):
        for window, most in limits:
            times = (
                await session.scalars(
                    select(EmailCodeSend.sent_at)
                    .where(column == value, EmailCodeSend.sent_at > now - window)
                    .order_by(EmailCodeSend.sent_at)
                )
            ).all()
            if len(times) >= most:
                wait = times[len(times) - most] + window - now
                raise CodeMailsThrottled(minutes=max(1, -(-int(wait.total_seconds()) // 60)))
    return hashed


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


async def pending(session: AsyncSession, member_id: int) -> EmailVerification | None:
    """The member's code waiting to be typed, if any."""
    return waiting(await session.get(EmailVerification, member_id))


def waiting(row: EmailVerification | None) -> EmailVerification | None:
    """``row`` if its code still waits to be typed (a used code leaves an empty hash)."""
    return row if row is not None and row.code_hash else None


async def issue(
    session: AsyncSession, member: Member, email: str, *, key: bytes, now: dt.datetime
) -> EmailVerification:
    """Replace any pending code of the member by a new one and queue the mail with it, unless
    the throttle refuses (``ResendTooSoon``, ``CodeMailsThrottled``). ``key``: the server's
    secret (``UnitOfWork.secret``)."""
    hashed = await _throttle(session, key, member.id, email, now=now)
    session.add(EmailCodeSend(member_id=member.id, address_hash=hashed, sent_at=now))
    code = new_code()
    pending = await session.get(EmailVerification, member.id)
    if pending is None:
        pending = EmailVerification(member_id=member.id, sequence=0, attempts=0)
        session.add(pending)
    pending.email = email
    pending.code_hash = _hash(key, member.id, code)
    pending.sequence = (pending.sequence or 0) + 1
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
    locked_until: dt.datetime | None = None  # with TOO_MANY_TRIES: when checking opens again


async def check(uow: UnitOfWork, member_id: int, code: str, *, now: dt.datetime) -> Check:
    code = "".join(code.split())
    async with uow:
        member = await uow.session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        waiting = await pending(uow.session, member_id)
        if waiting is None:
            return Check(CheckResult.NOTHING_PENDING)
        if waiting.locked_until is not None and now < waiting.locked_until:
            return Check(
                CheckResult.TOO_MANY_TRIES, waiting.email, locked_until=waiting.locked_until
            )
        if now >= waiting.expires_at:
            return Check(CheckResult.EXPIRED, waiting.email)
        if not hmac.compare_digest(waiting.code_hash, _hash(uow.secret, member_id, code)):
            waiting.attempts = (waiting.attempts or 0) + 1
            left = MAX_WRONG_TRIES - waiting.attempts % MAX_WRONG_TRIES
            if left == MAX_WRONG_TRIES:  # a run of wrong tries is full: lock, longer each time
                waiting.locked_until = now + lock_for(waiting.attempts)
            audit.record(uow.session, "email.code_wrong", now=now, member_id=member_id)
            await uow.commit()
            if waiting.locked_until is not None and now < waiting.locked_until:
                return Check(
                    CheckResult.TOO_MANY_TRIES, waiting.email, locked_until=waiting.locked_until
                )
            return Check(CheckResult.WRONG, waiting.email, tries_left=left)
        email = waiting.email
        member.email = email
        member.email_verified_at = now
        member.updated_at = now
        # The row stays (with no code) so that the next code continues its numbering.
        waiting.code_hash = ""
        waiting.attempts = 0
        waiting.locked_until = None
        audit.record(uow.session, "email.verified", now=now, member_id=member_id)
        # Meetings the member said Going to before the address was confirmed: invite now.
        from storage.events import notices as event_notices

        await event_notices.send_missed_invites(uow.session, member, now=now)
        await uow.commit()
        return Check(CheckResult.VERIFIED, email)


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
            email = waiting.email
        await issue(uow.session, member, email, key=uow.secret, now=now)
        await uow.commit()
        return email


async def forget_old_sends(session: AsyncSession, *, now: dt.datetime) -> int:
    """Delete the throttle's rows older than it looks back (a day)."""
    result = await session.execute(
        delete(EmailCodeSend).where(EmailCodeSend.sent_at < now - THROTTLE_MEMORY)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
