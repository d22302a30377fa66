"""Small chat helpers the organisers' event screens share (bot.new_event, bot.manage_event,
bot.attendees, bot.event_stats): the organiser acting, sending to the chat, taking a button
press or a typed answer, and the network's time zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import filters

from samvirke.bot.context import Context
from samvirke.storage.permissions import Actor

PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND


def acting(context: Context) -> Actor:
    """Who is acting (every update has one, see bot.context.load_viewer)."""
    actor = context.actor
    assert actor is not None
    return actor


async def send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


async def take_press(update: Update) -> str:
    """Answer a button press, take the buttons away from its message, return its data."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    return query.data or ""


def typed_text(update: Update) -> str:
    message = update.effective_message
    assert message is not None
    return message.text or ""


def network_tz(context: Context) -> ZoneInfo:
    """The network's time zone: dates organisers type are read in it."""
    return context.services.settings.tz
