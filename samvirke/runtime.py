"""The long-running jobs: ``samvirke run`` (bot + scheduler + HTTP) and ``samvirke worker``
(scheduler only: periodic jobs, mail and Telegram delivery, broadcast progress)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.app import build_application
from bot.context import AppType, Services
from bot.persistence import FORGET_JOB, forget_job
from samvirke.http import WEBHOOK_PATH, build_http_app, start_http, webhook_secret
from samvirke.metrics import Metrics
from samvirke.settings import Settings
from scheduler.jobs import FORGET_SCHEDULE, JobRegistry, standard_jobs
from scheduler.runner import Scheduler
from scheduler.telegram.ratelimit import RateLimiter
from storage.uow import Database

log = logging.getLogger("samvirke")
# my_chat_member: Telegram says when a member blocks or unblocks the bot (broadcasts skip
# blocked members). Given to both getUpdates and setWebhook: Telegram keeps the last list.
ALLOWED_UPDATES = [
    "message",
    "callback_query",
    "my_chat_member",
    "inline_query",
    "chosen_inline_result",
]


# After SIGTERM/SIGINT: what is in flight gets this long to finish (rows not yet sent are handed
# back at once), so that the process exits well within systemd's and Docker's 10 seconds.
STOP_GRACE = 7.0


async def _finish(task: asyncio.Task[None], what: str) -> None:
    """Wait for ``task`` to stop by itself for ``STOP_GRACE`` seconds, then cancel it."""
    try:
        async with asyncio.timeout(STOP_GRACE):
            await asyncio.shield(task)
    except TimeoutError:
        log.warning("stopping: %s did not finish in %.0f s; cancelled", what, STOP_GRACE)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


def bot_process_jobs(settings: Settings, bot_app: AppType) -> JobRegistry:
    """Every deployment's jobs, and the one that needs the running bot: forgetting unfinished
    sign-ups in the database and in the bot's memory together (bot.persistence)."""
    jobs = standard_jobs(settings)
    jobs.register(FORGET_JOB, FORGET_SCHEDULE, forget_job(bot_app))
    return jobs


async def run(settings: Settings) -> None:
    """The bot (long polling, or webhook when a public URL is set), the scheduler (jobs, mail
    and Telegram delivery) and the HTTP server, until SIGINT or SIGTERM."""
    assert settings.telegram_token is not None
    token = settings.telegram_token.get_secret_value()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    db = Database(settings.database_url, secret=settings.signing_key())
    services = Services(settings=settings, db=db)
    # One limiter for every Bot API call of this process: handlers' replies first, the outbox
    # with what is left.
    limiter = RateLimiter(rate=settings.telegram_rate)
    bot_app = build_application(services, limiter=limiter)
    metrics = Metrics()
    metrics.install(bot_app)
    webhook = settings.webhook_mode
    secret = webhook_secret(token) if webhook else None
    http, site = await start_http(
        build_http_app(db, bot_app, secret=secret, settings=settings, metrics=metrics),
        settings.http_port,
        host=settings.http_host,
    )
    scheduler = Scheduler.from_settings(
        db, settings, jobs=bot_process_jobs(settings, bot_app), limiter=limiter
    )
    metrics.attach_scheduler(scheduler)
    scheduler_task = asyncio.create_task(scheduler.run(stop), name="scheduler")
    try:
        async with bot_app:
            await bot_app.start()
            if bot_app.post_init is not None:
                await bot_app.post_init(bot_app)
            updater = bot_app.updater
            assert updater is not None
            if webhook:
                assert settings.public_url is not None
                assert secret is not None
                url = str(settings.public_url).rstrip("/") + WEBHOOK_PATH
                await bot_app.bot.set_webhook(
                    url,
                    secret_token=secret,
                    drop_pending_updates=False,
                    allowed_updates=ALLOWED_UPDATES,
                )
                log.info(
                    "bot running with a webhook; HTTP on %s:%s",
                    settings.http_host,
                    settings.http_port,
                )
            else:
                await bot_app.bot.delete_webhook(drop_pending_updates=False)
                await updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                log.info(
                    "bot running (long polling); HTTP on %s:%s",
                    settings.http_host,
                    settings.http_port,
                )
            await stop.wait()
            log.info("stopping")
            # No more updates: the webhook stops listening (Telegram keeps what it could not
            # deliver and sends it to the next process), long polling stops asking.
            await site.stop()
            if updater.running:
                await updater.stop()
            await bot_app.stop()
    finally:
        stop.set()
        await _finish(scheduler_task, "the scheduler")
        await http.cleanup()
        await db.dispose()
        log.info("stopped")


async def worker(settings: Settings) -> None:
    """Only the scheduler: periodic jobs, mail and Telegram delivery, broadcast progress.
    Several may run beside one bot: rows are claimed with row locks, never sent twice."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    db = Database(settings.database_url)
    scheduler = asyncio.create_task(Scheduler.from_settings(db, settings).run(stop))
    stopped = asyncio.create_task(stop.wait())
    try:
        log.info("worker running")
        await asyncio.wait({scheduler, stopped}, return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping")
    finally:
        stop.set()
        stopped.cancel()
        await _finish(scheduler, "the scheduler")
        await db.dispose()
        log.info("stopped")
