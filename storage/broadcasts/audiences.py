"""Who a broadcast goes to: everyone, a region, a sector or an event's attendees, as far as
the organiser may reach; the choices offered and the preview (how many members it reaches).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotAllowed
from storage.models import (
    AudienceKind,
    Event,
    EventStatus,
    Member,
    Region,
    Rsvp,
    RsvpStatus,
    Sector,
)
from storage.permissions import Actor, require_organiser, visible_region_ids
from storage.rules import ascii_number
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Audience:
    kind: str
    value: str | None = None

    @classmethod
    def everyone(cls) -> Audience:
        return cls(AudienceKind.EVERYONE)

    @classmethod
    def region(cls, region_id: int) -> Audience:
        return cls(AudienceKind.REGION, str(region_id))

    @classmethod
    def sector(cls, sector: str) -> Audience:
        return cls(AudienceKind.SECTOR, sector)

    @classmethod
    def event(cls, event_id: int) -> Audience:
        return cls(AudienceKind.EVENT, str(event_id))


@dataclass(frozen=True)
class EventChoice:
    id: int
    title: str
    starts_at: dt.datetime


@dataclass(frozen=True)
class AudienceOptions:
    """What an organiser may choose from: an organiser for one region gets that region only."""

    scope_region_id: int | None
    scope_region_name: str | None
    regions: list[tuple[int, str]]
    events: list[EventChoice]


@dataclass(frozen=True)
class AudienceLabel:
    """What the audience is, for the preview: ``kind`` and the region, sector or event named,
    plus the region an organiser is limited to."""

    kind: str
    name: str | None
    scope_region_name: str | None
    event_starts_at: dt.datetime | None = None


@dataclass(frozen=True)
class Preview:
    audience: Audience
    label: AudienceLabel
    recipients: int


def _int(value: str | None) -> int:
    number = None if value is None else ascii_number(value)
    if number is None:
        raise InvalidInput("audience_unknown")
    return number


Recipients: TypeAlias = "Select[int, int | None, str]"  # member id, Telegram id, language


def _reachable_members() -> Recipients:
    return select(Member.id, Member.telegram_user_id, Member.language).where(
        Member.deleted_at.is_(None),
        Member.consent_at.is_not(None),
        Member.telegram_user_id.is_not(None),
        Member.unreachable_at.is_(None),
    )


async def resolve(
    session: AsyncSession, actor: Actor, audience: Audience
) -> tuple[Recipients, AudienceLabel, int | None]:
    """The recipients' query, the audience's label and the region scope, or InvalidInput /
    NotAllowed."""
    require_organiser(actor)
    scope = visible_region_ids(actor)
    scope_name = None
    statement = _reachable_members()
    if scope is not None:
        region = await session.get(Region, scope)
        scope_name = region.name if region is not None else None
        statement = statement.where(Member.region_id == scope)
    if audience.kind == AudienceKind.EVERYONE:
        return statement, AudienceLabel(audience.kind, None, scope_name), scope
    if audience.kind == AudienceKind.REGION:
        region_id = _int(audience.value)
        region = await session.get(Region, region_id)
        if region is None or not region.active:
            raise InvalidInput("region_unknown")
        if scope is not None and region_id != scope:
            raise NotAllowed("broadcast_other_region")
        statement = statement.where(Member.region_id == region_id)
        return statement, AudienceLabel(audience.kind, region.name, scope_name), scope
    if audience.kind == AudienceKind.SECTOR:
        if audience.value not in set(Sector):
            raise InvalidInput("sector_unknown")
        statement = statement.where(Member.sector == audience.value)
        return statement, AudienceLabel(audience.kind, audience.value, scope_name), scope
    if audience.kind == AudienceKind.EVENT:
        event = await session.get(Event, _int(audience.value))
        if event is None:
            raise InvalidInput("event_not_found")
        if scope is not None and event.region_id != scope:
            raise NotAllowed("broadcast_other_region")
        going = select(Rsvp.member_id).where(
            Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.GOING
        )
        # The event's attendees wherever they live: the event, not the region, is the scope.
        statement = _reachable_members().where(Member.id.in_(going))
        label = AudienceLabel(audience.kind, event.title, scope_name, event.starts_at)
        return statement, label, scope
    raise InvalidInput("audience_unknown")


async def audience_options(
    uow: UnitOfWork, actor: Actor, *, now: dt.datetime, events: int = 8
) -> AudienceOptions:
    """The regions and the upcoming events an organiser may broadcast to."""
    require_organiser(actor)
    scope = visible_region_ids(actor)
    async with uow:
        region_query = select(Region).where(Region.active.is_(True)).order_by(Region.id)
        event_query = (
            select(Event)
            .where(Event.status == EventStatus.PUBLISHED, Event.ends_at >= now)
            .order_by(Event.starts_at, Event.id)
            .limit(events)
        )
        if scope is not None:
            region_query = region_query.where(Region.id == scope)
            event_query = event_query.where(Event.region_id == scope)
        regions = [(r.id, r.name) for r in (await uow.session.scalars(region_query)).all()]
        upcoming = [
            EventChoice(e.id, e.title, e.starts_at)
            for e in (await uow.session.scalars(event_query)).all()
        ]
        scope_name = regions[0][1] if scope is not None and regions else None
        return AudienceOptions(scope, scope_name, regions, upcoming)


async def preview(uow: UnitOfWork, actor: Actor, audience: Audience) -> Preview:
    """How many members the broadcast would reach, and who they are (for the confirmation)."""
    async with uow:
        statement, label, _scope = await resolve(uow.session, actor, audience)
        count = await uow.session.scalar(select(func.count()).select_from(statement.subquery()))
        return Preview(audience, label, int(count or 0))
