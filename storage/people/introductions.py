"""Introductions, double opt-in: a member asks another (with a note), or an organiser introduces
two members; contacts are shared only when every side asked has accepted.

Each use case owns its transaction. The introduction row is locked before it changes, so a
double-tapped Accept, or Accept and Decline at once, decide once; every message owed goes into
the outbox in the same transaction with a unique key (``pp:ask:{id}:{member}`` ...).

A block is silent: the blocked member's later requests are recorded as declined at once and
the other member hears nothing of them. Logs and the audit log hold ids only.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import DirectoryEntry, Introduction, IntroductionStatus, Member, MemberBlock
from storage.people.cards import card_text, contact_text, sector_name, telegram_link
from storage.people.directory import card_of, topics_of
from storage.people.participants import reachable_card
from storage.permissions import Actor, require_organiser
from storage.rules import clean_multiline
from storage.uow import UnitOfWork
from templates.i18n import Translator, translator

NOTE_MAX = 500
Buttons = list[list[dict[str, str]]]


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


async def _card_text(session: AsyncSession, t: Translator, member: Member) -> str:
    entry = await session.get(DirectoryEntry, member.id)
    topics = (await topics_of(session, [member.id]))[member.id]
    return card_text(t, card_of(member, entry, topics))


async def _share_email(session: AsyncSession, member: Member) -> bool:
    entry = await session.get(DirectoryEntry, member.id)
    return bool(entry and entry.share_email)


async def _tell(
    session: AsyncSession,
    person: Member | None,
    *,
    key: str,
    text: str,
    now: dt.datetime,
    buttons: Buttons | None = None,
) -> None:
    if person is None or person.telegram_user_id is None or person.deleted_at is not None:
        return
    await outbox.enqueue_telegram(
        session,
        key=f"{key}:{person.id}",
        chat_id=person.telegram_user_id,
        text=text,
        buttons=buttons,
        parse_mode="HTML",
        now=now,
        member_id=person.id,
    )


def _answer_buttons(t: Translator, intro_id: int, *, report: bool) -> Buttons:
    rows = [
        [
            {"text": t("Accept"), "callback_data": f"pp:ia:{intro_id}"},
            {"text": t("Decline"), "callback_data": f"pp:id:{intro_id}"},
        ],
        [{"text": t("Block"), "callback_data": f"pp:ib:{intro_id}"}],
    ]
    if report:
        rows[1].append({"text": t("Report to the admins"), "callback_data": f"pp:ir:{intro_id}"})
    return rows


async def _blocked(session: AsyncSession, blocker_id: int, blocked_id: int) -> bool:
    return await session.get(MemberBlock, (blocker_id, blocked_id)) is not None


def _name(t: Translator, member: Member | None) -> str:
    return (member.name if member is not None else None) or t("a former member")


# --- asking ---------------------------------------------------------------------------------


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
            t = translator(target.language)
            body = (
                t("{name} would like to be introduced to you.", name=html.escape(_name(t, asker)))
                + "\n\n"
                + await _card_text(session, t, asker)
                + "\n\n"
                + t("Their note: {note}", note=html.escape(text))
                + "\n\n"
                + t(
                    "If you accept, you both get each other's contact. If you decline, they "
                    "are told politely, without a reason."
                )
            )
            await _tell(
                session,
                target,
                key=f"pp:ask:{intro.id}",
                text=body,
                now=now,
                buttons=_answer_buttons(t, intro.id, report=True),
            )
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
        for person, other in ((first, second), (second, first)):
            t = translator(person.language)
            body = (
                t(
                    "{organiser} would like to introduce you to {name}.",
                    organiser=html.escape(_name(t, organiser)),
                    name=html.escape(_name(t, other)),
                )
                + "\n\n"
                + await _card_text(session, t, other)
                + "\n\n"
                + t("The organiser's note: {note}", note=html.escape(text))
                + "\n\n"
                + t("When you both accept, you get each other's contact.")
            )
            await _tell(
                session,
                person,
                key=f"pp:intro:{intro.id}",
                text=body,
                now=now,
                buttons=_answer_buttons(t, intro.id, report=False),
            )
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
        if member_id == intro.to_member_id:
            side, other_id = "to", intro.from_member_id
        elif intro.organiser_member_id is not None and member_id == intro.from_member_id:
            side, other_id = "from", intro.to_member_id
        else:
            raise NotAllowed("not_your_introduction")
        if action == "report" and intro.organiser_member_id is not None:
            raise InvalidInput("introduction_action_unknown")
        other = await _gone_or_live(session, other_id)
        t_me = translator(me.language)
        other_name = _name(t_me, other)
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
        if action == "accept":
            if side == "to":
                intro.to_accepted_at = now
            else:
                intro.from_accepted_at = now
            waiting = intro.from_accepted_at is None or intro.to_accepted_at is None
            if not waiting:
                intro.status = IntroductionStatus.ACCEPTED
                intro.decided_at = now
                await _connect(session, intro, me, other, organiser, now)
        else:
            waiting = False
            intro.status = IntroductionStatus.DECLINED
            intro.decided_at = now
            if action == "block" and not await _blocked(session, member_id, other.id):
                session.add(
                    MemberBlock(
                        blocker_member_id=member_id, blocked_member_id=other.id, created_at=now
                    )
                )
            await _declined(session, intro, me, other, organiser, now)
            if action == "report":
                await _report(session, intro, other, admins, now)
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


async def _connect(
    session: AsyncSession,
    intro: Introduction,
    me: Member,
    other: Member,
    organiser: Member | None,
    now: dt.datetime,
) -> None:
    """Both accepted: each gets the other's contact in Telegram and a short mail."""
    for person, counterpart in ((me, other), (other, me)):
        t = translator(person.language)
        share = await _share_email(session, counterpart)
        text = (
            t("You are connected with {name}.", name=html.escape(_name(t, counterpart)))
            + "\n\n"
            + await _card_text(session, t, counterpart)
            + "\n\n"
            + t("Contact: {contact}", contact=contact_text(t, counterpart, share_email=share))
        )
        await _tell(session, person, key=f"pp:connected:{intro.id}", text=text, now=now)
        if person.email and person.email_verified_at is not None:
            region = counterpart.region.name if counterpart.region else ""
            await outbox.enqueue(
                session,
                key=f"pp:connected-mail:{intro.id}:{person.id}",
                channel=outbox.EMAIL,
                member_id=person.id,
                now=now,
                payload={
                    "template": "connected",
                    "language": person.language,
                    "to_name": person.name or "",
                    "to_email": person.email,
                    "context": {
                        "name": person.name or "",
                        "other_name": counterpart.name or "",
                        "other_organisation": counterpart.organisation or "",
                        "other_sector": sector_name(t, counterpart.sector),
                        "other_region": region,
                        "other_telegram": telegram_link(counterpart),
                        "other_email": counterpart.email if share else "",
                    },
                },
            )
    if organiser is not None:
        t = translator(organiser.language)
        await _tell(
            session,
            organiser,
            key=f"pp:introduced:{intro.id}",
            text=t(
                "{first} and {second} both accepted your introduction and have each other's "
                "contact now.",
                first=html.escape(_name(t, me)),
                second=html.escape(_name(t, other)),
            ),
            now=now,
        )


async def _declined(
    session: AsyncSession,
    intro: Introduction,
    me: Member,
    other: Member,
    organiser: Member | None,
    now: dt.datetime,
) -> None:
    """A polite note without a reason (the same for a block: a block is silent)."""
    t = translator(other.language)
    if organiser is None:
        text = t(
            "{name} cannot take up your request for an introduction this time. Thank you for "
            "asking; you can find others with /people.",
            name=html.escape(_name(t, me)),
        )
    else:
        text = t(
            "The introduction to {name} will not go ahead this time.",
            name=html.escape(_name(t, me)),
        )
    await _tell(session, other, key=f"pp:declined:{intro.id}", text=text, now=now)
    if organiser is not None:
        t = translator(organiser.language)
        await _tell(
            session,
            organiser,
            key=f"pp:declined:{intro.id}",
            text=t(
                "Your introduction of {first} and {second} will not go ahead this time.",
                first=html.escape(_name(t, other)),
                second=html.escape(_name(t, me)),
            ),
            now=now,
        )


async def _report(
    session: AsyncSession,
    intro: Introduction,
    asker: Member,
    admins: Iterable[int],
    now: dt.datetime,
) -> None:
    """The request goes to every administrator (in their language when they are members)."""
    for admin_id in sorted(set(admins)):
        admin = await session.scalar(
            select(Member).where(Member.telegram_user_id == admin_id, Member.deleted_at.is_(None))
        )
        t = translator(admin.language if admin is not None else "en")
        text = t(
            "A member reported a request for an introduction (number {id}) from {name} "
            "(member {member}). The note: {note}",
            id=intro.id,
            name=html.escape(_name(t, asker)),
            member=asker.id,
            note=html.escape(intro.note or ""),
        )
        await outbox.enqueue_telegram(
            session,
            key=f"pp:report:{intro.id}:{admin_id}",
            chat_id=admin_id,
            text=text,
            parse_mode="HTML",
            now=now,
            member_id=admin.id if admin is not None else None,
        )


async def withdraw(uow: UnitOfWork, member_id: int, intro_id: int, *, now: dt.datetime) -> Outcome:
    """The asker withdraws a request nobody has answered yet."""
    async with uow:
        session = uow.session
        me = await _live(session, member_id)
        intro = await _locked(session, intro_id)
        if intro.from_member_id != member_id or intro.organiser_member_id is not None:
            raise NotAllowed("not_your_introduction")
        other = await _gone_or_live(session, intro.to_member_id)
        other_name = _name(translator(me.language), other)
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
            if intro.organiser_member_id is None:
                told = await _gone_or_live(session, intro.from_member_id)
            else:
                told = await _gone_or_live(session, intro.organiser_member_id)
            target = await _gone_or_live(session, intro.to_member_id)
            if told is not None:
                t = translator(told.language)
                days = (intro.expires_at - intro.created_at).days
                name = html.escape(_name(t, target))
                await _tell(
                    session,
                    told,
                    key=f"pp:expired:{intro.id}",
                    text=t.plural(
                        "Your request for an introduction to {name} got no answer in {days} "
                        "day and has expired. You can find others with /people.",
                        "Your request for an introduction to {name} got no answer in {days} "
                        "days and has expired. You can find others with /people.",
                        days,
                        name=name,
                        days=days,
                    ),
                    now=now,
                )
            audit.record(session, "introduction.expired", now=now, introduction_id=intro.id)
        await session.flush()
        await uow.commit()
        return len(due)
