"""Timebank statistics for organisers: hours exchanged per month, region and sector, and the
number of active members (the bot shows them and offers them as CSV)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EntryKind, Member, Region, TimebankAccount, TimebankEntry
from storage.permissions import Actor, require_organiser, visible_region_ids
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class StatsRow:
    month: str  # "2026-11", in the network's time zone
    region: str
    sector: str
    exchanges: int
    minutes: int
    active_members: int


@dataclass(frozen=True)
class Stats:
    """Hours exchanged (confirmed exchanges not reversed; corrections are not exchanges),
    attributed to the region and sector of the side that gave the help."""

    first_month: str
    last_month: str
    total_minutes: int
    total_exchanges: int
    active_members: int
    by_month: list[tuple[str, int, int, int]]  # month, minutes, exchanges, active members
    by_region: list[tuple[str, int]]
    by_sector: list[tuple[str, int]]
    rows: list[StatsRow]
    region_limited: str | None


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


AccountInfo = tuple[int | None, int | None, str | None]  # member id, region id, sector


async def _exchange_entries(
    session: AsyncSession, since: dt.datetime
) -> Sequence[Row[int, dt.datetime, int, int, int]]:
    """The entries of confirmed exchanges since ``since``, without those reversed since."""
    reversed_ids = select(TimebankEntry.reverses_entry_id).where(
        TimebankEntry.reverses_entry_id.is_not(None)
    )
    result = await session.execute(
        select(
            TimebankEntry.id,
            TimebankEntry.created_at,
            TimebankEntry.minutes,
            TimebankEntry.credit_account_id,
            TimebankEntry.debit_account_id,
        ).where(
            TimebankEntry.kind == EntryKind.EXCHANGE,
            TimebankEntry.created_at >= since,
            TimebankEntry.id.not_in(reversed_ids),
        )
    )
    return result.all()


async def _account_info(session: AsyncSession, account_ids: set[int]) -> dict[int, AccountInfo]:
    """By account: its member (None for an organisation), region and sector (a member's
    account counts in the member's region and sector)."""
    info: dict[int, AccountInfo] = {}
    if not account_ids:
        return info
    rows = await session.execute(
        select(
            TimebankAccount.id,
            TimebankAccount.member_id,
            TimebankAccount.region_id,
            TimebankAccount.sector,
            Member.region_id,
            Member.sector,
        )
        .outerjoin(Member, Member.id == TimebankAccount.member_id)
        .where(TimebankAccount.id.in_(account_ids))
    )
    for account_id, member_id, a_region, a_sector, m_region, m_sector in rows.all():
        if member_id is not None:
            info[account_id] = (member_id, m_region, m_sector)
        else:
            info[account_id] = (None, a_region, a_sector)
    return info


@dataclass
class _Tally:
    """Exchanges, minutes and the members who took part, added up."""

    exchanges: int = 0
    minutes: int = 0
    people: set[int] = field(default_factory=set)

    def add(self, minutes: int, people: set[int]) -> None:
        self.exchanges += 1
        self.minutes += minutes
        self.people.update(people)


@dataclass
class _Tallies:
    """The running totals of ``stats``: by (month, region, sector), by month, region, sector."""

    groups: dict[tuple[str, str, str], _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    months: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    by_region: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_sector: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: _Tally = field(default_factory=_Tally)


def _tally(
    rows: Sequence[Row[int, dt.datetime, int, int, int]],
    info: dict[int, AccountInfo],
    region_names: dict[int, str],
    *,
    limited_to: int | None,
    tz: ZoneInfo,
) -> _Tallies:
    """Each entry counted in the month, region and sector of the side that gave the help."""
    tallies = _Tallies()
    for row in rows:
        giver_member, region_id, sector = info.get(row.credit_account_id, (None, None, None))
        if limited_to is not None and region_id != limited_to:
            continue
        receiver_member = info.get(row.debit_account_id, (None, None, None))[0]
        people = {m for m in (giver_member, receiver_member) if m is not None}
        month = row.created_at.astimezone(tz).strftime("%Y-%m")
        region = region_names.get(region_id, "") if region_id is not None else ""
        for tally in (
            tallies.groups[(month, region, sector or "")],
            tallies.months[month],
            tallies.total,
        ):
            tally.add(row.minutes, people)
        tallies.by_region[region] += row.minutes
        tallies.by_sector[sector or ""] += row.minutes
    return tallies


def _largest_first(minutes: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(minutes.items(), key=lambda item: (-item[1], item[0]))


async def stats(
    uow: UnitOfWork, actor: Actor, *, tz: ZoneInfo, now: dt.datetime, months: int = 12
) -> Stats:
    """Hours exchanged per month, region and sector over the last ``months`` months, and the
    number of active members (who gave or received help). Organisers only; an organiser for
    one region sees the help given in that region."""
    require_organiser(actor)
    limited_to = visible_region_ids(actor)
    local_today = now.astimezone(tz).date()
    first = _month_start(local_today, months - 1)
    since = dt.datetime(first.year, first.month, 1, tzinfo=tz).astimezone(dt.UTC)
    async with uow:
        session = uow.session
        rows = await _exchange_entries(session, since)
        account_ids = {r.credit_account_id for r in rows} | {r.debit_account_id for r in rows}
        info = await _account_info(session, account_ids)
        region_names = dict((await session.execute(select(Region.id, Region.name))).all())
    tallies = _tally(rows, info, region_names, limited_to=limited_to, tz=tz)
    all_months = [_month_start(local_today, back).strftime("%Y-%m") for back in range(months)]
    by_month = [(m, tallies.months.get(m, _Tally())) for m in reversed(all_months)]
    return Stats(
        first_month=all_months[-1],
        last_month=all_months[0],
        total_minutes=tallies.total.minutes,
        total_exchanges=tallies.total.exchanges,
        active_members=len(tallies.total.people),
        by_month=[(m, t.minutes, t.exchanges, len(t.people)) for m, t in by_month],
        by_region=_largest_first(tallies.by_region),
        by_sector=_largest_first(tallies.by_sector),
        rows=[
            StatsRow(month, region, sector, t.exchanges, t.minutes, len(t.people))
            for (month, region, sector), t in sorted(tallies.groups.items())
        ],
        region_limited=region_names.get(limited_to) if limited_to is not None else None,
    )
