"""The small HTTP server of ``samvirke run``: health check, the Telegram webhook (in webhook
mode only), the unsubscribe pages and the public calendar feeds (``/calendar/<region>.ics``,
``/calendar/all.ics``).

``build_http_app`` adds the routes; bad input is answered 4xx by the shared middleware in
``samvirke.httpguard``; ``start_http`` listens on loopback unless told otherwise, with the
timeouts and the connection limit of ``ServerLimits``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text
from telegram import Update

from bot.context import AppType
from samvirke import metrics as metrics_routes
from samvirke import pages, unsubscribe_pages
from samvirke.httpguard import BadInput, GuardedSite, ServerLimits, make_middleware, runner_options
from samvirke.settings import Settings
from storage.clock import Clock, utcnow
from storage.events import rules as event_rules
from storage.events import views as events
from storage.uow import Database
from templates import calendar as invites

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


def webhook_secret(token: str) -> str:
    """A stable secret Telegram sends back with each webhook call (derived, never logged)."""
    return hashlib.sha256(f"samvirke-webhook:{token}".encode()).hexdigest()[:48]


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _health(db: Database) -> Handler:
    async def health(_request: web.Request) -> web.Response:
        try:
            async with db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("health check: database not reachable (%s)", type(error).__name__)
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    return health


def _webhook(bot_app: AppType, secret: str) -> Handler:
    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(errors="replace"), secret.encode()):
            return web.Response(status=403)
        await bot_app.update_queue.put(parse_update(await request.read(), bot_app))
        return web.Response(status=200)

    return webhook


def _calendar_feed(
    db: Database, bot_app: AppType | None, settings: Settings | None, clock: Clock
) -> Handler:
    async def calendar_feed(request: web.Request) -> web.Response:
        """A subscribable calendar: a region's events and the whole network's, or all."""
        code = request.match_info["region"]
        now = clock()
        feed = await events.feed(db.unit_of_work(), None if code == "all" else code, now=now)
        if feed is None:
            raise web.HTTPNotFound(text="No such region.\n")
        username = pages.bot_username(bot_app)  # None before the bot is initialised
        body = invites.feed(
            feed.name,
            feed.events,
            url_for=lambda event_id: (
                pages.page_link(settings.public_url if settings else None, event_id)
                or event_rules.event_link(username, event_id)
            ),
            organizer_email=(
                settings.mail_from_address if settings is not None else "samvirke@localhost"
            ),
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

    return calendar_feed


def build_http_app(
    db: Database,
    bot_app: AppType | None,
    *,
    secret: str | None,
    settings: Settings | None = None,
    clock: Clock = utcnow,
    limits: ServerLimits | None = None,
    metrics: metrics_routes.Metrics | None = None,
) -> web.Application:
    """The routes. The webhook route exists only when ``bot_app`` and ``secret`` are given (webhook
    mode): in long-polling mode nothing may inject updates over HTTP."""
    limits = limits or ServerLimits()
    app = web.Application(client_max_size=limits.max_body, middlewares=[make_middleware(limits)])
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
    token = settings.metrics_token if settings is not None else None
    metrics_routes.add_routes(
        app,
        db,
        metrics or metrics_routes.Metrics(),
        token=token.get_secret_value() if token is not None else None,
        ready_outbox=dt.timedelta(
            minutes=settings.ready_outbox_minutes if settings is not None else 30
        ),
        clock=clock,
    )

    app.router.add_get("/healthz", _health(db))
    app.router.add_get("/calendar/{region}.ics", _calendar_feed(db, bot_app, settings, clock))
    if bot_app is not None and secret is not None:
        app.router.add_post(WEBHOOK_PATH, _webhook(bot_app, secret))
    return app


def parse_update(body: bytes, bot_app: AppType) -> Update:
    """A webhook body as a Telegram update, or ``BadInput`` (400, one log line)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadInput("webhook body is not JSON") from None
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        raise BadInput("webhook body is not a Telegram update")
    try:
        update = Update.de_json(data, bot_app.bot)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        raise BadInput("webhook body is not a Telegram update") from None
    return update


async def start_http(
    app: web.Application, port: int, *, host: str = "127.0.0.1", limits: ServerLimits | None = None
) -> tuple[web.AppRunner, GuardedSite]:
    """Listen on ``host:port`` (loopback by default: a reverse proxy sits in front)."""
    limits = limits or ServerLimits()
    runner = web.AppRunner(app, **runner_options(limits))
    await runner.setup()
    site = GuardedSite(runner, host, port, max_connections=limits.max_connections)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site
