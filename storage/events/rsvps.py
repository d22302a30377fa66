"""Members' answers to events (RSVPs): Going takes a free seat or a place on the waiting list,
giving up a seat passes it to the first one waiting (storage.events.waitlist), and an erased
member's answers are withdrawn.

Every use case is one transaction. Whatever changes who holds a seat runs under a lock on the
event's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction holds the
write lock from its first statement, see storage.db), so there are never more members going
than seats, however many press Going at the same moment. The invites and notices an answer
owes people are queued in the same transaction (storage.events.notices).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.events import notices, rules
from storage.events import views as events
from storage.events.views import EventCard
from storage.events.waitlist import fill_free_seats, queue_time, record_answer
from storage.models import Event, EventStatus, Member, Rsvp, RsvpStatus
from storage.uow import UnitOfWork, retry_conflicts


@dataclass(frozen=True)
class RsvpOutcome:
    card: EventCard
    changed: bool
    invited: bool  # a calendar invitation was queued for the member
    promoted: int  # members moved from the waiting list to a seat


async def _member_and_answer(
    session: AsyncSession, event_id: int, member_id: int
) -> tuple[Member, Rsvp | None]:
    """The member (not erased) and their answer to the event, None if they have not answered."""
    row = (
        await session.execute(
            select(Member, Rsvp)
            .outerjoin(Rsvp, and_(Rsvp.member_id == Member.id, Rsvp.event_id == event_id))
            .where(Member.id == member_id, Member.deleted_at.is_(None))
        )
    ).first()
    if row is None:
        raise NotFound("member_not_found")
    return row[0], row[1]


async def _mail_the_change(
    session: AsyncSession,
    event: Event,
    member: Member,
    rsvp: Rsvp,
    before: str | None,
    *,
    now: dt.datetime,
    bot_username: str | None,
) -> bool:
    """Queue the calendar mail the new answer owes: an invitation for Going, a CANCEL (and no
    more reminders) for giving up a seat. True if an invitation was queued."""
    if rsvp.status == RsvpStatus.GOING:
        return await notices.mail_invite(
            session, event, member, rsvp, kind="new", now=now, bot_username=bot_username
        )
    if before == RsvpStatus.GOING:
        await notices.mail_invite(
            session, event, member, rsvp, kind="stopped", now=now, bot_username=bot_username
        )
        await notices.withdraw_reminders(session, event.id, member.id)
    return False


@retry_conflicts
async def respond(
    uow: UnitOfWork,
    *,
    member_id: int,
    event_id: int,
    answer: str,
    now: dt.datetime,
    bot_username: str | None = None,
) -> RsvpOutcome:
    """A member answers Going, Maybe or Can't go.

    Going takes a free seat (and queues a calendar invitation), or a place on the waiting list
    when the event is full. Giving up a seat queues a CANCEL for the member's calendar copy and
    promotes the first one waiting. The same answer twice changes nothing and queues nothing.
    """
    if answer not in rules.ANSWERS:
        raise InvalidInput("answer_unknown")
    async with uow:
        session = uow.session
        event, region_name = await events.load(session, event_id, lock=True)
        reason = rules.rsvp_closed_reason(
            status=event.status, starts_at=event.starts_at, deadline=event.rsvp_deadline, now=now
        )
        if reason is not None:
            raise NotAllowed(reason)
        member, rsvp = await _member_and_answer(session, event.id, member_id)
        # Counted after the lock is held: every earlier change to this event is committed.
        counts = Counter((await events.counts(session, [event.id]))[event.id])
        before = rsvp.status if rsvp is not None else None
        step = rules.transition(
            before,
            answer,
            seat_available=rules.seat_free(
                event.capacity, counts[RsvpStatus.GOING], counts[RsvpStatus.WAITLIST]
            ),
        )
        if not step.changed:
            assert rsvp is not None
            card = EventCard(
                events.view_of(event, region_name, counts),
                await events.answer_of(session, rsvp, step.status),
                await events.programme_lines(session, event.id),
            )
            return RsvpOutcome(card, changed=False, invited=False, promoted=0)
        if rsvp is None:
            rsvp = Rsvp(event_id=event.id, member_id=member.id, status=step.status, version=1)
            session.add(rsvp)
        else:
            rsvp.version += 1
            counts[before or ""] -= 1
        queued_at = None
        if step.status == RsvpStatus.WAITLIST:
            queued_at = await queue_time(session, event.id, now)
        record_answer(rsvp, step.status, now, queued_at=queued_at)
        counts[step.status] += 1
        invited = await _mail_the_change(
            session, event, member, rsvp, before, now=now, bot_username=bot_username
        )
        promoted = 0
        if step.frees_seat:
            promoted = await fill_free_seats(
                session, event, counts, now=now, bot_username=bot_username
            )
        await session.flush()
        card = EventCard(
            events.view_of(event, region_name, counts),
            await events.answer_of(session, rsvp, step.status),
            await events.programme_lines(session, event.id),
        )
        await uow.commit()
        return RsvpOutcome(card, changed=True, invited=invited, promoted=promoted)


async def withdraw_member(
    session: AsyncSession, member_id: int, *, now: dt.datetime, bot_username: str | None = None
) -> int:
    """For an erasure (in the caller's transaction): the member's answers to events that have
    not begun become "not going", so their seats go to those waiting. Past answers stay, as
    anonymous counts. Returns how many answers were withdrawn."""
    event_ids = (
        await session.scalars(
            select(Rsvp.event_id)
            .join(Event, Rsvp.event_id == Event.id)
            .where(
                Rsvp.member_id == member_id,
                Rsvp.status.in_(rules.INTERESTED),
                Event.starts_at > now,
                Event.status == EventStatus.PUBLISHED,
            )
        )
    ).all()
    for event_id in event_ids:
        event, _ = await events.load(session, event_id, lock=True)
        rsvp = await events.rsvp_of(session, event_id, member_id)
        assert rsvp is not None
        was_going = rsvp.status == RsvpStatus.GOING
        record_answer(rsvp, RsvpStatus.NOT_GOING, now)
        rsvp.version += 1
        rsvp.invite_active = False
        await notices.withdraw_reminders(session, event_id, member_id)
        await session.flush()
        if was_going:
            counts = Counter((await events.counts(session, [event_id]))[event_id])
            await fill_free_seats(session, event, counts, now=now, bot_username=bot_username)
    return len(event_ids)
