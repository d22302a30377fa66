"""Telegram's size limits for what the bot composes from members' input.

Telegram refuses a message over 4,096 characters and a caption over 1,024 ("message is too
long"), counted in UTF-16 code units (an emoji outside the basic plane counts two). Whatever the
bot builds from member input (an event's description, a title, a place) goes through
:func:`fit`: the fixed parts stay whole, the long part is cut at a word with "…", and the caller
adds a way to the full text (the event page, or a "Show all" button).
"""

from __future__ import annotations

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ELLIPSIS = "…"


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, room: int) -> str:
    """``text`` in at most ``room`` units: whole when it fits, else cut (at a space when one is
    near the end) with "…"."""
    if telegram_length(text) <= room:
        return text
    if room <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for character in text:
        width = telegram_length(character)
        if used + width > room - 1:  # leave room for "…"
            break
        kept.append(character)
        used += width
    head = "".join(kept)
    space = head.rfind(" ")
    if space >= len(head) * 4 // 5:  # a word boundary close to the end
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def fit(before: str, long_part: str, after: str, *, limit: int = TEXT_LIMIT) -> tuple[str, bool]:
    """``before + long_part + after`` within ``limit``: ``long_part`` cut as needed (the parts
    are joined as given). Returns the text and whether anything was cut."""
    room = limit - telegram_length(before) - telegram_length(after)
    cut = shorten(long_part, room)
    text = before + cut + after
    if telegram_length(text) > limit:  # the fixed parts alone are too long
        return shorten(text, limit), True
    return text, cut != long_part


def pieces(text: str, *, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` as messages of at most ``limit`` units, split at line breaks or spaces where
    possible (for "Show all")."""
    parts: list[str] = []
    rest = text
    while telegram_length(rest) > limit:
        head = shorten(rest, limit + 1)[:-1]  # the most that fits, without the "…"
        cut = max(head.rfind("\n"), head.rfind(" "))
        if cut < len(head) // 2:
            cut = len(head)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
