"""Inline keyboards. Callback data is ``feature:action[:arg...]``, at most 64 bytes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.ui.texts import SECTOR_LABELS
from storage.regions import RegionView
from templates.i18n import Translator


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
