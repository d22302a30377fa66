"""What the bot's conversations share: the private-chat and typed-answer filters, who is acting,
sending to the chat, answering a button press, and reading a typed answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import filters

from bot.context import Context
from storage.permissions import Actor

PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND


def acting(context: Context) -> Actor:
    """Who is acting (every update has one, see bot.context.load_viewer)."""
    actor = context.actor
    assert actor is not None
    return actor


async def send(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None, **kwargs: Any
) -> Message:
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(text, reply_markup=markup, **kwargs)


async def answer_press(update: Update, *, keep_buttons: bool = True) -> str:
    """Answer the button press and return its data; optionally take the buttons off its
    message (so an old question cannot be answered twice)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if not keep_buttons:
        await remove_buttons(update)
    return query.data or ""


async def remove_buttons(update: Update) -> None:
    """Take the buttons off the message whose button was pressed (already gone is fine: a
    double tap removes them twice)."""
    query = update.callback_query
    if query is not None and query.message is not None:
        with _unchanged_is_fine():
            await query.edit_message_reply_markup(reply_markup=None)


async def redraw(
    update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Redraw the message whose button was pressed; redrawing it into the state it already has
    (a double tap, a press on the choice already shown) is not an error."""
    query = update.callback_query
    assert query is not None
    with _unchanged_is_fine():
        await query.edit_message_text(text, reply_markup=reply_markup)


@contextlib.contextmanager
def _unchanged_is_fine() -> Iterator[None]:
    try:
        yield
    except BadRequest as error:
        if "message is not modified" not in error.message.lower():
            raise


def typed_text(update: Update) -> str:
    """The text of the message a member typed as an answer."""
    message = update.effective_message
    assert message is not None
    return message.text or ""
