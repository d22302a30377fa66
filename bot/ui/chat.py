"""What the bot's conversations share: the private-chat and typed-answer filters, who is acting,
sending to the chat (with a note in front: :func:`prefaced`), answering a button press, and
reading a typed answer."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import filters
from telegram.helpers import escape_markdown

from bot.context import Context
from bot.ui.limits import TEXT_LIMIT, telegram_length
from storage.permissions import Actor

PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND


def acting(context: Context) -> Actor:
    """Who is acting (every update has one, see bot.context.load_viewer)."""
    actor = context.actor
    assert actor is not None
    return actor


@dataclass
class _Preface:
    chat_id: int
    note: str | None


# The note waiting to go in front of the next message :func:`send` sends in this update.
_PREFACE: ContextVar[_Preface | None] = ContextVar("preface", default=None)


@contextlib.asynccontextmanager
async def prefaced(update: Update, note: str) -> AsyncIterator[None]:
    """Put ``note`` (plain text: what was wrong with an answer) in front of the next message
    :func:`send` sends to this chat inside the block, after a blank line, so a wrong answer gets
    one message: the note, then the question. When nothing inside took the note (the question
    was an edit, a photo or a document, or nothing was sent) it is sent on its own at the end."""
    chat = update.effective_chat
    assert chat is not None
    outer = _PREFACE.get()
    if outer is not None and outer.note and outer.chat_id == chat.id:
        note, outer.note = f"{outer.note}\n{note}", None  # one message for both notes
    preface = _Preface(chat.id, note)
    token = _PREFACE.set(preface)
    try:
        yield
    finally:
        _PREFACE.reset(token)
    if preface.note:
        await chat.send_message(preface.note)


def _escaped(note: str, parse_mode: object) -> str:
    if parse_mode == ParseMode.HTML:
        return html.escape(note, quote=False)
    if parse_mode == ParseMode.MARKDOWN_V2:
        return escape_markdown(note, version=2)
    if parse_mode == ParseMode.MARKDOWN:
        return escape_markdown(note, version=1)
    return note


async def send(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None, **kwargs: Any
) -> Message:
    """Send ``text`` to the update's chat (with the note of :func:`prefaced` in front)."""
    chat = update.effective_chat
    assert chat is not None
    preface = _PREFACE.get()
    if preface is not None and preface.note and preface.chat_id == chat.id:
        note, preface.note = preface.note, None
        together = _escaped(note, kwargs.get("parse_mode")) + "\n\n" + text
        if "entities" not in kwargs and telegram_length(together) <= TEXT_LIMIT:
            text = together
        else:  # the question stays whole: the note goes just before it
            await chat.send_message(note)
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
