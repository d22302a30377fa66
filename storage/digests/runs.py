"""The digest run: each verified member whose frequency is due gets one mail per period.

What goes into a digest comes from *sections* (``storage.digests.sections``), for the period of
``storage.digests.periods``; each section composes a whole batch's part in a few queries. A
member with nothing to read gets no mail. Each mail is an outbox row keyed
``digest:{member}:{period}``, so building the same period twice (a retried job, ``samvirke
send-digests`` run twice) queues nothing new.

Members are taken ``BATCH`` at a time in id order, each batch in its own transaction: memory
stays flat whatever the network's size, and the bot's writers wait for one batch at most. A run
that stops halfway has queued whole batches; the next run queues the rest (the keys above).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.digests.periods import Window, window
from storage.digests.sections import SECTIONS, Recipient, Sections
from storage.models import DigestFrequency, Member, OutboxMessage
from storage.uow import UnitOfWork

BATCH = 500


@dataclass
class DigestRun:
    frequency: str
    period: str
    queued: int = 0
    already_queued: int = 0
    nothing_to_say: int = 0
    by_language_and_region: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Plan:
    """What every member's digest of one run shares."""

    span: Window
    sections: Sections
    unsubscribe_token: Callable[[int], str]
    dry_run: bool


async def build(
    units: Callable[[], UnitOfWork],
    *,
    frequency: str,
    now: dt.datetime,
    tz: ZoneInfo,
    unsubscribe_token: Callable[[int], str],
    dry_run: bool = False,
    bot_username: str | None = None,
    sections: Sections | None = None,
    batch: int = BATCH,
) -> DigestRun:
    """Queue this period's digests for members with ``frequency`` (or count them: dry run);
    ``units`` gives a unit of work for each ``batch`` of members."""
    if frequency not in (DigestFrequency.WEEKLY, DigestFrequency.MONTHLY):
        raise ValueError(f"no digest for frequency {frequency!r}")
    span = window(frequency, now, tz, bot_username)
    plan = _Plan(span, sections or SECTIONS, unsubscribe_token, dry_run)
    run = DigestRun(frequency, span.period)
    after = 0
    while True:
        async with units() as uow:
            members = await _due_members(uow.session, frequency, after=after, limit=batch)
            if not members:
                return run
            await _batch(uow.session, members, plan, run)
            if not dry_run:
                await uow.commit()
            after = members[-1].id


async def _due_members(
    session: AsyncSession, frequency: str, *, after: int, limit: int
) -> Sequence[Member]:
    """The next ``limit`` members (by id, after ``after``) who get this frequency's digest."""
    return (
        await session.scalars(
            select(Member)
            .where(
                Member.id > after,
                Member.deleted_at.is_(None),
                Member.email_verified_at.is_not(None),
                Member.digest_frequency == frequency,
            )
            .order_by(Member.id)
            .limit(limit)
        )
    ).all()


async def _batch(
    session: AsyncSession, members: Sequence[Member], plan: _Plan, run: DigestRun
) -> None:
    """Compose and queue (or count) the digests of one batch of members."""
    keys = {member.id: f"digest:{member.id}:{plan.span.period}" for member in members}
    done = await _queued(session, list(keys.values()))
    previous = await _previous_digests(session, list(keys))
    recipients = []
    for member in members:
        if keys[member.id] in done:
            run.already_queued += 1
            continue
        span = dataclasses.replace(plan.span, published_since=previous.get(member.id))
        recipients.append(Recipient(member, span))
    contents = await _contents(session, recipients, plan.sections)
    mails = []
    for recipient in recipients:
        member = recipient.member
        content = contents.get(member.id)
        if content is None:
            run.nothing_to_say += 1
            continue
        run.by_language_and_region[
            (member.language, member.region.name if member.region else "")
        ] += 1
        mails.append(outbox.Queued(keys[member.id], member.id, _payload(member, plan, content)))
    if mails and not plan.dry_run:
        run.queued += await outbox.enqueue_many(session, outbox.EMAIL, mails, now=plan.span.now)


async def _queued(session: AsyncSession, keys: list[str]) -> set[str]:
    """Which of these digests are in the outbox already."""
    return set(
        (await session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(keys)))).all()
    )


async def _previous_digests(session: AsyncSession, member_ids: list[int]) -> dict[int, dt.datetime]:
    """When each member's latest digest was queued (what "new since your last digest" means)."""
    rows = await session.execute(
        select(OutboxMessage.member_id, func.max(OutboxMessage.created_at))
        .where(OutboxMessage.key.like("digest:%"), OutboxMessage.member_id.in_(member_ids))
        .group_by(OutboxMessage.member_id)
    )
    return {member_id: at for member_id, at in rows if member_id is not None}


async def _contents(
    session: AsyncSession, recipients: Sequence[Recipient], sections: Sections
) -> dict[int, dict[str, Any]]:
    """Each member's sections that have something for them, by member id, in the order of
    ``sections``; a member none of whose news sections has something is left out. Each section
    composes the whole batch at once."""
    if not recipients:
        return {}
    parts = {name: await builder(session, recipients) for name, (builder, _) in sections.items()}
    contents = {}
    for recipient in recipients:
        content: dict[str, Any] = {}
        has_news = False
        for name, (_, news) in sections.items():
            value = parts[name].get(recipient.member.id)
            if value:
                content[name] = value
                has_news = has_news or news
        if has_news:
            contents[recipient.member.id] = content
    return contents


def _payload(member: Member, plan: _Plan, content: dict[str, Any]) -> dict[str, Any]:
    """The outbox row's payload: the mail ``templates/mail/digest.*`` renders, and to whom."""
    return {
        "template": "digest",
        "language": member.language,
        "to_name": member.name,
        "to_email": member.email,
        "unsubscribe_token": plan.unsubscribe_token(member.id),
        "context": {
            "name": member.name,
            "frequency": plan.span.frequency,
            "period": plan.span.period,
            "sections": content,
        },
    }
