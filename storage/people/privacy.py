"""The directory and introductions in a member's data export, and their erasure.

Export: the directory choices, topics, introductions asked and received (the other side by
name only), blocks the member made. Erasure (in the caller's transaction): the member leaves
the directory at once, their blocks go, pending introductions are withdrawn, and every
introduction they were part of loses its note and their id (the sectors and region copied at
creation stay, so the connection figures keep their totals without anyone's identity).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Admission,
    DirectoryEntry,
    Introduction,
    IntroductionStatus,
    Invitation,
    InvitationUse,
    Member,
    MemberBlock,
    MemberTopic,
    ParticipantVisibility,
    Topic,
)
from storage.people import directory


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = await session.execute(select(Member.id, Member.name).where(Member.id.in_(wanted)))
    return {member_id: name or "" for member_id, name in rows.all()}


async def _membership(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """Who invited the member, their admission, the invitations they made."""
    invitations = (
        await session.scalars(
            select(Invitation)
            .where(Invitation.created_by_member_id == member_id)
            .order_by(Invitation.id)
        )
    ).all()
    admission = await session.get(Admission, member_id)
    inviter = (
        (await _names(session, {admission.invited_by_member_id})).get(
            admission.invited_by_member_id or 0, ""
        )
        if admission is not None and admission.invited_by_member_id is not None
        else None
    )
    return {
        "invited_by": inviter,
        "admission": admission.status if admission is not None else None,
        "invitations_made": [
            {
                "uses": i.uses,
                "max_uses": i.max_uses,
                "created_at": _iso(i.created_at),
                "expires_at": _iso(i.expires_at),
                "revoked_at": _iso(i.revoked_at),
            }
            for i in invitations
        ],
    }


async def _directory(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """The member's directory choices and topics."""
    entry = await session.get(DirectoryEntry, member_id)
    topics = (
        await session.scalars(
            select(Topic.name_en)
            .join(MemberTopic, MemberTopic.topic_id == Topic.id)
            .where(MemberTopic.member_id == member_id)
            .order_by(Topic.name_en)
        )
    ).all()
    return {
        "listed": bool(entry and entry.listed),
        "answered_at": _iso(entry.decided_at) if entry else None,
        "can_help": entry.can_help if entry else None,
        "looking_for": entry.looking_for if entry else None,
        "share_email_on_introductions": bool(entry and entry.share_email),
        "topics": list(topics),
    }


async def _introductions(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """Introductions asked and received (the other side by name only), and blocks made."""
    intros = (
        await session.scalars(
            select(Introduction)
            .where(
                or_(
                    Introduction.from_member_id == member_id,
                    Introduction.to_member_id == member_id,
                )
            )
            .order_by(Introduction.id)
        )
    ).all()
    blocks = (
        await session.scalars(select(MemberBlock).where(MemberBlock.blocker_member_id == member_id))
    ).all()
    names = await _names(
        session,
        {i.from_member_id for i in intros}
        | {i.to_member_id for i in intros}
        | {i.organiser_member_id for i in intros}
        | {b.blocked_member_id for b in blocks},
    )

    def intro(i: Introduction, other_id: int | None) -> dict[str, Any]:
        return {
            "with": names.get(other_id, "") if other_id is not None else "",
            "introduced_by": names.get(i.organiser_member_id, "")
            if i.organiser_member_id is not None
            else None,
            "note": i.note,
            "status": i.status,
            "asked_at": _iso(i.created_at),
            "decided_at": _iso(i.decided_at),
        }

    return {
        "introductions_asked": [
            intro(i, i.to_member_id) for i in intros if i.from_member_id == member_id
        ],
        "introductions_received": [
            intro(i, i.from_member_id) for i in intros if i.to_member_id == member_id
        ],
        "blocked": [
            {"member": names.get(b.blocked_member_id, ""), "at": _iso(b.created_at)} for b in blocks
        ],
    }


async def export_member(session: AsyncSession, member_id: int) -> dict[str, Any]:
    visibility = (
        await session.scalars(
            select(ParticipantVisibility)
            .where(ParticipantVisibility.member_id == member_id)
            .order_by(ParticipantVisibility.event_id)
        )
    ).all()
    return {
        **await _membership(session, member_id),
        **await _directory(session, member_id),
        **await _introductions(session, member_id),
        "participant_lists": [{"event_id": v.event_id, "shown": v.visible} for v in visibility],
    }


async def forget_member(session: AsyncSession, member_id: int, *, now: dt.datetime) -> None:
    await directory.remove(session, member_id)
    await session.execute(
        delete(ParticipantVisibility).where(ParticipantVisibility.member_id == member_id)
    )
    await session.execute(
        delete(MemberBlock).where(
            or_(
                MemberBlock.blocker_member_id == member_id,
                MemberBlock.blocked_member_id == member_id,
            )
        )
    )
    mine = or_(
        Introduction.from_member_id == member_id,
        Introduction.to_member_id == member_id,
        Introduction.organiser_member_id == member_id,
    )
    await session.execute(
        update(Introduction)
        .where(mine, Introduction.status == IntroductionStatus.PENDING)
        .values(status=IntroductionStatus.WITHDRAWN, decided_at=now)
    )
    await session.execute(update(Introduction).where(mine).values(note=None))
    # Invitations they made keep only their counts; their own admission keeps no reason.
    await session.execute(
        update(Invitation)
        .where(Invitation.created_by_member_id == member_id, Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        update(Invitation)
        .where(Invitation.created_by_member_id == member_id)
        .values(created_by_member_id=None)
    )
    await session.execute(
        update(InvitationUse)
        .where(InvitationUse.member_id == member_id)
        .values(member_id=None, telegram_user_id=None)
    )
    for column in ("invited_by_member_id", "decided_by_member_id"):
        await session.execute(
            update(Admission).where(getattr(Admission, column) == member_id).values({column: None})
        )
    await session.execute(
        update(Admission).where(Admission.member_id == member_id).values(reason=None)
    )
    for column in ("from_member_id", "to_member_id", "organiser_member_id"):
        await session.execute(
            update(Introduction)
            .where(getattr(Introduction, column) == member_id)
            .values({column: None})
        )
