"""Periodic jobs: a name, a crontab schedule in the network's time zone, and a coroutine.

Schedules are APScheduler 3 ``CronTrigger``s (a well-kept cron implementation; only its
triggers are used, not its job stores). Each job's last run is stored in ``scheduler_runs``
(see storage.scheduling); at every tick a job whose trigger fired after its last run runs
once, with the latest fire time. So a run missed while the system was down is made up once on
start, not once per missed period, and several workers run each fire time once.

Plugging a job in (the digest, reminders, timebank expiry)::

    registry.register(
        "introduction_expiry", settings.schedule_introduction_expiry, expire_introductions
    )
    registry.register("digest_weekly", settings.schedule_digest_weekly, weekly_digest)

where ``weekly_digest(db, settings, now)`` is a coroutine that may run more than once for one
period without harm (outbox keys make its messages unique): after a crash mid-run, the run is
tried again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from samvirke.settings import Settings, check_crontab
from scheduler import channels
from scheduler.digests import bot_username, build_digests
from scheduler.followup import queue_due_followups
from scheduler.introduction_expiry import expire_introductions
from scheduler.mail.transports import FileConnection, delete_eml_files
from scheduler.reminders import queue_due_reminders
from scheduler.timebank_expiry import expire_pending_exchanges
from storage import outbox, scheduling
from storage.members import verification
from storage.models import DigestFrequency
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")

JobFunction = Callable[[Database, Settings, dt.datetime], Awaitable[object]]

# Windows searched, smallest first, for a trigger's latest fire time before now.
_LOOKBACK = (
    dt.timedelta(minutes=2),
    dt.timedelta(hours=2),
    dt.timedelta(days=2),
    dt.timedelta(days=40),
    dt.timedelta(days=400),
    dt.timedelta(days=4 * 366 + 1),
)


@dataclass(frozen=True)
class Job:
    name: str
    schedule: str
    trigger: CronTrigger
    run: JobFunction

    def next_fire(self, now: dt.datetime) -> dt.datetime | None:
        """The first fire time after ``now`` (aware, UTC)."""
        fire = self.trigger.get_next_fire_time(None, now + dt.timedelta(microseconds=1))
        return None if fire is None else fire.astimezone(dt.UTC)

    def previous_fire(self, now: dt.datetime) -> dt.datetime | None:
        """The latest fire time at or before ``now`` (aware, UTC), None if none in 4 years."""
        return previous_fire_time(self.trigger, now)


def _fires(trigger: CronTrigger, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        yield fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))


def previous_fire_time(trigger: CronTrigger, now: dt.datetime) -> dt.datetime | None:
    """The latest time at or before ``now`` the trigger fires (APScheduler 3 only looks
    forward: search growing windows back from now, the smallest one that holds a fire)."""
    for window in _LOOKBACK:
        latest = None
        for fire in _fires(trigger, now - window, now):
            latest = fire
        if latest is not None:
            return latest.astimezone(dt.UTC)
    return None


def trigger_for(schedule: str, tz: ZoneInfo) -> CronTrigger:
    return CronTrigger.from_crontab(check_crontab(schedule), timezone=tz)


class JobRegistry:
    """The periodic jobs of one deployment."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._jobs: dict[str, Job] = {}

    def register(self, name: str, schedule: str, run: JobFunction) -> Job:
        """Run ``run(db, settings, now)`` on ``schedule`` (a crontab line in the network's
        time zone). Names are stored in the database: keep them stable."""
        if not name or len(name) > 60:
            raise ValueError("a job name needs 1 to 60 characters")
        if name in self._jobs:
            raise ValueError(f"job {name!r} is registered twice")
        job = Job(name, schedule, trigger_for(schedule, self.tz), run)
        self._jobs[name] = job
        return job

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, name: str) -> Job:
        return self._jobs[name]


# --- the jobs ------------------------------------------------------------------------------


async def sweep_outbox(db: Database, _settings: Settings, now: dt.datetime) -> int:
    """Rows a stopped worker left in flight become visible as ``retry`` (and are sent again)."""
    swept = await scheduling.sweep_expired_leases(db.unit_of_work(), now=now)
    if swept:
        log.warning("outbox sweeper: %d row(s) left in flight by a stopped worker", swept)
    return swept


async def weekly_digest(db: Database, settings: Settings, now: dt.datetime) -> int:
    return await _digest(db, settings, now, DigestFrequency.WEEKLY)


async def monthly_digest(db: Database, settings: Settings, now: dt.datetime) -> int:
    return await _digest(db, settings, now, DigestFrequency.MONTHLY)


async def _digest(db: Database, settings: Settings, now: dt.datetime, frequency: str) -> int:
    runs = await build_digests(
        db, settings, now=now, frequencies=[frequency], bot_username=await bot_username(settings)
    )
    return sum(run.queued for run in runs)


# Every ten minutes: the code-mail throttle's old rows, mail files of erased members (every
# process); unfinished sign-ups older than a day (the bot's process: see bot.persistence).
FORGET_SCHEDULE = "*/10 * * * *"


async def forget_old_records(db: Database, settings: Settings, now: dt.datetime) -> int:
    """The throttle's old rows go; ``.eml`` copies of mails to members who erased their data
    are deleted. Returns how many mail files were deleted."""
    async with db.unit_of_work() as uow:
        await verification.forget_old_sends(uow.session, now=now)
        await uow.commit()
    deleted = 0
    if settings.smtp_host is None and settings.mail_dir.is_dir():
        names = [path.name for path in settings.mail_dir.glob("*.eml")]
        ids = {i for i in map(FileConnection.outbox_id_of, names) if i is not None}
        erased = await outbox.of_erased_members(db.unit_of_work(), ids)
        if erased:
            deleted = await asyncio.to_thread(delete_eml_files, settings.mail_dir, erased)
            log.info("deleted %d mail file(s) of erased members", deleted)
    return deleted


def standard_jobs(settings: Settings) -> JobRegistry:
    """The jobs every deployment runs (schedules from settings, in the network's time zone)."""
    registry = JobRegistry(settings.tz)
    registry.register("outbox_sweeper", settings.schedule_outbox_sweeper, sweep_outbox)
    registry.register("reminders", settings.schedule_reminders, queue_due_reminders)
    registry.register("followups", settings.schedule_followups, queue_due_followups)
    registry.register(
        "timebank_expiry", settings.schedule_timebank_expiry, expire_pending_exchanges
    )
    registry.register(
        "introduction_expiry", settings.schedule_introduction_expiry, expire_introductions
    )
    registry.register("digest_weekly", settings.schedule_digest_weekly, weekly_digest)
    registry.register("digest_monthly", settings.schedule_digest_monthly, monthly_digest)
    registry.register("channel_posts", channels.SCHEDULE, channels.keep_posts_true)
    registry.register("forget_old_records", FORGET_SCHEDULE, forget_old_records)
    return registry
