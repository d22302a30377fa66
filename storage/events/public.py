"""Events as the public sees them on the web pages (``GET /events``, ``/events/<id>``): published
and cancelled events only, with their seat counts and organiser, never who is coming.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, or_, select

from storage.events import programme
from storage.events.views import EventView, counts, view_of, with_region
from storage.models import Event, EventStatus, Member, Region, RsvpStatus
from storage.uow import UnitOfWork

PUBLIC_STATUSES = (EventStatus.PUBLISHED, EventStatus.CANCELLED)
LIST_LIMIT = 50


@dataclass(frozen=True)
class PublicEvent:
    event: EventView
    # Who organises it, as the organiser signed up ("Karen Jensen, Aarhus Kommune"); None when
    # the organiser's account is gone (the page then names the network).
    organiser: str | None
    updated_at: dt.datetime
    programme: list[programme.Item] = field(default_factory=list)


@dataclass(frozen=True)
class PublicList:
    region_name: str | None  # None: every region
    events: list[EventView] = field(default_factory=list)


def page_link(public_url: object | None, event_id: int) -> str | None:
    """The event's public page (``{SAMVIRKE_PUBLIC_URL}/events/<id>``), None without a public
    URL."""
    if public_url is None:
        return None
    base = str(public_url).rstrip("/")
    return f"{base}/events/{event_id}" if base else None


def _organiser(member: Member | None) -> str | None:
    if member is None or member.deleted_at is not None or not member.name:
        return None
    return f"{member.name}, {member.organisation}" if member.organisation else member.name


async def event(uow: UnitOfWork, event_id: int) -> PublicEvent | None:
    """A published or cancelled event, or None (unknown id)."""
    async with uow:
        row = (
            await uow.session.execute(
                with_region()
                .add_columns(Member)
                .outerjoin(Member, Event.organiser_member_id == Member.id)
                .where(Event.id == event_id, Event.status.in_(PUBLIC_STATUSES))
            )
        ).first()
        if row is None:
            return None
        found, region_name, organiser = row
        counted = await counts(uow.session, [found.id])
        return PublicEvent(
            view_of(found, region_name, counted[found.id]),
            _organiser(organiser),
            found.updated_at,
            await programme.items_of(uow.session, found.id),
        )


async def upcoming(
    uow: UnitOfWork, region_code: str | None, *, now: dt.datetime, limit: int = LIST_LIMIT
) -> PublicList | None:
    """Events that have not ended, soonest first (cancelled ones stay, marked): a region's and
    the whole network's, or with None every one. None for an unknown region."""
    async with uow:
        session = uow.session
        condition = and_(Event.status.in_(PUBLIC_STATUSES), Event.ends_at > now)
        region_name = None
        if region_code is not None:
            region = await session.scalar(
                select(Region).where(Region.code == region_code, Region.active.is_(True))
            )
            if region is None:
                return None
            region_name = region.name
            condition = and_(
                condition, or_(Event.region_id == region.id, Event.region_id.is_(None))
            )
        rows = (
            await session.execute(
                with_region().where(condition).order_by(Event.starts_at, Event.id).limit(limit)
            )
        ).all()
        found = await counts(session, [row[0].id for row in rows])
        return PublicList(region_name, [view_of(e, name, found[e.id]) for e, name in rows])


async def regions(uow: UnitOfWork) -> list[tuple[str, str]]:
    """The active regions' codes and names, for the list page's region links."""
    async with uow:
        rows = await uow.session.execute(
            select(Region.code, Region.name).where(Region.active.is_(True)).order_by(Region.name)
        )
        return [(code, name) for code, name in rows.all()]


SEARCH_LIMIT = 20
SEARCH_SCAN = 500


def _matches(view: EventView, words: list[str]) -> bool:
    haystack = " ".join(
        part for part in (view.title, view.location, view.region_name, view.description) if part
    ).casefold()
    return all(word in haystack for word in words)


async def search(
    uow: UnitOfWork,
    query: str,
    *,
    region_id: int | None,
    now: dt.datetime,
    limit: int = SEARCH_LIMIT,
) -> list[EventView]:
    """Published events that have not ended whose title, place, region or description hold
    every word of ``query`` (any case; an empty query matches all): the member's region and
    the whole network's first, then the others, each soonest first."""
    words = query.casefold().split()[:10]
    async with uow:
        rows = (
            await uow.session.execute(
                with_region()
                .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
                .order_by(Event.starts_at, Event.id)
                .limit(SEARCH_SCAN)
            )
        ).all()
        views = [view_of(event, name) for event, name in rows]
        found = [view for view in views if _matches(view, words)]
        found.sort(key=lambda v: v.region_id is not None and v.region_id != region_id)
        found = found[:limit]
        counted = await counts(uow.session, [view.id for view in found])
        return [view_of_counts(view, counted[view.id]) for view in found]


def view_of_counts(view: EventView, counted: dict[str, int]) -> EventView:
    return replace(
        view,
        going=counted.get(RsvpStatus.GOING, 0),
        maybe=counted.get(RsvpStatus.MAYBE, 0),
        waitlist=counted.get(RsvpStatus.WAITLIST, 0),
    )
