"""The period a digest covers: its name (``2026-W48``, ``2026-11``), the news since when and the
meetings until when, in the network's time."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from storage.models import DigestFrequency

WEEKLY_LOOKAHEAD = dt.timedelta(weeks=8)
MONTHLY_LOOKAHEAD_MONTHS = 3


@dataclass(frozen=True)
class Window:
    """The period a digest covers: news since ``since``, events until ``until``, and, for one
    member, every event published since their previous digest (``published_since``) whatever
    its date: a meeting announced today for a date far ahead is news now, not in a month."""

    frequency: str
    period: str
    now: dt.datetime
    since: dt.datetime
    until: dt.datetime
    tz: ZoneInfo
    bot_username: str | None = None  # for links that open an event in the bot
    published_since: dt.datetime | None = None  # None: ``since``

    @property
    def new_since(self) -> dt.datetime:
        return self.published_since or self.since


def _months_ahead(moment: dt.datetime, months: int, tz: ZoneInfo) -> dt.datetime:
    """The same local day and time ``months`` later (the month's last day when it is shorter)."""
    local = moment.astimezone(tz)
    month = local.month - 1 + months
    year, month = local.year + month // 12, month % 12 + 1
    days = [31, 29 if calendar.isleap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return local.replace(year=year, month=month, day=min(local.day, days[month - 1])).astimezone(
        dt.UTC
    )


def lookahead(frequency: str, now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """How far ahead a digest lists meetings: 8 weeks (weekly), 3 months (monthly)."""
    if frequency == DigestFrequency.MONTHLY:
        return _months_ahead(now, MONTHLY_LOOKAHEAD_MONTHS, tz)
    return now + WEEKLY_LOOKAHEAD


def period_of(frequency: str, now: dt.datetime, tz: ZoneInfo) -> tuple[str, dt.datetime]:
    """The period's name (``2026-W48`` or ``2026-11``) and its start, in the network's time."""
    local = now.astimezone(tz)
    if frequency == DigestFrequency.MONTHLY:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return f"{local:%Y-%m}", start.astimezone(dt.UTC)
    year, week, weekday = local.isocalendar()
    start = (local - dt.timedelta(days=weekday - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return f"{year}-W{week:02d}", start.astimezone(dt.UTC)


def window(
    frequency: str, now: dt.datetime, tz: ZoneInfo, bot_username: str | None = None
) -> Window:
    period, start = period_of(frequency, now, tz)
    length = dt.timedelta(days=31) if frequency == DigestFrequency.MONTHLY else dt.timedelta(7)
    return Window(
        frequency,
        period,
        now,
        since=start - length,
        until=lookahead(frequency, now, tz),
        tz=tz,
        bot_username=bot_username,
    )
