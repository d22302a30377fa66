"""Event posts in the network's channels and groups, from the bot's side: "Announce in …" after
publishing, and the Going / Maybe / Can't go buttons of a post in a group.

A press in a group never gets an answer in the group: a member sees a short notice on their
screen; someone who has not signed up is taken to the bot's private chat (the callback answer's
``start=event_<id>`` link), where signing up opens the event.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.context import Context
from bot.events.browse import bot_username
from bot.events.cards import answer_toast
from bot.ui import callbacks
from bot.ui.chat import acting, send
from bot.ui.texts import SIGN_UP_FIRST, error_text
from storage.channels import chats
from storage.channels import posts as channel_posts
from storage.errors import DomainError
from storage.events import rsvps as event_rsvps
from storage.events import rules as event_rules
from storage.events.views import EventView
from templates import channel_cards

ANNOUNCE = "chn:ann"


def links(context: Context) -> channel_cards.Links:
    settings = context.services.settings
    return channel_cards.Links(
        bot_username=bot_username(context),
        public_url=str(settings.public_url) if settings.public_url else None,
        language=settings.default_language,
    )


async def offer(update: Update, context: Context, view: EventView) -> None:
    """After publishing: "Announce in …" for each channel and group of the event's region."""
    found = await chats.for_region(context.uow(), view.region_id)
    if not found:
        return
    t = context.t
    buttons = [
        [
            InlineKeyboardButton(
                t("Announce in {chat}", chat=chat.title),
                callback_data=f"{ANNOUNCE}:{view.id}:{chat.id}",
            )
        ]
        for chat in found
    ]
    await send(
        update,
        t("Announce it in the network's channels and groups?"),
        InlineKeyboardMarkup(buttons),
    )


async def announce(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    parts = (query.data or "").split(":")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 10 for p in parts[2:]):
        await query.answer(t("This button is no longer active."))
        return
    try:
        done = await channel_posts.announce(
            context.uow(),
            acting(context),
            int(parts[2]),
            int(parts[3]),
            links=links(context),
            now=context.now,
        )
    except DomainError as error:
        await query.answer(error_text(t, error), show_alert=True)
        return
    if done.new:
        await query.answer(t("Announced in {chat}.", chat=done.chat_title))
    else:
        await query.answer(t("It is posted in {chat} already.", chat=done.chat_title))


async def group_answer(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    parsed = channel_cards.parse_answer(query.data or "")
    if parsed is None:
        await query.answer(t("This button is no longer active."))
        return
    event_id, answer = parsed
    if context.member is None:
        link = event_rules.event_link(bot_username(context), event_id)
        if link:
            # Opens the private chat with /start event_<id>: sign up there, then answer.
            await query.answer(url=link)
        else:
            await query.answer(t(SIGN_UP_FIRST), show_alert=True)
        return
    try:
        outcome = await event_rsvps.respond(
            context.uow(),
            member_id=context.member.id,
            event_id=event_id,
            answer=answer,
            now=context.now,
            bot_username=bot_username(context),
        )
    except DomainError as error:
        await query.answer(error_text(t, error), show_alert=True)
        return
    await query.answer(answer_toast(t, outcome), show_alert=True)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CallbackQueryHandler(announce, pattern=callbacks.matching(rf"^{ANNOUNCE}:")),
        CallbackQueryHandler(
            group_answer, pattern=callbacks.matching(rf"^{channel_cards.CALLBACK_PREFIX}:")
        ),
    ]
