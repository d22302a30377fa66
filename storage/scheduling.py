"""What the scheduler records: periodic job runs, swept outbox leases, unreachable members.

Job runs are claimed with a compare-and-set on ``scheduler_runs`` (an ``UPDATE ... WHERE``
that only one worker can win), so several workers run each scheduled time of a job once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from storage import audit
from storage.models import Member, OutboxMessage, OutboxStatus, SchedulerRun
from storage.outbox import ClaimedMessage
from storage.sql import insert_ignore
from storage.uow import UnitOfWork

# ``last_error`` of an outbox row that failed because the member cannot be reached (blocked
# the bot, deleted their account): broadcasts count these apart from other failures.
UNREACHABLE = "unreachable"
LEASE_EXPIRED = "lease expired: the worker stopped while sending; sent again"


@dataclass(frozen=True)
class JobState:
    name: str
    last_fire_at: dt.datetime | None
    locked_until: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_error: str | None
    runs: int


# --- periodic jobs ---------------------------------------------------------------------------


async def ensure_jobs(uow: UnitOfWork, baselines: dict[str, dt.datetime | None]) -> None:
    """Create the row of each job seen for the first time.

    ``baselines`` gives each job's last fire time before now: a new job counts as having run
    then, so installing (or adding a job) does not make up a run that never was missed.
    """
    if not baselines:
        return
    async with uow:
        for name, baseline in baselines.items():
            await uow.session.execute(
                insert_ignore(uow.session, SchedulerRun, unique=["name"]).values(
                    name=name, last_fire_at=baseline, runs=0
                )
            )
        await uow.commit()


async def job_states(uow: UnitOfWork) -> dict[str, JobState]:
    async with uow:
        rows = (await uow.session.scalars(select(SchedulerRun))).all()
        return {
            r.name: JobState(
                r.name, r.last_fire_at, r.locked_until, r.last_finished_at, r.last_error, r.runs
            )
            for r in rows
        }


async def begin_run(
    uow: UnitOfWork, name: str, fire_at: dt.datetime, *, now: dt.datetime, lease: dt.timedelta
) -> bool:
    """Take the run of ``name`` scheduled at ``fire_at``. False if it ran already (or a later
    one did), or another worker holds the job's lease."""
    async with uow:
        result = await uow.session.execute(
            update(SchedulerRun)
            .where(
                SchedulerRun.name == name,
                or_(SchedulerRun.last_fire_at.is_(None), SchedulerRun.last_fire_at < fire_at),
                or_(SchedulerRun.locked_until.is_(None), SchedulerRun.locked_until <= now),
            )
            .values(
                running_fire_at=fire_at,
                locked_until=now + lease,
                last_started_at=now,
            )
        )
        await uow.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish_run(uow: UnitOfWork, name: str, fire_at: dt.datetime, *, now: dt.datetime) -> None:
    async with uow:
        await uow.session.execute(
            update(SchedulerRun)
            .where(SchedulerRun.name == name, SchedulerRun.running_fire_at == fire_at)
            .values(
                last_fire_at=fire_at,
                running_fire_at=None,
                locked_until=None,
                last_finished_at=now,
                last_error=None,
                runs=SchedulerRun.runs + 1,
            )
        )
        await uow.commit()


async def fail_run(
    uow: UnitOfWork,
    name: str,
    fire_at: dt.datetime,
    *,
    error: str,
    retry_at: dt.datetime,
) -> None:
    """The run failed: it is tried again from ``retry_at`` (jobs are idempotent)."""
    async with uow:
        await uow.session.execute(
            update(SchedulerRun)
            .where(SchedulerRun.name == name, SchedulerRun.running_fire_at == fire_at)
            .values(locked_until=retry_at, last_error=error[:1000])
        )
        await uow.commit()


# --- the outbox sweeper ------------------------------------------------------------------------


async def sweep_expired_leases(uow: UnitOfWork, *, now: dt.datetime) -> int:
    """Rows left in flight by a worker that stopped (its lease ran out) become due again, with
    a note, so that they show as ``retry`` instead of hiding in ``in_flight``."""
    async with uow:
        result = await uow.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.IN_FLIGHT,
                OutboxMessage.locked_until < now,
            )
            .values(
                status=OutboxStatus.RETRY,
                locked_until=None,
                next_attempt_at=now,
                last_error=LEASE_EXPIRED,
            )
        )
        await uow.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]


# --- members Telegram cannot reach -------------------------------------------------------------


async def unreachable_among(uow: UnitOfWork, member_ids: Iterable[int]) -> set[int]:
    ids = set(member_ids)
    if not ids:
        return set()
    async with uow:
        rows = await uow.session.scalars(
            select(Member.id).where(Member.id.in_(ids), Member.unreachable_at.is_not(None))
        )
        return set(rows.all())


async def settle_unreachable(
    uow: UnitOfWork,
    message: ClaimedMessage,
    *,
    chat_id: int | None,
    reason: str,
    now: dt.datetime,
) -> bool:
    """Telegram refused the chat for good: the row fails as unreachable and the member is
    marked, in one transaction. False if the row is no longer ours (another worker's outcome
    stands)."""
    async with uow:
        result = await uow.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == OutboxStatus.IN_FLIGHT,
                OutboxMessage.attempts == message.attempts,
            )
            .values(
                status=OutboxStatus.FAILED,
                locked_until=None,
                last_error=f"{UNREACHABLE}: {reason}"[:1000],
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        member_filter = (
            Member.id == message.member_id
            if message.member_id is not None
            else Member.telegram_user_id == chat_id
        )
        marked = await uow.session.scalars(
            update(Member)
            .where(member_filter, Member.unreachable_at.is_(None), Member.deleted_at.is_(None))
            .values(unreachable_at=now)
            .returning(Member.id)
        )
        for member_id in marked.all():
            audit.record(uow.session, "member.unreachable", now=now, member_id=member_id)
        await uow.commit()
        return True


async def set_reachable(
    uow: UnitOfWork, telegram_user_id: int, reachable: bool, *, now: dt.datetime
) -> bool:
    """The member blocked (False) or unblocked (True) the bot, as Telegram told us. True if
    that changed anything."""
    async with uow:
        base = update(Member).where(
            Member.telegram_user_id == telegram_user_id, Member.deleted_at.is_(None)
        )
        if reachable:
            statement = base.where(Member.unreachable_at.is_not(None)).values(unreachable_at=None)
        else:
            statement = base.where(Member.unreachable_at.is_(None)).values(unreachable_at=now)
        changed = (await uow.session.scalars(statement.returning(Member.id))).all()
        for member_id in changed:
            audit.record(
                uow.session,
                "member.reachable" if reachable else "member.unreachable",
                now=now,
                member_id=member_id,
            )
        await uow.commit()
        return bool(changed)
