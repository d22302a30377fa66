"""Timebank statistics for organisers: hours exchanged per month, region and sector, and the
number of active members (the bot shows them and offers them as CSV)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
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
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0, set()])
    months_seen: dict[str, list[Any]] = defaultdict(lambda: [0, 0, set()])
    by_region: dict[str, int] = defaultdict(int)
    by_sector: dict[str, int] = defaultdict(int)
    active: set[int] = set()
    total_minutes = total_exchanges = 0
    for row in rows:
        giver_member, region_id, sector = info.get(row.credit_account_id, (None, None, None))
        if limited_to is not None and region_id != limited_to:
            continue
        receiver_member = info.get(row.debit_account_id, (None, None, None))[0]
        people = {m for m in (giver_member, receiver_member) if m is not None}
        month = row.created_at.astimezone(tz).strftime("%Y-%m")
        region = region_names.get(region_id, "") if region_id is not None else ""
        key = (month, region, sector or "")
        for bucket in (groups[key], months_seen[month]):
            bucket[0] += 1
            bucket[1] += row.minutes
            bucket[2].update(people)
        by_region[region] += row.minutes
        by_sector[sector or ""] += row.minutes
        active.update(people)
        total_minutes += row.minutes
        total_exchanges += 1
    all_months = [_month_start(local_today, back).strftime("%Y-%m") for back in range(months)]
    return Stats(
        first_month=all_months[-1],
        last_month=all_months[0],
        total_minutes=total_minutes,
        total_exchanges=total_exchanges,
        active_members=len(active),
        by_month=[
            (
                m,
                months_seen[m][1] if m in months_seen else 0,
                months_seen[m][0] if m in months_seen else 0,
                len(months_seen[m][2]) if m in months_seen else 0,
            )
            for m in reversed(all_months)
        ],
        by_region=sorted(by_region.items(), key=lambda item: (-item[1], item[0])),
        by_sector=sorted(by_sector.items(), key=lambda item: (-item[1], item[0])),
        rows=[
            StatsRow(month, region, sector, values[0], values[1], len(values[2]))
            for (month, region, sector), values in sorted(groups.items())
        ],
        region_limited=region_names.get(limited_to) if limited_to is not None else None,
    )
