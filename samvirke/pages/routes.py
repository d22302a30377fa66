"""The public event pages, served by the HTTP server of ``samvirke run``.

``GET /events/<id>`` is a published (or cancelled) event in the visitor's language (``?lang=``,
otherwise the browser's ``Accept-Language``, otherwise ``SAMVIRKE_DEFAULT_LANGUAGE``): one
column, system fonts, no script and nothing loaded from elsewhere. It never shows who is coming.
Unknown ids are a 404 page in the same language.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.context import AppType
from samvirke.pages import links
from samvirke.pages.preview import PreviewCache, PreviewText, render
from samvirke.settings import Settings
from storage.events import public
from storage.events import rules as event_rules
from storage.events.views import EventView
from storage.uow import Database
from templates import calendar as invites
from templates.formatting import format_short, format_when, format_zone
from templates.i18n import page_environment, translator

NETWORK = "Samvirke"
HTML_HEADERS = {
    "Cache-Control": "public, max-age=60",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Vary": "Accept-Language",
}


def bot_username(bot_app: AppType | None) -> str | None:
    """The bot's @username once the bot is initialised (deep links need it), else None."""
    if bot_app is None:
        return None
    with contextlib.suppress(RuntimeError):
        return bot_app.bot.username
    return None


def when_text(view: EventView, language: str) -> str:
    """ "Saturday 20 February 2027, 13:00–17:00 CET"."""
    when = format_when(view.starts_at, view.ends_at, tz=view.tz, language=language)
    return f"{when} {format_zone(view.starts_at, view.ends_at, tz=view.tz)}"


def preview_text(view: EventView, language: str) -> PreviewText:
    """What the event's preview image shows."""
    return PreviewText(
        title=view.title,
        when=when_text(view, language),
        place=view.location or view.online_url or "",
        network=NETWORK + (f" · {view.region_name}" if view.region_name else ""),
        cancelled_label=translator(language)("Cancelled") if view.cancelled else None,
    )


def _open_for_answers(view: EventView, now: dt.datetime) -> bool:
    return (
        not view.cancelled
        and view.ends_at > now
        and (view.rsvp_deadline is None or view.rsvp_deadline > now)
    )


def _seats_text(view: EventView, language: str) -> str | None:
    """Seats left (or full) for an event with a limit that is not cancelled."""
    if view.capacity is None or view.cancelled:
        return None
    t = translator(language)
    left = view.seats_left or 0
    if left > 0:
        return t.plural("{n} seat left", "{n} seats left", left)
    return t("Full – you can join the waiting list")


class _Pages:
    """The handlers of the public pages and what they share."""

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings,
        username: Callable[[], str | None],
        clock: Callable[[], dt.datetime],
        previews: PreviewCache,
    ) -> None:
        self.db = db
        self.settings = settings
        self.username = username
        self.clock = clock
        self.cache = previews
        self.configured = str(settings.public_url).rstrip("/") if settings.public_url else None

    def base_url(self, request: web.Request) -> str:
        return self.configured or str(request.url.origin())

    def language_of(self, request: web.Request) -> str:
        return links.pick_language(
            request.query.get("lang"),
            request.headers.get("Accept-Language"),
            self.settings.default_language,
        )

    def html(
        self, request: web.Request, template: str, language: str, status: int = 200, **values: Any
    ) -> web.Response:
        body = (
            page_environment(language)
            .get_template(template)
            .render(language=language, base=self.base_url(request), network=NETWORK, **values)
        )
        return web.Response(
            text=body,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers=HTML_HEADERS,
        )

    def not_found(self, request: web.Request, language: str) -> web.Response:
        return self.html(request, "not_found.html", language, status=404)

    async def found_event(self, request: web.Request) -> public.PublicEvent | None:
        try:
            event_id = int(request.match_info["id"])
        except ValueError:
            return None
        if not 0 < event_id < 2**31:
            return None
        return await public.event(self.db.unit_of_work(), event_id)

    async def event_page(self, request: web.Request) -> web.Response:
        language = self.language_of(request)
        found = await self.found_event(request)
        if found is None:
            return self.not_found(request, language)
        view = found.event
        now = self.clock()
        page_url = f"{self.base_url(request)}/events/{view.id}"
        image_url = f"{page_url}.png?v={preview_text(view, language).key()[:12]}"
        deep_link = (
            event_rules.event_link(self.username(), view.id)
            if _open_for_answers(view, now)
            else None
        )
        return self.html(
            request,
            "event.html",
            language,
            event=view,
            when=when_text(view, language),
            deadline=(
                when_text_single(view.rsvp_deadline, view, language) if view.rsvp_deadline else None
            ),
            seats=_seats_text(view, language),
            organiser=found.organiser or NETWORK,
            description=links.linkify(view.description),
            programme=found.programme,
            map_link=event_rules.map_link(view.location) if view.location else None,
            deep_link=deep_link,
            ended=view.ends_at <= now,
            page_url=page_url,
            image_url=image_url,
            ics_url=f"/events/{view.id}.ics",
            google=links.google_link(view, page_url),
            outlook=links.outlook_link(view, page_url),
            summary=summary(view, language),
            json_ld=links.json_ld(
                view,
                page_url=page_url,
                image_url=image_url,
                organiser=found.organiser,
                network=NETWORK,
                language=language,
            ),
        )

    async def event_file(self, request: web.Request) -> web.Response:
        found = await self.found_event(request)
        if found is None:
            return self.not_found(request, self.language_of(request))
        view = found.event
        body = invites.event_file(
            view,
            url=f"{self.base_url(request)}/events/{view.id}",
            organizer_email=self.settings.mail_from,
            now=self.clock(),
        )
        return web.Response(
            body=body,
            content_type="text/calendar",
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=300",
                "Content-Disposition": f'attachment; filename="{invites.file_name(view)}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def event_image(self, request: web.Request) -> web.Response:
        language = self.language_of(request)
        found = await self.found_event(request)
        if found is None:
            return self.not_found(request, language)
        text = preview_text(found.event, language)
        image = self.cache.get(text)
        if image is None:
            image = await asyncio.to_thread(render, text)
            self.cache.put(text, image)
        return web.Response(
            body=image,
            content_type="image/png",
            headers={
                "Cache-Control": "public, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "ETag": f'"{text.key()[:32]}"',
            },
        )

    async def event_list(self, request: web.Request) -> web.Response:
        language = self.language_of(request)
        code = request.query.get("region") or None
        if code is not None and (len(code) > 64 or not code.isascii()):
            return self.not_found(request, language)
        found = await public.upcoming(self.db.unit_of_work(), code, now=self.clock())
        if found is None:
            return self.not_found(request, language)
        items = [
            {
                "event": view,
                "when": f"{format_short(view.starts_at, tz=view.tz, language=language)} "
                f"{format_zone(view.starts_at, None, tz=view.tz)}",
                "full": view.capacity is not None and not view.seats_left,
            }
            for view in found.events
        ]
        return self.html(
            request,
            "list.html",
            language,
            items=items,
            region_name=found.region_name,
            region_code=code,
            regions=await public.regions(self.db.unit_of_work()),
        )


def add_routes(
    app: web.Application,
    db: Database,
    *,
    settings: Settings,
    username: Callable[[], str | None],
    clock: Callable[[], dt.datetime],
    previews: PreviewCache | None = None,
) -> None:
    pages = _Pages(
        db,
        settings=settings,
        username=username,
        clock=clock,
        previews=previews if previews is not None else PreviewCache(),
    )
    app.router.add_get("/events", pages.event_list)
    app.router.add_get(r"/events/{id:\d+}.ics", pages.event_file)
    app.router.add_get(r"/events/{id:\d+}.png", pages.event_image)
    app.router.add_get(r"/events/{id:\d+}", pages.event_page)


def when_text_single(moment: dt.datetime, view: EventView, language: str) -> str:
    when = format_when(moment, None, tz=view.tz, language=language)
    return f"{when} {format_zone(moment, None, tz=view.tz)}"


def summary(view: EventView, language: str) -> str:
    """The link preview's description: when and where, then the start of the description."""
    place = view.location or view.online_url or ""
    head = " · ".join(p for p in (when_text(view, language), place) if p)
    text = " ".join(view.description.split())
    if len(text) > 200:
        text = text[:199].rstrip() + "…"
    return f"{head}. {text}" if text else head
