"""Introductions, double opt-in: a member asks another (with a note), or an organiser introduces
two members; contacts are shared only when every side asked has accepted.

Each use case owns its transaction. The introduction row is locked before it changes, so a
double-tapped Accept, or Accept and Decline at once, decide once; every message owed goes into
the outbox in the same transaction with a unique key (storage.people.introduction_notices
writes them).

A block is silent: the blocked member's later requests are recorded as declined at once and
the other member hears nothing of them. Logs and the audit log hold ids only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import Introduction, IntroductionStatus, Member, MemberBlock
from storage.people import introduction_notices as notices
from storage.people.participants import reachable_card
from storage.permissions import Actor, require_organiser
from storage.rules import clean_multiline
from storage.uow import UnitOfWork
from templates.i18n import translator

NOTE_MAX = 500


class LimitSettings(Protocol):
    introductions_max_pending: int
    introductions_max_per_week: int
    introductions_repeat_days: int
    introductions_expiry_days: int


@dataclass(frozen=True)
class Limits:
    max_pending: int = 5
    max_per_week: int = 10
    repeat_days: int = 30
    expiry_days: int = 14

    @classmethod
    def from_settings(cls, settings: LimitSettings) -> Limits:
        return cls(
            settings.introductions_max_pending,
            settings.introductions_max_per_week,
            settings.introductions_repeat_days,
            settings.introductions_expiry_days,
        )


@dataclass(frozen=True)
class Outcome:
    """What happened to an introduction: its status, whether this call changed it, whether
    the acting member still waits for the other side, and the other side's name."""

    id: int
    status: str
    changed: bool
    waiting: bool
    other_name: str


# --- helpers --------------------------------------------------------------------------------


def clean_note(value: str) -> str:
    note = clean_multiline(value)
    if not note:
        raise InvalidInput("introduction_note_missing")
    if len(note) > NOTE_MAX:
        raise InvalidInput("introduction_note_too_long", max=NOTE_MAX)
    return note


async def _live(session: AsyncSession, member_id: int | None, *, lock: bool = False) -> Member:
    if member_id is None:
        raise NotFound("member_not_found")
    if lock:
        # Only the members row (its joined regions cannot be locked on PostgreSQL).
        await session.execute(select(Member.id).where(Member.id == member_id).with_for_update())
    member = await session.get(Member, member_id)
    if member is None or member.deleted_at is not None:
        raise NotFound("member_not_found")
    return member


async def _gone_or_live(session: AsyncSession, member_id: int | None) -> Member | None:
    if member_id is None:
        return None
    member = await session.get(Member, member_id)
    return None if member is None or member.deleted_at is not None else member


async def _blocked(session: AsyncSession, blocker_id: int, blocked_id: int) -> bool:
    return await session.get(MemberBlock, (blocker_id, blocked_id)) is not None


# --- asking ---------------------------------------------------------------------------------


async def _check_limits(
    session: AsyncSession, asker_id: int, target_id: int, *, limits: Limits, now: dt.datetime
) -> None:
    """Refuse a request over the asker's limits: too many open, too many this week, or the same
    member asked again too soon."""
    mine = Introduction.from_member_id == asker_id, Introduction.organiser_member_id.is_(None)
    pending = await session.scalar(
        select(func.count())
        .select_from(Introduction)
        .where(*mine, Introduction.status == IntroductionStatus.PENDING)
    )
    if (pending or 0) >= limits.max_pending:
        raise InvalidInput("introduction_too_many_pending", max=limits.max_pending)
    this_week = await session.scalar(
        select(func.count())
        .select_from(Introduction)
        .where(*mine, Introduction.created_at > now - dt.timedelta(days=7))
    )
    if (this_week or 0) >= limits.max_per_week:
        raise InvalidInput("introduction_too_many_this_week", max=limits.max_per_week)
    recent = await session.scalar(
        select(Introduction.id)
        .where(
            *mine,
            Introduction.to_member_id == target_id,
            or_(
                Introduction.status == IntroductionStatus.PENDING,
                Introduction.created_at > now - dt.timedelta(days=limits.repeat_days),
            ),
        )
        .limit(1)
    )
    if recent is not None:
        raise InvalidInput("introduction_asked_recently", days=limits.repeat_days)


async def ask(
    uow: UnitOfWork,
    asker_id: int,
    target_id: int,
    note: str,
    *,
    limits: Limits,
    now: dt.datetime,
) -> Outcome:
    """A member asks a listed member for an introduction (the note says what they hope for)."""
    text = clean_note(note)
    async with uow:
        session = uow.session
        # The asker's row is locked so that two requests at once count each other.
        asker = await _live(session, asker_id, lock=True)
        if asker.email_verified_at is None:
            raise InvalidInput("directory_unverified")
        if asker_id == target_id:
            raise InvalidInput("introduction_self")
        await reachable_card(session, asker_id, target_id)  # listed, or met at an event
        target = await _live(session, target_id)
        await _check_limits(session, asker_id, target_id, limits=limits, now=now)
        blocked = await _blocked(session, target_id, asker_id)
        intro = Introduction(
            from_member_id=asker_id,
            to_member_id=target_id,
            note=text,
            status=IntroductionStatus.DECLINED if blocked else IntroductionStatus.PENDING,
            from_accepted_at=now,
            from_sector=asker.sector,
            to_sector=target.sector,
            region_id=asker.region_id,
            created_at=now,
            expires_at=now + dt.timedelta(days=limits.expiry_days),
            decided_at=now if blocked else None,
            reminder_count=0,
        )
        session.add(intro)
        await session.flush()
        audit.record(
            session,
            "introduction.asked",
            now=now,
            member_id=target_id,
            actor_member_id=asker_id,
            introduction_id=intro.id,
        )
        if not blocked:
            await notices.asked(session, intro, asker, target, now=now)
        outcome = Outcome(intro.id, IntroductionStatus.PENDING, True, True, target.name or "")
        await uow.commit()
        return outcome


async def introduce(
    uow: UnitOfWork,
    actor: Actor,
    first_id: int,
    second_id: int,
    note: str,
    *,
    limits: Limits,
    now: dt.datetime,
) -> Outcome:
    """An organiser introduces two members; both get the note and must each accept."""
    require_organiser(actor)
    text = clean_note(note)
    if first_id == second_id:
        raise InvalidInput("introduction_same_member")
    async with uow:
        session = uow.session
        organiser = await _live(session, actor.member_id)
        first = await _live(session, first_id)
        second = await _live(session, second_id)
        intro = Introduction(
            from_member_id=first_id,
            to_member_id=second_id,
            organiser_member_id=organiser.id,
            note=text,
            status=IntroductionStatus.PENDING,
            from_sector=first.sector,
            to_sector=second.sector,
            region_id=first.region_id,
            created_at=now,
            expires_at=now + dt.timedelta(days=limits.expiry_days),
            reminder_count=0,
        )
        session.add(intro)
        await session.flush()
        audit.record(
            session,
            "introduction.introduced",
            now=now,
            actor_member_id=organiser.id,
            introduction_id=intro.id,
        )
        await notices.introduced(session, intro, organiser, (first, second), now=now)
        outcome = Outcome(intro.id, intro.status, True, True, second.name or "")
        await uow.commit()
        return outcome


# --- answering ------------------------------------------------------------------------------

ACTIONS = ("accept", "decline", "block", "report")


async def _locked(session: AsyncSession, intro_id: int) -> Introduction:
    intro = await session.scalar(
        select(Introduction)
        .where(Introduction.id == intro_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if intro is None:
        raise NotFound("introduction_not_found")
    return intro


def _check_open(intro: Introduction, now: dt.datetime) -> None:
    if intro.status == IntroductionStatus.WITHDRAWN:
        raise InvalidInput("introduction_withdrawn")
    if intro.status == IntroductionStatus.EXPIRED or (
        intro.status == IntroductionStatus.PENDING and intro.expires_at <= now
    ):
        raise InvalidInput("introduction_expired")


def _other_side(intro: Introduction, member_id: int) -> tuple[str, int | None]:
    """The member's side ("to": asked; "from": introduced by an organiser) and the other
    member; refused when the member is not asked to answer this introduction."""
    if member_id == intro.to_member_id:
        return "to", intro.from_member_id
    if intro.organiser_member_id is not None and member_id == intro.from_member_id:
        return "from", intro.to_member_id
    raise NotAllowed("not_your_introduction")


async def _decline(
    session: AsyncSession,
    intro: Introduction,
    action: str,
    people: tuple[Member, Member, Member | None],
    *,
    admins: Iterable[int],
    now: dt.datetime,
) -> None:
    """Decline (and for "block" no more requests from them, for "report" the request goes to
    the administrators); the other side is told politely."""
    me, other, organiser = people
    intro.status = IntroductionStatus.DECLINED
    intro.decided_at = now
    if action == "block" and not await _blocked(session, me.id, other.id):
        session.add(
            MemberBlock(blocker_member_id=me.id, blocked_member_id=other.id, created_at=now)
        )
    await notices.declined(session, intro, me, other, organiser, now)
    if action == "report":
        await notices.reported(session, intro, other, admins, now)


async def answer(
    uow: UnitOfWork,
    member_id: int,
    intro_id: int,
    action: str,
    *,
    admins: Iterable[int],
    now: dt.datetime,
) -> Outcome:
    """Accept, decline, block (decline, and no more requests from them) or report (decline,
    and the request goes to the administrators)."""
    if action not in ACTIONS:
        raise InvalidInput("introduction_action_unknown")
    async with uow:
        session = uow.session
        me = await _live(session, member_id)
        intro = await _locked(session, intro_id)
        side, other_id = _other_side(intro, member_id)
        if action == "report" and intro.organiser_member_id is not None:
            raise InvalidInput("introduction_action_unknown")
        other = await _gone_or_live(session, other_id)
        other_name = notices.name_of(translator(me.language), other)
        _check_open(intro, now)
        accepted_at = intro.to_accepted_at if side == "to" else intro.from_accepted_at
        if intro.status != IntroductionStatus.PENDING:
            if action == "accept" and intro.status == IntroductionStatus.ACCEPTED:
                return Outcome(intro.id, intro.status, False, False, other_name)
            if action != "accept" and intro.status == IntroductionStatus.DECLINED:
                return Outcome(intro.id, intro.status, False, False, other_name)
            raise InvalidInput("introduction_already_answered")
        if action == "accept" and accepted_at is not None:
            return Outcome(intro.id, intro.status, False, True, other_name)
        if other is None:
            raise NotFound("introduction_counterpart_gone")
        organiser = await _gone_or_live(session, intro.organiser_member_id)
        waiting = False
        if action == "accept":
            if side == "to":
                intro.to_accepted_at = now
            else:
                intro.from_accepted_at = now
            waiting = intro.from_accepted_at is None or intro.to_accepted_at is None
            if not waiting:
                intro.status = IntroductionStatus.ACCEPTED
                intro.decided_at = now
                await notices.connected(session, intro, me, other, organiser, now)
        else:
            await _decline(session, intro, action, (me, other, organiser), admins=admins, now=now)
        await session.flush()
        audit.record(
            session,
            f"introduction.{action}",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            introduction_id=intro.id,
        )
        outcome = Outcome(intro.id, intro.status, True, waiting, other_name)
        await uow.commit()
        return outcome


async def withdraw(uow: UnitOfWork, member_id: int, intro_id: int, *, now: dt.datetime) -> Outcome:
    """The asker withdraws a request nobody has answered yet."""
    async with uow:
        session = uow.session
        me = await _live(session, member_id)
        intro = await _locked(session, intro_id)
        if intro.from_member_id != member_id or intro.organiser_member_id is not None:
            raise NotAllowed("not_your_introduction")
        other = await _gone_or_live(session, intro.to_member_id)
        other_name = notices.name_of(translator(me.language), other)
        if intro.status == IntroductionStatus.WITHDRAWN:
            return Outcome(intro.id, intro.status, False, False, other_name)
        _check_open(intro, now)
        if intro.status != IntroductionStatus.PENDING:
            raise InvalidInput("introduction_already_answered")
        intro.status = IntroductionStatus.WITHDRAWN
        intro.decided_at = now
        await session.flush()
        audit.record(
            session,
            "introduction.withdrawn",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            introduction_id=intro.id,
        )
        outcome = Outcome(intro.id, intro.status, True, False, other_name)
        await uow.commit()
        return outcome


# --- expiry (a scheduler job) ---------------------------------------------------------------


async def expire_due(uow: UnitOfWork, *, now: dt.datetime, limit: int = 100) -> int:
    """Pending introductions past their time expire; the asker (or the organiser) is told."""
    async with uow:
        session = uow.session
        statement = (
            select(Introduction)
            .where(
                Introduction.status == IntroductionStatus.PENDING, Introduction.expires_at <= now
            )
            .order_by(Introduction.id)
            .limit(limit)
        )
        if uow.dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        due = list((await session.scalars(statement)).all())
        for intro in due:
            intro.status = IntroductionStatus.EXPIRED
            intro.decided_at = now
            # The asker is told, or the organiser who introduced the two.
            told_id = intro.organiser_member_id or intro.from_member_id
            told = await _gone_or_live(session, told_id)
            target = await _gone_or_live(session, intro.to_member_id)
            await notices.expired(session, intro, told, target, now=now)
            audit.record(session, "introduction.expired", now=now, introduction_id=intro.id)
        await session.flush()
        await uow.commit()
        return len(due)
