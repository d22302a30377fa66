"""Periodic jobs: cron schedules in the network's time zone, runs stored in the database, a run
missed while the system was down made up once, each fire time run by one worker, and the
outbox sweeper."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from samvirke.settings import ConfigurationError, Settings, load_settings
from scheduler.jobs import JobRegistry, previous_fire_time, standard_jobs, sweep_outbox, trigger_for
from scheduler.runner import Scheduler
from storage import outbox
from storage.models import OutboxStatus, SchedulerRun
from storage.scheduling import LEASE_EXPIRED
from storage.uow import Database
from tests.support.broadcastkit import Clock, outbox_rows

CPH = ZoneInfo("Europe/Copenhagen")


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=CPH).astimezone(dt.UTC)


# --- schedules ------------------------------------------------------------------------------


def test_the_previous_fire_time_is_in_the_networks_time_zone() -> None:
    weekly = trigger_for("0 7 * * mon", CPH)
    # Wednesday 25 November 2026: the last Monday 07:00 in Copenhagen was the 23rd (06:00 UTC).
    assert previous_fire_time(weekly, local(2026, 11, 25, 12, 0)) == local(2026, 11, 23, 7, 0)
    assert local(2026, 11, 23, 7, 0) == dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
    # Exactly at the fire time, that fire time counts.
    assert previous_fire_time(weekly, local(2026, 11, 30, 7, 0)) == local(2026, 11, 30, 7, 0)
    # Summer time: 07:00 in Copenhagen is 05:00 UTC.
    assert previous_fire_time(weekly, local(2026, 6, 3, 12, 0)) == dt.datetime(
        2026, 6, 1, 5, 0, tzinfo=dt.UTC
    )
    monthly = trigger_for("0 7 1 * *", CPH)
    assert previous_fire_time(monthly, local(2026, 11, 25, 12, 0)) == local(2026, 11, 1, 7, 0)
    every_minute = trigger_for("* * * * *", CPH)
    assert previous_fire_time(every_minute, local(2026, 11, 25, 12, 0, 30)) == local(
        2026, 11, 25, 12, 0
    )
    # A date that comes every four years is still found.
    leap = trigger_for("0 9 29 feb *", CPH)
    assert previous_fire_time(leap, local(2027, 3, 1, 0, 0)) == local(2024, 2, 29, 9, 0)


def test_schedules_come_from_settings_and_bad_ones_stop_start_up() -> None:
    settings = load_settings(_env_file=None, schedule_digest_weekly="30 6 * * tue")
    assert settings.schedule_digest_weekly == "30 6 * * tue"
    assert Settings(_env_file=None).schedule_digest_monthly == "0 7 1 * *"
    with pytest.raises(ConfigurationError, match="SAMVIRKE_SCHEDULE_DIGEST_WEEKLY: name the"):
        load_settings(_env_file=None, schedule_digest_weekly="0 7 * * 1")
    with pytest.raises(ConfigurationError, match=r"SAMVIRKE_SCHEDULE_REMINDERS: .*not a valid"):
        load_settings(_env_file=None, schedule_reminders="61 * * * *")
    with pytest.raises(ConfigurationError, match=r"SAMVIRKE_SCHEDULE_OUTBOX_SWEEPER: .*crontab"):
        load_settings(_env_file=None, schedule_outbox_sweeper="every minute")


def test_a_job_is_registered_once() -> None:
    registry = JobRegistry(CPH)

    async def job(_db: Database, _settings: Settings, _now: dt.datetime) -> None:
        return None

    registry.register("digest_weekly", "0 7 * * mon", job)
    with pytest.raises(ValueError, match="twice"):
        registry.register("digest_weekly", "0 7 * * mon", job)
    names = [j.name for j in standard_jobs(Settings(_env_file=None))]
    assert names == [
        "outbox_sweeper",
        "reminders",
        "followups",
        "timebank_expiry",
        "introduction_expiry",
        "digest_weekly",
        "digest_monthly",
        "channel_posts",
        "forget_old_records",
    ]


# --- runs --------------------------------------------------------------------------------------


class Recorder:
    """A job that records when it ran (and can be told to fail or to take its time)."""

    def __init__(self) -> None:
        self.runs: list[dt.datetime] = []
        self.fail = False
        self.started = asyncio.Event()
        self.release: asyncio.Event | None = None

    async def __call__(self, _db: Database, _settings: Settings, now: dt.datetime) -> None:
        self.runs.append(now)
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise RuntimeError("the job failed")


def scheduler(
    db: Database, clock: Clock, job: Recorder, schedule: str = "0 7 * * mon"
) -> Scheduler:
    settings = Settings(_env_file=None, database_url=db.url)
    registry = JobRegistry(settings.tz)
    registry.register("weekly", schedule, job)
    return Scheduler(db, settings, jobs=registry, clock=clock)


async def stored_run(db: Database, name: str = "weekly") -> SchedulerRun:
    async with db.unit_of_work() as uow:
        row = await uow.session.scalar(select(SchedulerRun).where(SchedulerRun.name == name))
        assert row is not None
        uow.session.expunge_all()
        return row


async def test_a_new_job_waits_for_its_first_fire_time(db: Database) -> None:
    clock = Clock(local(2026, 11, 25, 12, 0))  # a Wednesday
    job = Recorder()
    first = scheduler(db, clock, job)

    assert await first.run_due_jobs() == []
    assert (await stored_run(db)).last_fire_at == local(2026, 11, 23, 7, 0)

    clock.advance(days=4, hours=19)  # Monday 30 November, 07:00
    assert await first.run_due_jobs() == ["weekly"]
    assert job.runs == [clock.now]
    assert await first.run_due_jobs() == []  # once per fire time
    clock.advance(minutes=30)
    assert await first.run_due_jobs() == []
    row = await stored_run(db)
    assert (row.last_fire_at, row.runs, row.locked_until) == (local(2026, 11, 30, 7, 0), 1, None)


async def test_runs_missed_while_down_are_made_up_once_on_start(db: Database) -> None:
    clock = Clock(local(2026, 11, 25, 12, 0))
    job = Recorder()
    await scheduler(db, clock, job).run_due_jobs()  # first start: the baseline

    # Down for three weeks: three Mondays missed. A new process starts.
    clock.advance(days=21)
    restarted = scheduler(db, clock, job)
    assert await restarted.run_due_jobs() == ["weekly"]
    assert await restarted.run_due_jobs() == []
    assert len(job.runs) == 1
    assert (await stored_run(db)).last_fire_at == local(2026, 12, 14, 7, 0)  # the latest


async def test_several_workers_run_each_fire_time_once(db: Database) -> None:
    clock = Clock(local(2026, 11, 25, 12, 0))
    job = Recorder()
    workers = [scheduler(db, clock, job) for _ in range(4)]
    await workers[0].run_due_jobs()
    clock.advance(days=5)

    results = await asyncio.gather(*(w.run_due_jobs() for w in workers))

    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(job.runs) == 1


async def test_a_failed_run_is_tried_again_later(db: Database) -> None:
    clock = Clock(local(2026, 11, 25, 12, 0))
    job = Recorder()
    worker = scheduler(db, clock, job)
    await worker.run_due_jobs()
    clock.advance(days=5)
    job.fail = True

    assert await worker.run_due_jobs() == ["weekly"]
    row = await stored_run(db)
    assert row.last_error == "RuntimeError"
    assert row.last_fire_at == local(2026, 11, 23, 7, 0)  # not done
    assert await worker.run_due_jobs() == []  # not at once
    clock.advance(minutes=5)
    job.fail = False
    assert await worker.run_due_jobs() == ["weekly"]
    row = await stored_run(db)
    assert (row.last_fire_at, row.last_error) == (local(2026, 11, 30, 7, 0), None)
    assert len(job.runs) == 2


async def test_a_run_whose_worker_died_is_taken_over_after_its_lease(db: Database) -> None:
    clock = Clock(local(2026, 11, 25, 12, 0))
    job = Recorder()
    dying = scheduler(db, clock, job)
    await dying.run_due_jobs()
    clock.advance(days=5)
    job.release = asyncio.Event()
    [task] = await dying.start_due_jobs()
    await job.started.wait()
    task.cancel()  # stands in for a worker that stopped; its lease stays
    await asyncio.gather(task, return_exceptions=True)

    other = scheduler(db, clock, job)
    job.release.set()
    # A graceful stop gave the run back at once; the other worker takes it over.
    assert await other.run_due_jobs() == ["weekly"]
    assert (await stored_run(db)).runs == 1


async def test_a_killed_worker_leaves_a_lease_that_runs_out(db: Database) -> None:
    clock = Clock(local(2026, 11, 25, 12, 0))
    job = Recorder()
    worker = scheduler(db, clock, job)
    await worker.run_due_jobs()
    clock.advance(days=5)
    # The worker took the run and was killed -9 (nothing gave the run back).
    from storage import scheduling

    fire = local(2026, 11, 30, 7, 0)
    assert await scheduling.begin_run(
        db.unit_of_work(), "weekly", fire, now=clock.now, lease=dt.timedelta(minutes=15)
    )
    restarted = scheduler(db, clock, job)
    assert await restarted.run_due_jobs() == []
    clock.advance(minutes=15)
    assert await restarted.run_due_jobs() == ["weekly"]
    assert (await stored_run(db)).last_fire_at == fire


async def test_the_scheduler_ticks_and_stops(db: Database) -> None:
    """The real loop: an every-minute job plus the stop event."""
    job = Recorder()
    settings = Settings(_env_file=None, database_url=db.url)
    registry = JobRegistry(settings.tz)
    registry.register("minutely", "* * * * *", job)
    clock = Clock(dt.datetime.now(dt.UTC))
    worker = Scheduler(db, settings, jobs=registry, clock=clock, max_tick=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.2)
    assert job.runs == []  # first start: baseline only
    clock.advance(minutes=1)
    async with asyncio.timeout(5):
        await job.started.wait()
    stop.set()
    async with asyncio.timeout(5):
        await running
    assert len(job.runs) == 1


# --- the outbox sweeper ------------------------------------------------------------------------


async def test_the_sweeper_makes_rows_left_in_flight_visible(
    db: Database, now: dt.datetime
) -> None:
    for key in ("a", "b"):
        async with db.unit_of_work() as uow:
            await outbox.enqueue_telegram(uow.session, key=key, chat_id=1, text="x", now=now)
            await uow.commit()
    # A worker claimed "a" with a short lease and "b" with a long one, then died.
    [a] = await outbox.claim(
        db.unit_of_work(), channel="telegram", limit=1, now=now, lease=dt.timedelta(minutes=1)
    )
    [b] = await outbox.claim(
        db.unit_of_work(), channel="telegram", limit=1, now=now, lease=dt.timedelta(hours=1)
    )
    settings = Settings(_env_file=None, database_url=db.url)

    assert await sweep_outbox(db, settings, now + dt.timedelta(minutes=2)) == 1

    rows = await outbox_rows(db)
    assert (rows["a"].status, rows["a"].last_error) == (OutboxStatus.RETRY, LEASE_EXPIRED)
    assert rows["a"].locked_until is None
    assert rows["b"].status == OutboxStatus.IN_FLIGHT
    # The dead worker's late outcome no longer counts; the row is claimed again.
    assert not await outbox.mark_sent(db.unit_of_work(), a, now=now)
    [again] = await outbox.claim(
        db.unit_of_work(),
        channel="telegram",
        limit=5,
        now=now + dt.timedelta(minutes=2),
        lease=dt.timedelta(minutes=1),
    )
    assert (again.key, again.attempts) == ("a", 2)
    del b
