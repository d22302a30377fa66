"""The scheduler: periodic jobs plus the mail and Telegram deliveries, until a stop event.

``Scheduler.from_settings`` wires what a deployment runs; ``samvirke run`` and ``samvirke
worker`` both use it, and several may run at once (outbox rows are claimed with row locks,
each scheduled time of a job is run by one of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import warnings
from collections.abc import Coroutine
from typing import Any

from telegram import Bot
from telegram.warnings import PTBDeprecationWarning

from samvirke.settings import Settings
from scheduler.jobs import Job, JobRegistry, standard_jobs
from scheduler.mail.delivery import MailDelivery
from scheduler.telegram.delivery import TelegramDelivery, make_bot
from scheduler.telegram.progress import BroadcastProgress
from scheduler.telegram.ratelimit import RateLimiter
from storage import scheduling
from storage.clock import Clock, utcnow
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")


class Scheduler:
    """Runs the periodic jobs and the deliveries concurrently until ``stop`` is set."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        jobs: JobRegistry | None = None,
        mail: MailDelivery | None = None,
        telegram: TelegramDelivery | None = None,
        progress: BroadcastProgress | None = None,
        bot: Bot | None = None,
        clock: Clock = utcnow,
        job_lease: dt.timedelta = dt.timedelta(minutes=15),
        job_retry: dt.timedelta = dt.timedelta(minutes=5),
        max_tick: float = 30.0,
    ) -> None:
        self.database = database
        self.settings = settings
        self.jobs = jobs if jobs is not None else standard_jobs(settings)
        self.mail = mail
        self.telegram = telegram
        self.progress = progress
        self.bot = bot  # shut down with the scheduler
        self._clock = clock
        self.job_lease = job_lease
        self.job_retry = job_retry
        self.max_tick = max_tick
        self._known = False
        self._running: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def from_settings(
        cls,
        database: Database,
        settings: Settings,
        *,
        jobs: JobRegistry | None = None,
        limiter: RateLimiter | None = None,
    ) -> Scheduler:
        """Mail delivery always; Telegram delivery and broadcast progress when a token is set,
        keeping to ``limiter`` (the one the bot's own calls use, in ``samvirke run``)."""
        bot = telegram = progress = None
        if settings.telegram_token is not None:
            bot = make_bot(settings)
            limiter = limiter or RateLimiter(rate=settings.telegram_rate)
            telegram = TelegramDelivery(database, bot, limiter=limiter)
            progress = BroadcastProgress(database, bot, limiter=limiter)
        else:
            log.warning("SAMVIRKE_TELEGRAM_TOKEN is not set: no Telegram messages are sent")
        return cls(
            database,
            settings,
            jobs=jobs,
            mail=MailDelivery(database, settings),
            telegram=telegram,
            progress=progress,
            bot=bot,
        )

    # --- periodic jobs --------------------------------------------------------------------

    async def _know_jobs(self, now: dt.datetime) -> None:
        if not self._known:
            await scheduling.ensure_jobs(
                self.database.unit_of_work(),
                {job.name: job.previous_fire(now) for job in self.jobs},
            )
            self._known = True

    async def start_due_jobs(self, now: dt.datetime | None = None) -> list[asyncio.Task[None]]:
        """Start every job whose trigger fired after its last run (once, with the latest fire
        time, however many were missed). Returns the started runs."""
        now = now or self._clock()
        await self._know_jobs(now)
        states = await scheduling.job_states(self.database.unit_of_work())
        started = []
        for job in self.jobs:
            if job.name in self._running:
                continue
            fire = job.previous_fire(now)
            state = states.get(job.name)
            if fire is None or state is None:
                continue
            if state.last_fire_at is not None and state.last_fire_at >= fire:
                continue
            if state.locked_until is not None and state.locked_until > now:
                continue
            if not await scheduling.begin_run(
                self.database.unit_of_work(), job.name, fire, now=now, lease=self.job_lease
            ):
                continue
            task = asyncio.create_task(self._run_job(job, fire), name=f"job:{job.name}")
            self._running[job.name] = task
            task.add_done_callback(self._forget_run)
            started.append(task)
        return started

    def _forget_run(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task.get_name().removeprefix("job:"), None)

    async def run_due_jobs(self, now: dt.datetime | None = None) -> list[str]:
        """``start_due_jobs`` and wait for them (for tests and one-off runs)."""
        tasks = await self.start_due_jobs(now)
        await asyncio.gather(*tasks)
        return [t.get_name().removeprefix("job:") for t in tasks]

    async def _run_job(self, job: Job, fire: dt.datetime) -> None:
        uow = self.database.unit_of_work
        late = self._clock() - fire
        log.info(
            "job %s: run for %s (late by %ds)", job.name, fire.isoformat(), late.total_seconds()
        )
        try:
            await job.run(self.database, self.settings, self._clock())
        except asyncio.CancelledError:
            # Stopping: the run is tried again at the next start (jobs are idempotent).
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    scheduling.fail_run(
                        uow(), job.name, fire, error="stopped", retry_at=self._clock()
                    )
                )
            raise
        except Exception as exc:
            log.exception("job %s failed; tried again in %s", job.name, self.job_retry)
            await scheduling.fail_run(
                uow(),
                job.name,
                fire,
                error=f"{type(exc).__name__}",
                retry_at=self._clock() + self.job_retry,
            )
            return
        await scheduling.finish_run(uow(), job.name, fire, now=self._clock())
        log.info("job %s: done", job.name)

    def _seconds_to_next_fire(self, now: dt.datetime) -> float:
        fires = [f for job in self.jobs if (f := job.next_fire(now)) is not None]
        if not fires:
            return self.max_tick
        seconds = (min(fires) - now).total_seconds() + 0.05
        return min(max(seconds, 0.5), self.max_tick)

    async def run_jobs(self, stop: asyncio.Event) -> None:
        """Tick at each fire time (at least every ``max_tick`` seconds) until ``stop``."""
        if not len(self.jobs):
            return
        try:
            while not stop.is_set():
                try:
                    await self.start_due_jobs()
                except Exception as exc:
                    log.error("scheduler tick failed: %s", type(exc).__name__)  # noqa: TRY400
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._seconds_to_next_fire(self._clock())):
                        await stop.wait()
        finally:
            running = list(self._running.values())
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    # --- everything ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """The jobs and the deliveries, concurrently, until ``stop`` is set."""
        parts: list[Coroutine[Any, Any, None]] = [self.run_jobs(stop)]
        if self.mail is not None:
            parts.append(self.mail.run_forever(stop))
        if self.telegram is not None:
            parts.append(self.telegram.run_forever(stop))
        if self.progress is not None:
            parts.append(self.progress.run_forever(stop))
        log.info("scheduler running: %d job(s)", len(self.jobs))
        # python-telegram-bot 22 warns at every 429 that RetryAfter.retry_after will become a
        # timedelta; the delivery reads either (see ratelimit.retry_after_seconds).
        warnings.filterwarnings("ignore", message=".*retry_after.*", category=PTBDeprecationWarning)
        if self.bot is not None:
            try:
                await self.bot.initialize()  # checks the token (getMe)
            except Exception as exc:  # sending retries by itself; the message may quote the token
                log.warning("Bot API: getMe failed at start (%s)", type(exc).__name__)
        try:
            tasks = [asyncio.create_task(part) for part in parts]
            try:
                await asyncio.gather(*tasks)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self.bot is not None:
                with contextlib.suppress(Exception):
                    await self.bot.request.shutdown()
            log.info("scheduler stopped")
