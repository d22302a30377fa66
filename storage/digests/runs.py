"""The digest: each verified member whose frequency is due gets one mail per period.

What goes into a digest comes from *sections* (upcoming events, new timebank listings, the
member's balance: see ``storage.digests.sections``). A member with nothing to read
gets no mail. Each mail is an outbox row keyed ``digest:{member}:{period}``, so building the
same period twice (a retried job, ``samvirke send-digests`` run twice) queues nothing new.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import DigestFrequency, Member, OutboxMessage
from storage.uow import UnitOfWork

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


SectionBuilder = Callable[[AsyncSession, Member, Window], Awaitable[Any]]
# name -> (builder, is news). A section that is not news (e.g. the balance) is shown only when
# some news section has something: on its own it is no reason to send a mail.
Sections = Mapping[str, tuple[SectionBuilder, bool]]


def default_sections() -> Sections:
    from storage.digests.sections import SECTIONS

    return SECTIONS


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


@dataclass
class DigestRun:
    frequency: str
    period: str
    queued: int = 0
    already_queued: int = 0
    nothing_to_say: int = 0
    by_language_and_region: Counter[tuple[str, str]] = field(default_factory=Counter)


async def build(
    uow: UnitOfWork,
    *,
    frequency: str,
    now: dt.datetime,
    tz: ZoneInfo,
    unsubscribe_token: Callable[[int], str],
    dry_run: bool = False,
    bot_username: str | None = None,
    sections: Sections | None = None,
) -> DigestRun:
    """Queue this period's digests for members with ``frequency`` (or count them: dry run)."""
    if frequency not in (DigestFrequency.WEEKLY, DigestFrequency.MONTHLY):
        raise ValueError(f"no digest for frequency {frequency!r}")
    span = window(frequency, now, tz, bot_username)
    run = DigestRun(frequency, span.period)
    async with uow:
        session = uow.session
        members = (
            await session.scalars(
                select(Member)
                .where(
                    Member.deleted_at.is_(None),
                    Member.email_verified_at.is_not(None),
                    Member.digest_frequency == frequency,
                )
                .order_by(Member.id)
            )
        ).all()
        done = set(
            (
                await session.scalars(
                    select(OutboxMessage.key).where(
                        OutboxMessage.key.like(f"digest:%:{span.period}")
                    )
                )
            ).all()
        )
        previous = await _previous_digests(session)
        for member in members:
            key = f"digest:{member.id}:{span.period}"
            if key in done:
                run.already_queued += 1
                continue
            member_span = dataclasses.replace(span, published_since=previous.get(member.id))
            content = await _content(session, member, member_span, sections or default_sections())
            if content is None:
                run.nothing_to_say += 1
                continue
            run.by_language_and_region[
                (member.language, member.region.name if member.region else "")
            ] += 1
            if dry_run:
                continue
            queued = await outbox.enqueue(
                session,
                key=key,
                channel=outbox.EMAIL,
                member_id=member.id,
                now=now,
                payload={
                    "template": "digest",
                    "language": member.language,
                    "to_name": member.name,
                    "to_email": member.email,
                    "unsubscribe_token": unsubscribe_token(member.id),
                    "context": {
                        "name": member.name,
                        "frequency": frequency,
                        "period": span.period,
                        "sections": content,
                    },
                },
            )
            run.queued += int(queued)
        if not dry_run:
            await uow.commit()
    return run


async def _previous_digests(session: AsyncSession) -> dict[int, dt.datetime]:
    """When each member's latest digest was queued (what "new since your last digest" means)."""
    rows = await session.execute(
        select(OutboxMessage.member_id, func.max(OutboxMessage.created_at))
        .where(OutboxMessage.key.like("digest:%"), OutboxMessage.member_id.is_not(None))
        .group_by(OutboxMessage.member_id)
    )
    return {member_id: _aware(at) for member_id, at in rows if member_id is not None}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def _content(
    session: AsyncSession, member: Member, span: Window, sections: Sections
) -> dict[str, Any] | None:
    content: dict[str, Any] = {}
    has_news = False
    for name, (builder, news) in sections.items():
        value = await builder(session, member, span)
        if value:
            content[name] = value
            has_news = has_news or news
    return content if has_news else None
