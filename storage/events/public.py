"""Events as the public sees them on the web pages (``GET /events``, ``/events/<id>``): published
and cancelled events only, with their seat counts and organiser, never who is coming.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select

from storage.events.views import EventView, counts, view_of, with_region
from storage.models import Event, EventStatus, Member, Region
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
