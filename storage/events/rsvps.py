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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.events import notices, programme, rules
from storage.events import views as events
from storage.events.views import Answer, EventCard
from storage.events.waitlist import fill_free_seats, queue_after, record_answer
from storage.models import Event, EventStatus, Member, Rsvp, RsvpStatus
from storage.uow import UnitOfWork, retry_conflicts


@dataclass(frozen=True)
class RsvpOutcome:
    card: EventCard
    changed: bool
    invited: bool  # a calendar invitation was queued for the member
    promoted: int  # members moved from the waiting list to a seat


@dataclass
class _Standing:
    """What an answer is decided on, read once the event's lock is held: the member (not
    erased), their answer so far, when the last one waiting joined the waiting list, and how
    many hold each status."""

    member: Member
    rsvp: Rsvp | None
    last_queued: dt.datetime | None
    counts: Counter[str]


async def _standing(session: AsyncSession, event_id: int, member_id: int) -> _Standing:
    last_queued = (
        select(func.max(Rsvp.waitlist_since))
        .where(Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.WAITLIST)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(Member, Rsvp, last_queued)
            .outerjoin(Rsvp, and_(Rsvp.member_id == Member.id, Rsvp.event_id == event_id))
            .where(Member.id == member_id, Member.deleted_at.is_(None))
        )
    ).first()
    if row is None:
        raise NotFound("member_not_found")
    counts = Counter((await events.counts(session, [event_id]))[event_id])
    return _Standing(row[0], row[1], row[2], counts)


async def _open_event(
    session: AsyncSession, event_id: int, now: dt.datetime
) -> tuple[Event, str | None]:
    """The event, locked, and its region's name; NotAllowed when it no longer takes answers."""
    event, region_name = await events.load(session, event_id, lock=True)
    reason = rules.rsvp_closed_reason(
        status=event.status, starts_at=event.starts_at, deadline=event.rsvp_deadline, now=now
    )
    if reason is not None:
        raise NotAllowed(reason)
    return event, region_name


def _record(
    session: AsyncSession, event: Event, standing: _Standing, status: str, now: dt.datetime
) -> Rsvp:
    """The member's new answer (a new row, or the old one's next version); ``standing.counts``
    follow. Joining the waiting list puts the member after everyone already waiting."""
    rsvp = standing.rsvp
    if rsvp is None:
        rsvp = Rsvp(event_id=event.id, member_id=standing.member.id, status=status, version=1)
        session.add(rsvp)
    else:
        rsvp.version += 1
        standing.counts[rsvp.status] -= 1
    queued_at = queue_after(standing.last_queued, now) if status == RsvpStatus.WAITLIST else None
    record_answer(rsvp, status, now, queued_at=queued_at)
    standing.counts[status] += 1
    return rsvp


async def _mail_the_change(
    session: AsyncSession,
    event: Event,
    member: Member,
    rsvp: Rsvp,
    before: str | None,
    *,
    now: dt.datetime,
    bot_username: str | None,
    items: Sequence[programme.Item],
) -> bool:
    """Queue the calendar mail the new answer owes: an invitation for Going, a CANCEL (and no
    more reminders) for giving up a seat. True if an invitation was queued."""
    mail = partial(
        notices.mail_invite,
        session,
        event,
        member,
        rsvp,
        now=now,
        bot_username=bot_username,
        programme_items=items,
    )
    if rsvp.status == RsvpStatus.GOING:
        return await mail(kind="new")
    if before == RsvpStatus.GOING:
        await mail(kind="stopped")
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
        event, region_name = await _open_event(session, event_id, now)
        # Read after the lock is held: every earlier change to this event is committed.
        standing = await _standing(session, event.id, member_id)
        counts = standing.counts
        before = standing.rsvp.status if standing.rsvp is not None else None
        step = rules.transition(
            before,
            answer,
            seat_available=rules.seat_free(
                event.capacity, counts[RsvpStatus.GOING], counts[RsvpStatus.WAITLIST]
            ),
        )
        # Read before the new answer is added (a query would flush it, then update it).
        items = await programme.items_of(session, event.id)
        if not step.changed:
            assert standing.rsvp is not None
            card = EventCard(
                events.view_of(event, region_name, counts),
                await events.answer_of(session, standing.rsvp, step.status),
                [item.compact() for item in items],
            )
            return RsvpOutcome(card, changed=False, invited=False, promoted=0)
        rsvp = _record(session, event, standing, step.status, now)
        invited = await _mail_the_change(
            session, event, standing.member, rsvp, before,
            now=now, bot_username=bot_username, items=items,
        )  # fmt: skip
        promoted = 0
        if step.frees_seat:
            promoted = await fill_free_seats(
                session, event, counts, now=now, bot_username=bot_username
            )
        await session.flush()
        # Who just joined the waiting list is last in it.
        position = counts[RsvpStatus.WAITLIST] if step.status == RsvpStatus.WAITLIST else None
        card = EventCard(
            events.view_of(event, region_name, counts),
            Answer(step.status, position),
            [item.compact() for item in items],
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
