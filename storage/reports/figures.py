"""The figures of the funder report for a period and a region.

The participation figures are those of /stats (``storage.events.stats``), taken from it, so that
the report and /stats always agree; this module adds what a funder asks for beside them: new
members, participations by the participants' home region and per month, the cross-sector share,
timebank hours given, and the table of meetings with their places. The connection figures
(accepted introductions, the sector matrix, their cross-sector share) are those of /stats →
Connections (``storage.people.stats``), taken from it likewise.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput
from storage.events import stats as event_stats
from storage.events.stats import EventStats, StatsReport
from storage.models import CheckIn, EntryKind, Event, Member, Region, TimebankAccount, TimebankEntry
from storage.people import stats as people_stats
from storage.people.stats import ConnectionsReport
from storage.permissions import Actor, figures_region
from storage.uow import UnitOfWork

# A meeting is cross-sector when its participants came from at least this many of the five
# sectors (civil society, public, business, foundation, academia).
CROSS_SECTOR_MIN_SECTORS = 3


@dataclass(frozen=True)
class Meeting:
    id: int
    starts_at: dt.datetime
    title: str
    place: str | None
    online: bool
    registered: int
    attended: int
    sectors: int
    feedback_average: float | None = None
    feedback_count: int = 0


@dataclass(frozen=True)
class FunderFigures:
    start: dt.datetime
    end: dt.datetime  # exclusive
    timezone: str
    region_name: str | None
    meetings_held: int
    registrations: int
    unique_participants: int
    participations: int
    attendance_rate: float | None  # participations / registrations
    new_members: int
    cross_sector_share: float | None  # participations at cross-sector meetings / participations
    timebank_minutes: int
    feedback_average: float | None
    feedback_count: int
    by_sector: dict[str, int]  # participations by the participant's sector ("" unknown)
    by_region: dict[str, int]  # participations by the participant's home region ("" unknown)
    by_month: list[tuple[str, int]]  # "2026-03", participations, every month of the period
    meetings: list[Meeting]
    stats: StatsReport  # what /stats shows for the same period and region
    connections: ConnectionsReport  # what /stats → Connections shows for them

    @property
    def empty(self) -> bool:
        return (
            self.meetings_held == 0
            and self.new_members == 0
            and self.timebank_minutes == 0
            and self.connections.asked == 0
        )


def months_between(start: dt.date, end_exclusive: dt.date) -> list[str]:
    """Every month touched by the days from ``start`` to before ``end_exclusive``."""
    last = end_exclusive - dt.timedelta(days=1)
    if last < start:
        return []
    first_index = start.year * 12 + start.month - 1
    last_index = last.year * 12 + last.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(first_index, last_index + 1)]


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def _new_members(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime, region_id: int | None
) -> int:
    """Members who joined (and consented) in the period, in the region, and are still members."""
    joined = and_(
        Member.created_at >= start,
        Member.created_at < end,
        Member.deleted_at.is_(None),
        Member.consent_at.is_not(None),
    )
    if region_id is not None:
        joined = and_(joined, Member.region_id == region_id)
    return await session.scalar(select(func.count(Member.id)).where(joined)) or 0


def _meeting(e: EventStats, location: str | None, online_url: str | None) -> Meeting:
    return Meeting(
        id=e.id,
        starts_at=e.starts_at,
        title=e.title,
        place=location,
        online=online_url is not None,
        registered=e.registered,
        attended=e.attended,
        sectors=len([s for s in e.attended_by_sector if s]),
        feedback_average=e.feedback.average,
        feedback_count=e.feedback.count,
    )


async def _places(
    session: AsyncSession, ids: list[int]
) -> dict[int, tuple[str | None, str | None]]:
    """Each event's place and online link."""
    rows = await session.execute(
        select(Event.id, Event.location, Event.online_url).where(Event.id.in_(ids))
    )
    return {event_id: (location, online_url) for event_id, location, online_url in rows.all()}


async def _check_ins(
    session: AsyncSession, ids: list[int]
) -> Sequence[Row[int, str | None, str | None]]:
    """Each check-in at the events: the event, and the member's sector and home region."""
    result = await session.execute(
        select(CheckIn.event_id, Member.sector, Region.name)
        .join(Member, CheckIn.member_id == Member.id, isouter=True)
        .join(Region, Member.region_id == Region.id, isouter=True)
        .where(CheckIn.event_id.in_(ids))
    )
    return result.all()


async def funder_figures(
    uow: UnitOfWork,
    actor: Actor,
    *,
    start: dt.datetime,
    end: dt.datetime,
    region_id: int | None,
    now: dt.datetime,
    timezone: str,
) -> FunderFigures:
    """The report's figures for meetings held from ``start`` to before ``end`` in a region (or
    all). Organisers only; an organiser for one region gets that region (as in /stats)."""
    report = await event_stats.stats(uow, actor, start=start, end=end, region_id=region_id, now=now)
    if region_id is not None and report.region_name is None:
        raise InvalidInput("region_unknown")
    region_id = figures_region(actor, region_id)  # stats() refused any other region already
    connections = await people_stats.connections(
        uow, actor, start=start, end=end, region_id=region_id
    )
    tz = ZoneInfo(timezone)
    ids = [e.id for e in report.events]
    async with uow:
        session = uow.session
        places = await _places(session, ids)
        checkins = await _check_ins(session, ids)
        new_members = await _new_members(session, start=start, end=end, region_id=region_id)
        timebank_minutes = await _timebank_minutes(uow, start=start, end=end, region_id=region_id)
    by_region = Counter(region or "" for _, _, region in checkins)
    starts = {e.id: e.starts_at for e in report.events}
    per_month = Counter(
        starts[event_id].astimezone(tz).strftime("%Y-%m") for event_id, *_ in checkins
    )
    months = months_between(start.astimezone(tz).date(), end.astimezone(tz).date())
    meetings = [_meeting(e, *places.get(e.id, (None, None))) for e in report.events]
    cross = sum(m.attended for m in meetings if m.sectors >= CROSS_SECTOR_MIN_SECTORS)
    return FunderFigures(
        start=start,
        end=end,
        timezone=timezone,
        region_name=report.region_name,
        meetings_held=len(report.events),
        registrations=report.registered,
        unique_participants=report.unique_attendees,
        participations=report.attended,
        attendance_rate=share(report.attended, report.registered),
        new_members=new_members,
        cross_sector_share=share(cross, report.attended),
        timebank_minutes=timebank_minutes,
        feedback_average=report.feedback.average,
        feedback_count=report.feedback.count,
        by_sector=dict(report.attended_by_sector),
        by_region=dict(sorted(by_region.items(), key=lambda item: (-item[1], item[0]))),
        by_month=[(m, per_month.get(m, 0)) for m in months],
        meetings=meetings,
        stats=report,
        connections=connections,
    )


async def _timebank_minutes(
    uow: UnitOfWork, *, start: dt.datetime, end: dt.datetime, region_id: int | None
) -> int:
    """Minutes of help given in the period: confirmed exchanges not reversed, attributed to the
    region of the side that gave the help (the rule of the timebank's statistics)."""
    session = uow.session
    reversed_ids = select(TimebankEntry.reverses_entry_id).where(
        TimebankEntry.reverses_entry_id.is_not(None)
    )
    query = (
        select(func.coalesce(func.sum(TimebankEntry.minutes), 0))
        .select_from(TimebankEntry)
        .join(TimebankAccount, TimebankAccount.id == TimebankEntry.credit_account_id)
        .join(Member, Member.id == TimebankAccount.member_id, isouter=True)
        .where(
            TimebankEntry.kind == EntryKind.EXCHANGE,
            TimebankEntry.created_at >= start,
            TimebankEntry.created_at < end,
            TimebankEntry.id.not_in(reversed_ids),
        )
    )
    if region_id is not None:
        query = query.where(
            case(
                (TimebankAccount.member_id.is_not(None), Member.region_id),
                else_=TimebankAccount.region_id,
            )
            == region_id
        )
    return int(await session.scalar(query) or 0)


async def region_by_code(uow: UnitOfWork, code: str) -> tuple[int, str] | None:
    """The id and name of the active region with this code (``samvirke report --region``)."""
    async with uow:
        row = (
            await uow.session.execute(
                select(Region.id, Region.name).where(
                    Region.code == code.strip().lower(), Region.active.is_(True)
                )
            )
        ).first()
        return (int(row[0]), str(row[1])) if row else None
