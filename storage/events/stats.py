"""The figures funders ask for: events held in a period and region, members registered (going)
and attended (checked in), by sector, in total and per event.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.events import views as events
from storage.events.followup import FeedbackSummary, summarise
from storage.models import CheckIn, Event, EventFeedback, EventStatus, Member, Rsvp, RsvpStatus
from storage.permissions import Actor, figures_region, require_organiser
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class EventStats:
    id: int
    title: str
    starts_at: dt.datetime
    timezone: str
    region_name: str | None
    registered: int
    attended: int
    attended_by_sector: dict[str, int]
    feedback: FeedbackSummary = field(default_factory=FeedbackSummary)


@dataclass(frozen=True)
class StatsReport:
    start: dt.datetime
    end: dt.datetime
    region_name: str | None
    events: list[EventStats]
    registered: int
    attended: int
    unique_attendees: int
    registered_by_sector: dict[str, int]
    attended_by_sector: dict[str, int]
    feedback: FeedbackSummary = field(default_factory=FeedbackSummary)  # all events together


def _held(
    *, start: dt.datetime, end: dt.datetime, region_id: int | None, now: dt.datetime
) -> ColumnElement[bool]:
    """The events held (started by ``now``, not cancelled) from ``start`` to before ``end``, in
    the region (or all)."""
    condition = and_(
        Event.status == EventStatus.PUBLISHED,
        Event.starts_at >= start,
        Event.starts_at < end,
        Event.starts_at <= now,
    )
    if region_id is not None:
        condition = and_(condition, Event.region_id == region_id)
    return condition


@dataclass
class _Counts:
    """Counted by the database, per event and sector: a year of a large network is hundreds of
    thousands of RSVPs, which are never loaded one by one."""

    registered: dict[int, int] = field(default_factory=dict)  # event id -> going
    registered_by_sector: Counter[str] = field(default_factory=Counter)
    attended: dict[int, Counter[str]] = field(default_factory=dict)  # event id -> by sector
    unique_attendees: int = 0


async def _counts(session: AsyncSession, held: ColumnElement[bool]) -> _Counts:
    counts = _Counts()
    going = and_(Rsvp.event_id.in_(select(Event.id).where(held)), Rsvp.status == RsvpStatus.GOING)
    rows = await session.execute(
        select(Rsvp.event_id, Member.sector, func.count())
        .join(Member, Rsvp.member_id == Member.id, isouter=True)
        .where(going)
        .group_by(Rsvp.event_id, Member.sector)
    )
    for event_id, sector, n in rows:
        counts.registered[event_id] = counts.registered.get(event_id, 0) + n
        counts.registered_by_sector[sector or ""] += n
    checked_in = CheckIn.event_id.in_(select(Event.id).where(held))
    rows = await session.execute(
        select(CheckIn.event_id, Member.sector, func.count())
        .join(Member, CheckIn.member_id == Member.id, isouter=True)
        .where(checked_in)
        .group_by(CheckIn.event_id, Member.sector)
    )
    for event_id, sector, n in rows:
        counts.attended.setdefault(event_id, Counter())[sector or ""] += n
    counts.unique_attendees = (
        await session.scalar(
            select(func.count(distinct(CheckIn.member_id))).where(
                checked_in, CheckIn.member_id.is_not(None)
            )
        )
        or 0
    )
    return counts


async def _feedback(
    session: AsyncSession, held: ColumnElement[bool]
) -> list[tuple[int, int, str | None]]:
    """Every event's ratings and comments (event id, rating, comment), oldest first."""
    rows = await session.execute(
        select(EventFeedback.event_id, EventFeedback.rating, EventFeedback.comment)
        .where(EventFeedback.event_id.in_(select(Event.id).where(held)))
        .order_by(EventFeedback.created_at, EventFeedback.id)
    )
    return [(event_id, rating, comment) for event_id, rating, comment in rows]


def _by_count(counter: Counter[str]) -> dict[str, int]:
    """Most first; equal counts by name (the database gives groups in no stable order)."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


async def stats(
    uow: UnitOfWork,
    actor: Actor,
    *,
    start: dt.datetime,
    end: dt.datetime,
    region_id: int | None,
    now: dt.datetime,
) -> StatsReport:
    """Events held (started, not cancelled) from ``start`` to before ``end`` in a region (or all),
    with members registered (going) and attended (checked in), by sector. An organiser for one
    region sees that region."""
    require_organiser(actor)
    region_id = figures_region(actor, region_id)
    held = _held(start=start, end=end, region_id=region_id, now=now)
    async with uow:
        session = uow.session
        region_name = await events.active_region_name(session, region_id)
        rows = (
            await session.execute(events.with_region().where(held).order_by(Event.starts_at))
        ).all()
        counts = await _counts(session, held)
        feedback_rows = await _feedback(session, held)
        feedback: dict[int, list[tuple[int, str | None]]] = {}
        for event_id, rating, comment in feedback_rows:
            feedback.setdefault(event_id, []).append((rating, comment))
        per_event = [
            EventStats(
                id=event.id,
                title=event.title,
                starts_at=event.starts_at,
                timezone=event.timezone,
                region_name=name,
                registered=counts.registered.get(event.id, 0),
                attended=sum(counts.attended.get(event.id, Counter()).values()),
                attended_by_sector=_by_count(counts.attended.get(event.id, Counter())),
                feedback=summarise(feedback.get(event.id, [])),
            )
            for event, name in rows
        ]
    attended_by_sector: Counter[str] = sum(counts.attended.values(), Counter())
    return StatsReport(
        start=start,
        end=end,
        region_name=region_name,
        events=per_event,
        registered=sum(counts.registered.values()),
        attended=sum(attended_by_sector.values()),
        unique_attendees=counts.unique_attendees,
        registered_by_sector=_by_count(counts.registered_by_sector),
        attended_by_sector=_by_count(attended_by_sector),
        feedback=summarise([(rating, comment) for _, rating, comment in feedback_rows]),
    )
