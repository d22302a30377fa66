"""Callback data: ``feature:action[:arg...]`` (at most 64 bytes), read in one way everywhere.

Every handler's pattern is made with :func:`matching`, which accepts ASCII digits only and ids
from 0 to 2**31-1 (the database's integer), so a forged or mangled press never reaches a handler
(it falls through to the last-resort "this button is no longer active" answer). Handlers read
numbers from the data with :func:`number`; what does not parse raises :class:`StaleButton`, which
the error handler answers the same way, never with the generic apology.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from telegram import Update

from bot.context import Context
from bot.ui.texts import STALE_BUTTON

MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")


class StaleButton(Exception):
    """A button press whose data does not parse (forged, mangled or from an old version)."""


def _bounded(data: str) -> bool:
    return all(len(run) <= 10 and int(run) <= MAX_ID for run in _DIGITS.findall(data))


def matching(regex: str) -> Callable[[object], bool]:
    """A CallbackQueryHandler pattern: ``regex`` (``\\d`` means ASCII digits) and every number
    in the data within 0..2**31-1."""
    compiled = re.compile(regex, re.ASCII)

    def check(data: object) -> bool:
        return isinstance(data, str) and compiled.match(data) is not None and _bounded(data)

    return check


def number(data: str, index: int = -1) -> int:
    """The number in part ``index`` of ``data`` (parts split at ``:``); StaleButton when that
    part is not a plain number within 0..2**31-1."""
    parts = data.split(":")
    try:
        part = parts[index]
    except IndexError:
        raise StaleButton from None
    if not part.isascii() or not part.isdigit() or len(part) > 10 or int(part) > MAX_ID:
        raise StaleButton
    return int(part)


async def answer_stale(update: Update, context: Context) -> None:
    """Tell the person the button they pressed no longer works (nothing is posted in the chat
    for a press; a typed message gets the text as a reply)."""
    query = update.callback_query
    if query is not None:
        await query.answer(context.t(STALE_BUTTON))
        return
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(context.t(STALE_BUTTON))
