"""The small HTTP server of ``samvirke run``: health check, the Telegram webhook, the
unsubscribe pages and the public calendar feeds (``/calendar/<region>.ics``, ``/calendar/all.ics``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import text
from telegram import Update

from bot.context import AppType, utc_now
from samvirke import pages, unsubscribe_pages
from samvirke.settings import Settings
from storage.events import rules as event_rules
from storage.events import views as events
from storage.uow import Database
from templates import calendar as invites

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


def webhook_secret(token: str) -> str:
    """A stable secret Telegram sends back with each webhook call (derived, never logged)."""
    return hashlib.sha256(f"samvirke-webhook:{token}".encode()).hexdigest()[:48]


def build_http_app(
    db: Database,
    bot_app: AppType | None,
    *,
    secret: str | None,
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    if settings is not None:
        unsubscribe_pages.add_routes(
            app,
            db,
            secret=settings.signing_key(),
            default_language=settings.default_language,
            clock=clock,
        )
        pages.add_routes(
            app, db, settings=settings, username=lambda: pages.bot_username(bot_app), clock=clock
        )

    async def health(_request: web.Request) -> web.Response:
        try:
            async with db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.exception("health check: database not reachable")
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if bot_app is None or secret is None or not hmac.compare_digest(given, secret):
            return web.Response(status=403)
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        await bot_app.update_queue.put(Update.de_json(data, bot_app.bot))
        return web.Response(status=200)

    async def calendar_feed(request: web.Request) -> web.Response:
        """A subscribable calendar: a region's events and the whole network's, or all."""
        code = request.match_info["region"]
        now = clock()
        feed = await events.feed(db.unit_of_work(), None if code == "all" else code, now=now)
        if feed is None:
            raise web.HTTPNotFound(text="No such region.\n")
        username = None
        if bot_app is not None:
            with contextlib.suppress(RuntimeError):  # not initialised yet: no deep links
                username = bot_app.bot.username
        body = invites.feed(
            feed.name,
            feed.events,
            url_for=lambda event_id: (
                pages.page_link(settings.public_url if settings else None, event_id)
                or event_rules.event_link(username, event_id)
            ),
            organizer_email=settings.mail_from if settings is not None else "samvirke@localhost",
            now=now,
        )
        return web.Response(
            body=body,
            content_type="text/calendar",
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=900",
                "Content-Disposition": f'inline; filename="{code}.ics"',
            },
        )

    app.router.add_get("/healthz", health)
    app.router.add_get("/calendar/{region}.ics", calendar_feed)
    app.router.add_post(WEBHOOK_PATH, webhook)
    return app


async def start_http(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host="0.0.0.0", port=port)  # noqa: S104 - served behind a proxy
    await site.start()
    return runner
