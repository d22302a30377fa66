"""The figures funders ask for: events held in a period and region, members registered (going)
and attended (checked in), by sector, in total and per event.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Row, and_, select
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


async def _events_held(
    session: AsyncSession,
    *,
    start: dt.datetime,
    end: dt.datetime,
    region_id: int | None,
    now: dt.datetime,
) -> Sequence[Row[Event, str | None]]:
    """The events held (started by ``now``, not cancelled) from ``start`` to before ``end``, in
    the region (or all), with their region's name, oldest first."""
    condition = and_(
        Event.status == EventStatus.PUBLISHED,
        Event.starts_at >= start,
        Event.starts_at < end,
        Event.starts_at <= now,
    )
    if region_id is not None:
        condition = and_(condition, Event.region_id == region_id)
    result = await session.execute(events.with_region().where(condition).order_by(Event.starts_at))
    return result.all()


@dataclass(frozen=True)
class _Figures:
    """The raw rows behind the figures for a set of events."""

    registered: Sequence[Row[int, str | None]]  # (event id, sector) per member going
    attended: Sequence[Row[int, int | None, str | None]]  # (event id, member id, sector)
    feedback: Sequence[Row[int, int, str | None]]  # (event id, rating, comment)


async def _figures(session: AsyncSession, ids: list[int]) -> _Figures:
    """Who registered (going), who attended (checked in) and the feedback, for the events."""
    registered = (
        await session.execute(
            select(Rsvp.event_id, Member.sector)
            .join(Member, Rsvp.member_id == Member.id, isouter=True)
            .where(Rsvp.event_id.in_(ids), Rsvp.status == RsvpStatus.GOING)
        )
    ).all()
    attended = (
        await session.execute(
            select(CheckIn.event_id, CheckIn.member_id, Member.sector)
            .join(Member, CheckIn.member_id == Member.id, isouter=True)
            .where(CheckIn.event_id.in_(ids))
        )
    ).all()
    feedback = (
        await session.execute(
            select(EventFeedback.event_id, EventFeedback.rating, EventFeedback.comment)
            .where(EventFeedback.event_id.in_(ids))
            .order_by(EventFeedback.created_at, EventFeedback.id)
        )
    ).all()
    return _Figures(registered, attended, feedback)


def _event_stats(event: Event, region_name: str | None, figures: _Figures) -> EventStats:
    """One event's line of the report."""
    here = [sector or "" for event_id, _, sector in figures.attended if event_id == event.id]
    return EventStats(
        id=event.id,
        title=event.title,
        starts_at=event.starts_at,
        timezone=event.timezone,
        region_name=region_name,
        registered=sum(1 for event_id, _ in figures.registered if event_id == event.id),
        attended=len(here),
        attended_by_sector=dict(Counter(here).most_common()),
        feedback=summarise([(r, c) for event_id, r, c in figures.feedback if event_id == event.id]),
    )


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
    async with uow:
        session = uow.session
        region_name = await events.active_region_name(session, region_id)
        rows = await _events_held(session, start=start, end=end, region_id=region_id, now=now)
        figures = await _figures(session, [row[0].id for row in rows])
        registered, attended = figures.registered, figures.attended
        return StatsReport(
            start=start,
            end=end,
            region_name=region_name,
            events=[_event_stats(event, name, figures) for event, name in rows],
            registered=len(registered),
            attended=len(attended),
            unique_attendees=len({member_id for _, member_id, _ in attended if member_id}),
            registered_by_sector=dict(Counter(s or "" for _, s in registered).most_common()),
            attended_by_sector=dict(Counter(s or "" for *_, s in attended).most_common()),
            feedback=summarise([(r, c) for _, r, c in figures.feedback]),
        )
