"""The unsubscribe pages behind the digest's List-Unsubscribe link (RFC 8058).

``POST /unsubscribe/{token}`` (what mail providers send for one-click unsubscribe, and what the
confirmation page's button sends) unsubscribes at once; ``GET`` only shows a small page in the
member's language with that button, so that link scanners cannot unsubscribe anyone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiohttp import web
from markupsafe import escape

from storage.digests import unsubscribe
from storage.uow import Database
from templates.i18n import translator

PATH = "/unsubscribe/{token}"


def _page(language: str, title: str, body: str, form_action: str | None = None) -> web.Response:
    t = translator(language)
    button = ""
    if form_action is not None:
        button = (
            f'<form method="post" action="{escape(form_action)}">'
            f'<button type="submit" style="font-size:18px;padding:12px 20px;">'
            f"{escape(t('Unsubscribe'))}</button></form>"
        )
    html = (
        f'<!DOCTYPE html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family:Arial,Helvetica,sans-serif;max-width:520px;margin:40px auto;'
        f'padding:0 16px;line-height:1.5;"><h1 style="font-size:22px;">{escape(title)}</h1>'
        f"<p>{escape(body)}</p>{button}</body></html>"
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def add_routes(
    app: web.Application,
    db: Database,
    *,
    secret: bytes,
    default_language: str,
    clock: Callable[[], dt.datetime],
) -> None:
    async def show(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        member_id = unsubscribe.read_token(secret, token)
        language = (
            await unsubscribe.language_of(db.unit_of_work(), member_id) if member_id else None
        )
        if member_id is None or language is None:
            return _not_found(default_language)
        t = translator(language)
        return _page(
            language,
            t("Unsubscribe from the newsletter"),
            t(
                "Press the button to stop the Samvirke newsletter. You can start it again with "
                "/settings in the bot."
            ),
            form_action=request.path,
        )

    async def confirm(request: web.Request) -> web.Response:
        member_id = unsubscribe.read_token(secret, request.match_info["token"])
        language = (
            await unsubscribe.unsubscribe(db.unit_of_work(), member_id, now=clock())
            if member_id is not None
            else None
        )
        if language is None:
            return _not_found(default_language)
        t = translator(language)
        return _page(
            language,
            t("You are unsubscribed"),
            t(
                "You will get no more newsletters from Samvirke. You can start them again with "
                "/settings in the bot."
            ),
        )

    app.router.add_get(PATH, show)
    app.router.add_post(PATH, confirm)


def _not_found(language: str) -> web.Response:
    t = translator(language)
    response = _page(
        language,
        t("Link not valid"),
        t("This unsubscribe link is not valid (any more). Use /settings in the bot instead."),
    )
    response.set_status(404)
    return response
