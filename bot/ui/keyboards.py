"""Inline keyboards. Callback data is ``feature:action[:arg...]``, at most 64 bytes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.ui.texts import SECTOR_LABELS
from storage.regions import RegionView
from templates.i18n import Translator

BUTTON_CHARS = 40


def label(text: str, limit: int = BUTTON_CHARS) -> str:
    """``text`` fit for a button: whole when it fits in ``limit`` characters, else cut at the
    last word boundary (a word longer than the room is cut) with "…", never with a trailing
    space or a broken word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    cut = room.rsplit(" ", 1)[0] if " " in room.strip() else room
    if len(cut) < limit // 2:  # one very long word: better cut it than show almost nothing
        cut = room
    return cut.rstrip(" ,.;:–-") + "…"


def checked(text: str, chosen: bool) -> str:
    """A choice's label, with ✓ when it is the current one."""
    return f"✓ {text}" if chosen else text


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def rows(*rows: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(r) for r in rows])


def column(buttons: Iterable[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[b] for b in buttons])


def sectors(t: Translator, prefix: str) -> InlineKeyboardMarkup:
    return column(button(t(label), f"{prefix}:{code}") for code, label in SECTOR_LABELS.items())


def regions(regions: Sequence[RegionView], prefix: str) -> InlineKeyboardMarkup:
    buttons = [button(r.name, f"{prefix}:{r.id}") for r in regions]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
