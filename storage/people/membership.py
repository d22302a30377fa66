"""Membership by invitation or approval (``SAMVIRKE_MEMBERSHIP``).

Invitations are links ``https://t.me/<bot>?start=join_<code>`` for one person or for N uses,
valid for a chosen time. A use is taken when the person agrees at the end of sign-up (locked
invitation row, one use per Telegram user: pressing "I agree" twice takes one use). Each new
member gets an admission row: who invited them, and in ``approval`` mode the decision, which
the first organiser to answer makes (locked row; the others are told who decided).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import (
    Admission,
    AdmissionStatus,
    Invitation,
    InvitationUse,
    Member,
    Role,
)
from storage.people.cards import card_text
from storage.people.directory import card_of
from storage.permissions import Actor, require_organiser
from storage.rules import clean_text
from storage.uow import UnitOfWork
from templates.i18n import translator

CODE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
MAX_USES = 500
MAX_DAYS = 365
REASON_MAX = 500


@dataclass(frozen=True)
class InvitationView:
    id: int
    code: str
    max_uses: int
    uses: int
    expires_at: dt.datetime
    revoked: bool
    created_by: str


@dataclass(frozen=True)
class Decision:
    member_id: int
    member_name: str
    status: str
    changed: bool
    decided_by: str


def _view(invitation: Invitation, created_by: str = "") -> InvitationView:
    return InvitationView(
        invitation.id,
        invitation.code,
        invitation.max_uses,
        invitation.uses,
        invitation.expires_at,
        invitation.revoked_at is not None,
        created_by,
    )


def require_inviter(actor: Actor, *, members_can_invite: bool) -> None:
    if actor.member_id is None and not actor.is_admin:
        raise NotFound("member_not_found")
    if not (actor.is_organiser or members_can_invite):
        raise NotAllowed("organisers_only")


# --- invitations ----------------------------------------------------------------------------


async def create_invitation(
    uow: UnitOfWork,
    actor: Actor,
    *,
    uses: int,
    days: int,
    members_can_invite: bool,
    now: dt.datetime,
) -> InvitationView:
    require_inviter(actor, members_can_invite=members_can_invite)
    if not 1 <= uses <= MAX_USES or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("invitation_invalid", uses=MAX_USES, days=MAX_DAYS)
    async with uow:
        invitation = Invitation(
            code=secrets.token_urlsafe(12),
            created_by_member_id=actor.member_id,
            max_uses=uses,
            uses=0,
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
        )
        uow.session.add(invitation)
        await uow.session.flush()
        audit.record(
            uow.session,
            "invitation.created",
            now=now,
            actor_member_id=actor.member_id,
            invitation_id=invitation.id,
            uses=uses,
            days=days,
        )
        view = _view(invitation)
        await uow.commit()
        return view


async def open_invitations(
    uow: UnitOfWork, actor: Actor, *, now: dt.datetime
) -> list[InvitationView]:
    """The inviter's invitations still usable (an administrator sees everyone's)."""
    async with uow:
        statement = (
            select(Invitation, Member.name)
            .outerjoin(Member, Member.id == Invitation.created_by_member_id)
            .where(
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
                Invitation.uses < Invitation.max_uses,
            )
            .order_by(Invitation.id)
        )
        if not actor.is_admin:
            statement = statement.where(Invitation.created_by_member_id == actor.member_id)
        rows = (await uow.session.execute(statement)).all()
        return [_view(invitation, name or "") for invitation, name in rows]


async def revoke(
    uow: UnitOfWork, actor: Actor, invitation_id: int, *, now: dt.datetime
) -> InvitationView:
    async with uow:
        invitation = await uow.session.get(Invitation, invitation_id, with_for_update=True)
        if invitation is None:
            raise NotFound("invitation_unknown")
        if not actor.is_admin and invitation.created_by_member_id != actor.member_id:
            raise NotAllowed("not_your_invitation")
        if invitation.revoked_at is None:
            invitation.revoked_at = now
            audit.record(
                uow.session,
                "invitation.revoked",
                now=now,
                actor_member_id=actor.member_id,
                invitation_id=invitation.id,
            )
        view = _view(invitation)
        await uow.commit()
        return view


def _usable(invitation: Invitation | None, now: dt.datetime) -> Invitation:
    if invitation is None:
        raise InvalidInput("invitation_unknown")
    if invitation.revoked_at is not None:
        raise InvalidInput("invitation_revoked")
    if invitation.expires_at <= now:
        raise InvalidInput("invitation_expired")
    if invitation.uses >= invitation.max_uses:
        raise InvalidInput("invitation_used_up")
    return invitation


async def check(uow: UnitOfWork, code: str, *, now: dt.datetime) -> InvitationView:
    """Whether the invitation can still be used (InvalidInput says why not)."""
    if not CODE.match(code):
        raise InvalidInput("invitation_unknown")
    async with uow:
        found = await uow.session.scalar(select(Invitation).where(Invitation.code == code))
        return _view(_usable(found, now))


async def redeem(uow: UnitOfWork, code: str, telegram_user_id: int, *, now: dt.datetime) -> int:
    """Take one use of the invitation for this person (again for the same person: the same
    use); returns the invitation's id."""
    if not CODE.match(code):
        raise InvalidInput("invitation_unknown")
    async with uow:
        session = uow.session
        invitation = await session.scalar(
            select(Invitation)
            .where(Invitation.code == code)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if invitation is not None:
            used = await session.scalar(
                select(InvitationUse.id).where(
                    InvitationUse.invitation_id == invitation.id,
                    InvitationUse.telegram_user_id == telegram_user_id,
                )
            )
            if used is not None:
                return invitation.id
        invitation = _usable(invitation, now)
        invitation.uses += 1
        session.add(
            InvitationUse(
                invitation_id=invitation.id, telegram_user_id=telegram_user_id, used_at=now
            )
        )
        await session.flush()
        invitation_id = invitation.id
        await uow.commit()
        return invitation_id


# --- admissions -----------------------------------------------------------------------------


async def _approvers(
    session: AsyncSession, member: Member, admins: Iterable[int]
) -> tuple[list[Member], list[int]]:
    """The organisers of the member's region; else the administrators (members, and chat ids
    of administrators who are not members)."""
    organisers = list(
        (
            await session.scalars(
                select(Member).where(
                    Member.role == Role.ORGANISER,
                    Member.organiser_region_id == member.region_id,
                    Member.deleted_at.is_(None),
                    Member.id != member.id,
                )
            )
        ).all()
    )
    if organisers:
        return organisers, []
    admin_ids = sorted(set(admins) - {member.telegram_user_id})
    as_members = list(
        (
            await session.scalars(
                select(Member).where(
                    Member.telegram_user_id.in_(admin_ids), Member.deleted_at.is_(None)
                )
            )
        ).all()
    )
    known = {m.telegram_user_id for m in as_members}
    return as_members, [a for a in admin_ids if a not in known]


def _decision_buttons(t_language: str, member_id: int) -> list[list[dict[str, str]]]:
    t = translator(t_language)
    return [
        [
            {"text": t("Approve"), "callback_data": f"pp:ap:{member_id}"},
            {"text": t("Decline"), "callback_data": f"pp:dc:{member_id}"},
        ]
    ]


async def _note_invitation_use(
    session: AsyncSession, member: Member, invitation_id: int | None
) -> int | None:
    """The invitation's use is the new member's; who made the invitation (None if nobody)."""
    if invitation_id is None:
        return None
    invitation = await session.get(Invitation, invitation_id)
    use = await session.scalar(
        select(InvitationUse).where(
            InvitationUse.invitation_id == invitation_id,
            InvitationUse.telegram_user_id == member.telegram_user_id,
        )
    )
    if use is not None:
        use.member_id = member.id
    return invitation.created_by_member_id if invitation else None


async def _ask_approvers(
    session: AsyncSession, member: Member, admins: Iterable[int], *, now: dt.datetime
) -> None:
    """Send the new member's card with Approve and Decline to each approver (in English to
    administrators who are not members)."""
    people, chats = await _approvers(session, member, admins)
    asked: list[tuple[str, int | None, str, int | None]] = [
        (p.language, p.telegram_user_id, str(p.id), p.id) for p in people
    ]
    asked += [("en", chat_id, f"tg{chat_id}", None) for chat_id in chats]
    for language, chat_id, who, approver_id in asked:
        if chat_id is None:
            continue
        t = translator(language)
        await outbox.enqueue_telegram(
            session,
            key=f"pp:approve:{member.id}:{who}",
            chat_id=chat_id,
            text=t("A new member asks to join the network:")
            + "\n\n"
            + card_text(t, card_of(member, None, [])),
            parse_mode="HTML",
            buttons=_decision_buttons(language, member.id),
            now=now,
            member_id=approver_id,
        )


async def admit(
    uow: UnitOfWork,
    member_id: int,
    *,
    invitation_id: int | None,
    approval: bool,
    admins: Iterable[int],
    now: dt.datetime,
) -> str:
    """Record how a new member came in; in approval mode, ask the approvers. Returns the
    admission's status (a second call changes nothing)."""
    async with uow:
        session = uow.session
        member = await session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        existing = await session.get(Admission, member_id)
        if existing is not None:
            return existing.status
        invited_by = await _note_invitation_use(session, member, invitation_id)
        status = AdmissionStatus.PENDING if approval else AdmissionStatus.APPROVED
        session.add(
            Admission(
                member_id=member_id,
                invitation_id=invitation_id,
                invited_by_member_id=invited_by,
                status=status,
                created_at=now,
            )
        )
        await session.flush()
        audit.record(
            session,
            "admission.pending" if approval else "admission.admitted",
            now=now,
            member_id=member_id,
            invitation_id=invitation_id,
        )
        if approval:
            await _ask_approvers(session, member, admins, now=now)
        await uow.commit()
        return status


async def admission_status(uow: UnitOfWork, member_id: int) -> str | None:
    async with uow:
        return await uow.session.scalar(
            select(Admission.status).where(Admission.member_id == member_id)
        )


async def _tell_decision(
    session: AsyncSession, member: Member, *, approve: bool, reason: str | None, now: dt.datetime
) -> None:
    """Welcome the member, or tell them they were not approved (with the reason given)."""
    if member.telegram_user_id is None:
        return
    t = translator(member.language)
    if approve:
        message = t(
            "Welcome: your membership has been approved. Send /help to see what you can do."
        )
    else:
        message = t("Sorry, your membership was not approved.")
        if reason:
            message += "\n\n" + t("The reason given: {reason}", reason=html.escape(reason))
    await outbox.enqueue_telegram(
        session,
        key=f"pp:admission:{member.id}",
        chat_id=member.telegram_user_id,
        text=message,
        parse_mode="HTML",
        now=now,
        member_id=member.id,
    )


def _decided_by(decider: Member | None) -> str:
    return (decider.name if decider else "") or ""


async def decide(
    uow: UnitOfWork,
    actor: Actor,
    member_id: int,
    *,
    approve: bool,
    reason: str | None,
    now: dt.datetime,
) -> Decision:
    """Approve or decline a waiting member; the first answer wins."""
    require_organiser(actor)
    text = clean_text(reason or "")[:REASON_MAX] or None
    async with uow:
        session = uow.session
        admission = await session.scalar(
            select(Admission)
            .where(Admission.member_id == member_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        member = await session.get(Member, member_id)
        if admission is None or member is None or member.deleted_at is not None:
            raise NotFound("admission_unknown")
        if (
            not actor.is_admin
            and actor.organiser_region_id is not None
            and actor.organiser_region_id != member.region_id
        ):
            raise NotAllowed("admission_other_region")
        if admission.status != AdmissionStatus.PENDING:
            decider = (
                await session.get(Member, admission.decided_by_member_id)
                if admission.decided_by_member_id is not None
                else None
            )
            return Decision(
                member_id, member.name or "", admission.status, False, _decided_by(decider)
            )
        admission.status = AdmissionStatus.APPROVED if approve else AdmissionStatus.DECLINED
        admission.decided_by_member_id = actor.member_id
        admission.decided_at = now
        admission.reason = text
        await session.flush()
        audit.record(
            session,
            f"admission.{admission.status}",
            now=now,
            member_id=member_id,
            actor_member_id=actor.member_id,
        )
        decider = await session.get(Member, actor.member_id) if actor.member_id else None
        await _tell_decision(session, member, approve=approve, reason=text, now=now)
        decision = Decision(
            member_id, member.name or "", admission.status, True, _decided_by(decider)
        )
        await uow.commit()
        return decision


@dataclass(frozen=True)
class Origin:
    invited_by: str | None
    approved_by: str | None
    status: str | None


async def origins(session: AsyncSession, member_ids: list[int]) -> dict[int, Origin]:
    """Who invited and who approved these members (for administrators' cards and CSV)."""
    if not member_ids:
        return {}
    admissions = (
        await session.scalars(select(Admission).where(Admission.member_id.in_(member_ids)))
    ).all()
    people = {a.invited_by_member_id for a in admissions} | {
        a.decided_by_member_id for a in admissions
    }
    wanted = [p for p in people if p is not None]
    names = {}
    if wanted:
        rows = await session.execute(select(Member.id, Member.name).where(Member.id.in_(wanted)))
        names = {i: n or "" for i, n in rows.all()}
    return {
        a.member_id: Origin(
            names.get(a.invited_by_member_id) if a.invited_by_member_id else None,
            names.get(a.decided_by_member_id) if a.decided_by_member_id else None,
            a.status,
        )
        for a in admissions
    }


async def origins_of(uow: UnitOfWork, actor: Actor, member_ids: list[int]) -> dict[int, Origin]:
    """Who invited and who approved these members: for administrators only."""
    if not actor.is_admin:
        raise NotAllowed("admins_only")
    async with uow:
        return await origins(uow.session, member_ids)
