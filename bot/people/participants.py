"""On the event card of a participant: "Participant list: show me?" before the start (default:
the directory choice) and "Who was there" after it, with "Ask for an introduction"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.context import Context
from bot.people.common import parse_id, tell_error
from bot.ui import callbacks, keyboards
from bot.ui.chat import answer_press, send
from bot.ui.texts import SIGN_UP_FIRST
from storage.errors import DomainError
from storage.events.views import EventCard
from storage.models import RsvpStatus
from storage.people import participants
from storage.people.cards import card_text
from templates.i18n import Translator


def card_buttons(
    t: Translator, card: EventCard, now: dt.datetime
) -> list[list[InlineKeyboardButton]]:
    """The rows this feature adds to an event card (bot.events.cards.card_markup)."""
    answer = card.answer
    view = card.event
    if view.cancelled or answer is None:
        return []
    if not (answer.status == RsvpStatus.GOING or answer.checked_in):
        return []
    if view.starts_at <= now:
        return [[keyboards.button(t("Who was there"), f"pp:ww:{view.id}")]]
    return [[keyboards.button(t("Participant list: show me?"), f"pp:pv:{view.id}")]]


async def visibility(update: Update, context: Context) -> None:
    data = await answer_press(update)
    t = context.t
    member = context.member
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    parts = data.split(":")
    event_id = parse_id(parts[2])
    if event_id is None:
        await send(update, t("Sorry, I cannot find that event."))
        return
    try:
        if len(parts) == 4:
            shown = await participants.set_choice(
                context.uow(), member.id, event_id, visible=parts[3] == "y", now=context.now
            )
        else:
            shown = await participants.my_choice(context.uow(), member.id, event_id)
    except DomainError as error:
        await tell_error(update, context, error)
        return
    text = (
        t("You are shown on this event's participant list, to the other participants.")
        if shown
        else t("You are not shown on this event's participant list.")
    )
    button = (
        keyboards.button(t("Hide me from the list"), f"pp:pv:{event_id}:n")
        if shown
        else keyboards.button(t("Show me on the participant list"), f"pp:pv:{event_id}:y")
    )
    await send(update, text, keyboards.rows([button]))


async def who_was_there(update: Update, context: Context) -> None:
    data = await answer_press(update)
    t = context.t
    member = context.member
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    event_id = parse_id(data.removeprefix("pp:ww:"))
    if event_id is None:
        await send(update, t("Sorry, I cannot find that event."))
        return
    try:
        cards = await participants.who_was_there(
            context.uow(), member.id, event_id, now=context.now
        )
    except DomainError as error:
        await tell_error(update, context, error)
        return
    if not cards:
        await send(update, t("Nobody else has chosen to be shown on this list."))
        return
    text = "\n\n".join([t("Who was there"), *(card_text(t, c) for c in cards)])
    rows = [
        [
            keyboards.button(
                t("Ask {name} for an introduction", name=c.name), f"pp:ask:{c.member_id}"
            )
        ]
        for c in cards
    ]
    await send(update, text, InlineKeyboardMarkup(rows), parse_mode=ParseMode.HTML)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CallbackQueryHandler(visibility, pattern=callbacks.matching(r"^pp:pv:\d{1,10}(:[yn])?$")),
        CallbackQueryHandler(who_was_there, pattern=callbacks.matching(r"^pp:ww:\d{1,10}$")),
    ]
