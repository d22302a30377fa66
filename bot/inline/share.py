"""Inline mode: ``@<bot> words`` in any chat lists matching upcoming events (the member's region
first; no words: the next events); choosing one posts the event's card with the deep-link and
event-page buttons. The card holds nobody's own answer, so what is posted is the same for all.

Results are personal (ordered by the member's region, in their language) and cached briefly by
Telegram (``CACHE_SECONDS``). Turn inline mode on with BotFather's ``/setinline`` (see README).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.ext import BaseHandler, ChosenInlineResultHandler, InlineQueryHandler

from bot.channels.posts import links as post_links
from bot.context import Context
from storage.events import public
from storage.models import ChatKind
from templates import channel_cards
from templates.formatting import format_short, format_zone

log = logging.getLogger(__name__)
CACHE_SECONDS = 30
QUERY_MAX = 100


async def answer(update: Update, context: Context) -> None:
    query = update.inline_query
    assert query is not None
    t = context.t
    member = context.member
    found = await public.search(
        context.uow(),
        query.query[:QUERY_MAX],
        region_id=member.region_id if member else None,
        now=context.now,
    )
    links = post_links(context)
    links = channel_cards.Links(links.bot_username, links.public_url, t.language)
    results = []
    for view in found:
        when = (
            f"{format_short(view.starts_at, tz=view.tz, language=t.language)} "
            f"{format_zone(view.starts_at, None, tz=view.tz)}"
        )
        place = view.location or (t("Online") if view.online_url else "")
        rows = [
            [InlineKeyboardButton(b["text"], url=b["url"]) for b in row if "url" in b]
            for row in channel_cards.buttons(view, ChatKind.CHANNEL, links)
        ]
        rows = [row for row in rows if row]
        results.append(
            InlineQueryResultArticle(
                id=f"event:{view.id}",
                title=view.title,
                description=" · ".join(p for p in (when, place) if p),
                input_message_content=InputTextMessageContent(channel_cards.text(view, t.language)),
                reply_markup=InlineKeyboardMarkup(rows) if rows else None,
            )
        )
    await query.answer(results, cache_time=CACHE_SECONDS, is_personal=True)


async def chosen(update: Update, _context: Context) -> None:
    """Telegram's feedback (BotFather ``/setinlinefeedback``): which event was shared."""
    result = update.chosen_inline_result
    if result is None:
        return
    kind, _, event_id = result.result_id.partition(":")
    if kind == "event" and event_id.isdigit():
        log.info("event %s shared inline", event_id)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [InlineQueryHandler(answer), ChosenInlineResultHandler(chosen)]
