"""The waiting list: when seats become free (a member gives up theirs, the organiser adds
seats), the first ones waiting take them, in the order they joined, and are told so (with a
calendar invitation). The caller holds the event's row lock (see storage.events.rsvps); who
is promoted, and how many, is the pure rule ``rules.promotions``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.events import notices, rules
from storage.models import Event, Member, Rsvp, RsvpStatus
from templates.i18n import translator


def record_answer(
    rsvp: Rsvp, status: str, now: dt.datetime, *, queued_at: dt.datetime | None = None
) -> None:
    """Set the member's answer; the time they took a seat or joined the waiting list goes with
    it (``queued_at``: their place in the queue, from ``queue_after``)."""
    rsvp.status = status
    rsvp.responded_at = now
    rsvp.going_since = now if status == RsvpStatus.GOING else None
    rsvp.waitlist_since = (queued_at or now) if status == RsvpStatus.WAITLIST else None


QUEUE_STEP = dt.timedelta(microseconds=1)


def queue_after(last: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a member joining the waiting list now stands in the queue, given when the last one
    waiting joined (None: nobody waits; the caller read it under the event's lock): after
    everyone already waiting, whatever the clock said when their press arrived. The queue is
    then the order of decisions, so the place a member is told is true even when presses that
    arrived earlier were decided later, and who just joined is last in it."""
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
        record_answer(rsvp, RsvpStatus.GOING, now)
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
