"""What an operator watches: counts read in one short transaction for ``/metrics``, ``/readyz``
and ``samvirke doctor`` (numbers only, never personal data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select

from storage.models import Event, Member, OutboxMessage, OutboxStatus, SchedulerRun
from storage.uow import UnitOfWork

WAITING = (OutboxStatus.QUEUED, OutboxStatus.RETRY)


@dataclass(frozen=True)
class Snapshot:
    # (channel, status) -> rows
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)
    # channel -> seconds the oldest row due to be sent has waited (0 when none waits)
    oldest_waiting_seconds: dict[str, float] = field(default_factory=dict)
    members: int = 0  # verified, not erased
    events: dict[str, int] = field(default_factory=dict)  # status -> events
    # job -> when its last successful run finished
    job_success: dict[str, dt.datetime] = field(default_factory=dict)


async def snapshot(uow: UnitOfWork, *, now: dt.datetime) -> Snapshot:
    async with uow:
        session = uow.session
        outbox = {
            (channel, status): count
            for channel, status, count in (
                await session.execute(
                    select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                        OutboxMessage.channel, OutboxMessage.status
                    )
                )
            ).all()
        }
        oldest: dict[str, float] = {}
        rows = await session.execute(
            select(OutboxMessage.channel, func.min(OutboxMessage.next_attempt_at))
            .where(OutboxMessage.status.in_(WAITING), OutboxMessage.next_attempt_at <= now)
            .group_by(OutboxMessage.channel)
        )
        for channel, due in rows.all():
            if due is not None:
                oldest[channel] = max(0.0, (now - due).total_seconds())
        members = await session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.deleted_at.is_(None), Member.email_verified_at.is_not(None))
        )
        events = {
            status: count
            for status, count in (
                await session.execute(select(Event.status, func.count()).group_by(Event.status))
            ).all()
        }
        jobs = {
            name: finished
            for name, finished in (
                await session.execute(select(SchedulerRun.name, SchedulerRun.last_finished_at))
            ).all()
            if finished is not None
        }
    return Snapshot(outbox, oldest, int(members or 0), events, jobs)
