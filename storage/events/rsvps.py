"""Members' answers to events (RSVPs): Going takes a free seat or a place on the waiting list,
giving up a seat passes it to the first one waiting, and an erased member's answers are
withdrawn.

Every use case is one transaction. Whatever changes who holds a seat runs under a lock on the
event's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction holds the
write lock from its first statement, see storage.db), so there are never more members going
than seats, however many press Going at the same moment. The invites and notices an answer
owes people are queued in the same transaction (storage.event_notices).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.events import notices, rules
from storage.events import views as events
from storage.events.views import EventCard
from storage.models import Event, EventStatus, Member, Rsvp, RsvpStatus
from storage.uow import UnitOfWork, retry_conflicts
from templates.i18n import translator


@dataclass(frozen=True)
class RsvpOutcome:
    card: EventCard
    changed: bool
    invited: bool  # a calendar invitation was queued for the member
    promoted: int  # members moved from the waiting list to a seat


def _record(
    rsvp: Rsvp, status: str, now: dt.datetime, *, queued_at: dt.datetime | None = None
) -> None:
    """Set the member's answer; the time they took a seat or joined the waiting list goes with
    it (``queued_at``: their place in the queue, from ``_queue_time``)."""
    rsvp.status = status
    rsvp.responded_at = now
    rsvp.going_since = now if status == RsvpStatus.GOING else None
    rsvp.waitlist_since = (queued_at or now) if status == RsvpStatus.WAITLIST else None


QUEUE_STEP = dt.timedelta(microseconds=1)


async def _queue_time(session: AsyncSession, event_id: int, now: dt.datetime) -> dt.datetime:
    """When a member joining the waiting list now stands in the queue (the caller holds the
    event's lock): after everyone already waiting, whatever the clock said when their press
    arrived. The queue is then the order of decisions, so the place a member is told is true
    even when presses that arrived earlier were decided later."""
    last = await session.scalar(
        select(func.max(Rsvp.waitlist_since)).where(
            Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.WAITLIST
        )
    )
    return now if last is None or last < now else last + QUEUE_STEP


async def _promote(
    session: AsyncSession,
    event: Event,
    *,
    going: int,
    waiting: int,
    now: dt.datetime,
    bot_username: str | None,
) -> int:
    """Give free seats to the head of the waiting list (the caller holds the event's lock)."""
    count = rules.promotions(event.capacity, going, waiting)
    if count == 0:
        return 0
    rows = (
        await session.execute(
            select(Rsvp, Member)
            .join(Member, Rsvp.member_id == Member.id)
            .where(Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.WAITLIST)
            .order_by(Rsvp.waitlist_since, Rsvp.id)
            .limit(count)
        )
    ).all()
    for rsvp, member in rows:
        _record(rsvp, RsvpStatus.GOING, now)
        rsvp.version += 1
        invited = await notices.mail_invite(
            session, event, member, rsvp, kind="promoted", now=now, bot_username=bot_username
        )
        t = translator(member.language)
        text = t(
            "Good news: a seat has become free at “{title}” ({when}), and it is yours. "
            "You are going.",
            title=event.title,
            when=notices.when_text(event, member.language),
        )
        if invited:
            text += "\n\n" + t(
                "A calendar invitation is on its way to {email}.", email=member.email
            )
        await notices.tell(
            session, member, event, key=f"promoted:{rsvp.id}:{rsvp.version}", text=text, now=now
        )
    return len(rows)


async def fill_free_seats(
    session: AsyncSession,
    event: Event,
    counts: Counter[str],
    *,
    now: dt.datetime,
    bot_username: str | None,
) -> int:
    """Promote from the waiting list into the seats free now (the caller holds the event's
    lock); ``counts`` follow. Returns how many were promoted."""
    promoted = await _promote(
        session,
        event,
        going=counts[RsvpStatus.GOING],
        waiting=counts[RsvpStatus.WAITLIST],
        now=now,
        bot_username=bot_username,
    )
    counts[RsvpStatus.GOING] += promoted
    counts[RsvpStatus.WAITLIST] -= promoted
    return promoted


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
        row = (
            await session.execute(
                select(Member, Rsvp)
                .outerjoin(Rsvp, and_(Rsvp.member_id == Member.id, Rsvp.event_id == event.id))
                .where(Member.id == member_id, Member.deleted_at.is_(None))
            )
        ).first()
        if row is None:
            raise NotFound("member_not_found")
        member = row[0]
        rsvp: Rsvp | None = row[1]  # None when the member has not answered (outer join)
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
            queued_at = await _queue_time(session, event.id, now)
        _record(rsvp, step.status, now, queued_at=queued_at)
        counts[step.status] += 1
        invited = False
        if step.status == RsvpStatus.GOING:
            invited = await notices.mail_invite(
                session, event, member, rsvp, kind="new", now=now, bot_username=bot_username
            )
        elif before == RsvpStatus.GOING:
            await notices.mail_invite(
                session, event, member, rsvp, kind="stopped", now=now, bot_username=bot_username
            )
            await notices.withdraw_reminders(session, event.id, member.id)
        promoted = 0
        if step.frees_seat:
            promoted = await fill_free_seats(
                session, event, counts, now=now, bot_username=bot_username
            )
        await session.flush()
        card = EventCard(
            events.view_of(event, region_name, counts),
            await events.answer_of(session, rsvp, step.status),
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
        _record(rsvp, RsvpStatus.NOT_GOING, now)
        rsvp.version += 1
        rsvp.invite_active = False
        await notices.withdraw_reminders(session, event_id, member_id)
        await session.flush()
        if was_going:
            counts = Counter((await events.counts(session, [event_id]))[event_id])
            await fill_free_seats(session, event, counts, now=now, bot_username=bot_username)
    return len(event_ids)
