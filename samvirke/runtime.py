"""The long-running jobs: ``samvirke run`` (bot + scheduler + HTTP) and ``samvirke worker``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from samvirke.bot.app import build_application
from samvirke.bot.context import Services
from samvirke.http import WEBHOOK_PATH, build_http_app, start_http, webhook_secret
from samvirke.scheduler.delivery import MailDelivery
from samvirke.settings import Settings
from samvirke.storage.uow import Database

log = logging.getLogger("samvirke")


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def run(settings: Settings) -> None:
    """The bot (long polling, or webhook when a public URL is set), mail delivery, HTTP."""
    assert settings.telegram_token is not None
    token = settings.telegram_token.get_secret_value()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    db = Database(settings.database_url)
    services = Services(settings=settings, db=db)
    bot_app = build_application(services)
    secret = webhook_secret(token)
    http = await start_http(build_http_app(db, bot_app, secret=secret), settings.http_port)
    delivery = MailDelivery(db, settings)
    delivery_task = asyncio.create_task(delivery.run_forever(stop), name="mail-delivery")
    try:
        async with bot_app:
            await bot_app.start()
            if bot_app.post_init is not None:
                await bot_app.post_init(bot_app)
            updater = bot_app.updater
            assert updater is not None
            if settings.public_url is not None:
                url = str(settings.public_url).rstrip("/") + WEBHOOK_PATH
                await bot_app.bot.set_webhook(url, secret_token=secret, drop_pending_updates=False)
                log.info("bot running with a webhook; HTTP on port %s", settings.http_port)
            else:
                await bot_app.bot.delete_webhook(drop_pending_updates=False)
                await updater.start_polling(allowed_updates=["message", "callback_query"])
                log.info("bot running (long polling); HTTP on port %s", settings.http_port)
            await stop.wait()
            log.info("stopping")
            if updater.running:
                await updater.stop()
            await bot_app.stop()
    finally:
        stop.set()
        await delivery_task
        await http.cleanup()
        await db.dispose()


async def worker(settings: Settings) -> None:
    """Only the scheduler and outbox delivery (several may run beside one bot)."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    db = Database(settings.database_url)
    try:
        log.info("worker running")
        await MailDelivery(db, settings).run_forever(stop)
    finally:
        await db.dispose()
