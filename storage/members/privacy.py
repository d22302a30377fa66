"""Data-protection requests: a member's export of everything stored about them, and erasure."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.bot_state import private_chat_keys
from storage.errors import NotFound
from storage.events import rsvps as event_rsvps
from storage.members import verification
from storage.members.profiles import CONSENT_VERSION
from storage.models import (
    AuditEntry,
    BotConversation,
    BotUserData,
    Broadcast,
    CheckIn,
    EmailCodeSend,
    EmailVerification,
    Event,
    EventFeedback,
    EventFollowUp,
    EventMaterial,
    Member,
    OutboxMessage,
    OutboxStatus,
    Rsvp,
)
from storage.people import privacy as people_privacy
from storage.timebank import privacy as timebank_privacy
from storage.uow import UnitOfWork

# Where each table that refers to a member shows up in their export ("a.b": key b of section a).
# tests/storage/members/test_export_completeness.py fails when a table with a member reference
# is missing here, or a path is missing from a real export.
EXPORT_COVERAGE: dict[str, tuple[str, ...]] = {
    "members": ("member",),
    "audit_log": ("history",),
    "broadcasts": ("broadcasts",),
    "email_code_sends": ("code_mails_sent_at",),
    "email_verifications": ("member.pending_email",),
    "events": ("events_organised",),
    "outbox": ("messages",),
    "check_ins": ("events", "check_ins_recorded"),
    "rsvps": ("events",),
    "timebank_accounts": ("timebank.balance_minutes",),
    "timebank_listings": ("timebank.listings",),
    "timebank_contact_requests": ("timebank.contact_requests",),
    "timebank_coordinators": ("timebank.coordinates",),
    "timebank_exchanges": ("timebank.exchanges",),
    "timebank_entries": ("timebank.exchanges", "history"),
    "directory_entries": ("directory.listed", "directory.can_help", "directory.looking_for"),
    "member_topics": ("directory.topics",),
    "introductions": ("directory.introductions_asked", "directory.introductions_received"),
    "member_blocks": ("directory.blocked",),
    "invitations": ("directory.invitations_made",),
    "invitation_uses": ("directory.invited_by",),
    "admissions": ("directory.admission",),
    "participant_visibility": ("directory.participant_lists",),
    "event_feedback": ("feedback",),
    "event_followups": ("followups_sent",),
    "event_materials": ("materials_added",),
}

# What is stored and why, shown by /privacy (the bot localises these keys).
STORED_FIELDS = ("name", "email", "organisation", "sector", "region", "language", "telegram")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _profile(member: Member, pending_email: str | None) -> dict[str, Any]:
    """The member's own row."""
    return {
        "id": member.id,
        "telegram_user_id": member.telegram_user_id,
        "telegram_username": member.telegram_username,
        "name": member.name,
        "email": member.email,
        "email_verified_at": _iso(member.email_verified_at),
        "pending_email": pending_email,
        "organisation": member.organisation,
        "sector": member.sector,
        "region": member.region.name if member.region else None,
        "language": member.language,
        "digest_frequency": member.digest_frequency,
        "role": member.role,
        "organiser_region": member.organiser_region.name if member.organiser_region else None,
        "consent_at": _iso(member.consent_at),
        "consent_version": member.consent_version,
        "created_at": _iso(member.created_at),
        "updated_at": _iso(member.updated_at),
    }


async def _messages_and_history(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """The messages queued for the member and the audit entries about them or by them."""
    messages = (
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member_id)
            .order_by(OutboxMessage.id)
        )
    ).all()
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(or_(AuditEntry.member_id == member_id, AuditEntry.actor_member_id == member_id))
            .order_by(AuditEntry.id)
        )
    ).all()
    return {
        "messages": [
            {
                "channel": m.channel,
                "kind": m.payload.get("template"),
                "to": m.payload.get("to_email"),
                "status": m.status,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
        "history": [{"at": _iso(e.at), "action": e.action, "details": e.details} for e in entries],
    }


async def export(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> dict[str, Any]:
    """Everything stored about the member, as JSON-ready data."""
    async with uow:
        session = uow.session
        member = await session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        pending = await verification.pending(session, member_id)
        data: dict[str, Any] = {
            "exported_at": now.isoformat(),
            "member": _profile(member, pending.email if pending else None),
            **await _messages_and_history(session, member_id),
        }
        data["events"] = await _event_answers(session, member_id)
        data.update(await _authored(session, member_id))
        data["timebank"] = await timebank_privacy.export_member(session, member_id)
        data["directory"] = await people_privacy.export_member(session, member_id)
        data.update(await _after_meetings(session, member_id))
        audit.record(session, "privacy.exported", now=now, member_id=member_id)
        await uow.commit()
        return data


async def _event_answers(session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
    """Every event the member answered or was checked in at (a walk-in has no answer)."""
    answers = {
        event_id: (status, responded_at)
        for event_id, status, responded_at in (
            await session.execute(
                select(Rsvp.event_id, Rsvp.status, Rsvp.responded_at).where(
                    Rsvp.member_id == member_id
                )
            )
        ).all()
    }
    check_ins = dict(
        (
            await session.execute(
                select(CheckIn.event_id, CheckIn.at).where(CheckIn.member_id == member_id)
            )
        ).all()
    )
    rows = (
        await session.execute(
            select(Event.id, Event.title, Event.starts_at)
            .where(Event.id.in_(set(answers) | set(check_ins)))
            .order_by(Event.starts_at, Event.id)
        )
    ).all()
    return [
        {
            "event": title,
            "starts_at": _iso(starts_at),
            "answer": answers.get(event_id, (None, None))[0],
            "answered_at": _iso(answers.get(event_id, (None, None))[1]),
            "checked_in_at": _iso(check_ins.get(event_id)),
        }
        for event_id, title, starts_at in rows
    ]


async def _authored(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """What the member did as an organiser, and the code mails sent to them."""
    organised = (
        await session.execute(
            select(Event.title, Event.starts_at, Event.status)
            .where(Event.organiser_member_id == member_id)
            .order_by(Event.starts_at)
        )
    ).all()
    broadcasts = (
        await session.scalars(
            select(Broadcast).where(Broadcast.author_member_id == member_id).order_by(Broadcast.id)
        )
    ).all()
    recorded = await session.scalar(
        select(func.count()).select_from(CheckIn).where(CheckIn.by_member_id == member_id)
    )
    code_mails = (
        await session.scalars(
            select(EmailCodeSend.sent_at)
            .where(EmailCodeSend.member_id == member_id)
            .order_by(EmailCodeSend.sent_at)
        )
    ).all()
    return {
        "events_organised": [
            {"event": title, "starts_at": _iso(starts_at), "status": status}
            for title, starts_at, status in organised
        ],
        "broadcasts": [
            {"text": b.text, "audience": b.audience_kind, "created_at": _iso(b.created_at)}
            for b in broadcasts
        ],
        "check_ins_recorded": int(recorded or 0),
        "code_mails_sent_at": [_iso(at) for at in code_mails],
    }


def _anonymise(member: Member, *, now: dt.datetime) -> None:
    """No name, address, organisation, Telegram identity, role or consent left on the row."""
    member.name = None
    member.email = None
    member.email_verified_at = None
    member.organisation = None
    member.telegram_user_id = None
    member.telegram_username = None
    member.role = "member"
    member.organiser_region_id = None
    member.organiser_all_regions = False
    member.consent_at = None
    member.deleted_at = now
    member.updated_at = now


async def _withdraw_messages(session: AsyncSession, member_id: int) -> None:
    """Messages not yet sent are withdrawn; sent ones lose their content."""
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.member_id == member_id,
            OutboxMessage.status.in_(
                [OutboxStatus.QUEUED, OutboxStatus.RETRY, OutboxStatus.FAILED]
            ),
        )
    )
    # A message being sent right now may still go out once; it is never handed out again.
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.member_id == member_id,
            OutboxMessage.status == OutboxStatus.IN_FLIGHT,
        )
        .values(status=OutboxStatus.FAILED, locked_until=None)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.member_id == member_id)
        .values(payload={"erased": True}, last_error=None)
    )


async def _forget_bot_state(session: AsyncSession, telegram_user_id: int) -> None:
    """The bot's memory of the person: their user data and their private conversations."""
    await session.execute(
        delete(BotUserData).where(BotUserData.telegram_user_id == telegram_user_id)
    )
    await session.execute(
        delete(BotConversation).where(BotConversation.key.in_(private_chat_keys(telegram_user_id)))
    )


async def erase(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> int | None:
    """Erase the member's personal data at once; returns their Telegram id (to drop bot state).

    The row stays, anonymised (no name, address, organisation or Telegram identity), so that
    records other members rely on (audit trail, later: attendance counts, timebank ledger) keep
    their totals. Messages not yet sent are withdrawn; sent ones lose their content.
    """
    async with uow:
        member = await uow.session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        telegram_user_id = member.telegram_user_id
        _anonymise(member, now=now)
        session = uow.session
        # Seats held for meetings still to come go to those waiting; past ones stay counted.
        await event_rsvps.withdraw_member(session, member_id, now=now)
        await timebank_privacy.forget_member(session, member_id, now=now)
        await people_privacy.forget_member(session, member_id, now=now)
        await session.execute(
            delete(EmailVerification).where(EmailVerification.member_id == member_id)
        )
        # Ratings stay in the counts; a comment may say who wrote it.
        await session.execute(
            update(EventFeedback).where(EventFeedback.member_id == member_id).values(comment=None)
        )
        await _withdraw_messages(session, member_id)
        if telegram_user_id is not None:
            await _forget_bot_state(session, telegram_user_id)
        audit.record(
            session, "privacy.erased", now=now, member_id=member_id, consent_version=CONSENT_VERSION
        )
        await uow.commit()
    # The erased values are zeroed in the database file (secure_delete, storage.db); the WAL
    # still holds the old pages until it is checkpointed. (.eml copies of the member's mails
    # are deleted by the scheduler's forget job; PostgreSQL: see the README.)
    await uow.checkpoint()
    return telegram_user_id


async def _after_meetings(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """The member's feedback on meetings, the follow-ups they sent and the materials they
    added (as an organiser)."""
    feedback = (
        await session.scalars(
            select(EventFeedback)
            .where(EventFeedback.member_id == member_id)
            .order_by(EventFeedback.id)
        )
    ).all()
    followups = (
        await session.scalars(
            select(EventFollowUp)
            .where(EventFollowUp.by_member_id == member_id)
            .order_by(EventFollowUp.event_id)
        )
    ).all()
    materials = (
        await session.scalars(
            select(EventMaterial)
            .where(EventMaterial.by_member_id == member_id)
            .order_by(EventMaterial.id)
        )
    ).all()
    return {
        "feedback": [
            {
                "event_id": f.event_id,
                "rating": f.rating,
                "comment": f.comment,
                "at": _iso(f.updated_at),
            }
            for f in feedback
        ],
        "followups_sent": [{"event_id": f.event_id, "at": _iso(f.sent_at)} for f in followups],
        "materials_added": [
            {"event_id": m.event_id, "title": m.title, "at": _iso(m.created_at)} for m in materials
        ],
    }
