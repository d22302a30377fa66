"""What an event's post in a channel or group shows, and its buttons. Pure: no database.

The fingerprint of a card (``fingerprint``) tells whether a posted copy is still true.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from storage.events import rules
from storage.events.views import EventView
from storage.models import ChatKind, RsvpStatus
from templates.formatting import format_when, format_zone
from templates.i18n import translator

Buttons = list[list[dict[str, str]]]
CALLBACK_PREFIX = "grp"  # grp:<event id>:<going|maybe|not_going>
ANSWER_CODES = {"g": RsvpStatus.GOING, "m": RsvpStatus.MAYBE, "n": RsvpStatus.NOT_GOING}


@dataclass(frozen=True)
class Links:
    """What a post links to: the bot (deep links) and the public pages, in one language."""

    bot_username: str | None
    public_url: str | None
    language: str

    def page(self, event_id: int) -> str | None:
        if not self.public_url:
            return None
        return f"{self.public_url.rstrip('/')}/events/{event_id}"


def text(view: EventView, language: str) -> str:
    t = translator(language)
    when = format_when(view.starts_at, view.ends_at, tz=view.tz, language=language)
    lines = []
    if view.cancelled:
        lines.append("❌ " + t("Cancelled") + ": " + view.title)
    else:
        lines.append("📅 " + view.title)
    lines.append(f"🕒 {when} {format_zone(view.starts_at, view.ends_at, tz=view.tz)}")
    if view.location:
        lines.append(f"📍 {view.location}")
    if view.online_url:
        lines.append(f"💻 {view.online_url}")
    if not view.cancelled:
        if view.capacity is not None:
            left = view.seats_left or 0
            lines.append(
                t.plural("{n} seat left", "{n} seats left", left)
                if left
                else t("Full – you can join the waiting list")
            )
        lines.append(t("Going: {n}", n=view.going))
    elif view.cancel_message:
        lines.append(view.cancel_message)
    return "\n".join(lines)


def buttons(view: EventView, kind: str, links: Links) -> Buttons:
    t = translator(links.language)
    rows: Buttons = []
    if kind == ChatKind.GROUP and not view.cancelled:
        rows.append(
            [
                {"text": t("Going"), "callback_data": f"{CALLBACK_PREFIX}:{view.id}:g"},
                {"text": t("Maybe"), "callback_data": f"{CALLBACK_PREFIX}:{view.id}:m"},
                {"text": t("Can't go"), "callback_data": f"{CALLBACK_PREFIX}:{view.id}:n"},
            ]
        )
    row = []
    deep = rules.event_link(links.bot_username, view.id)
    if deep and not view.cancelled:
        row.append({"text": t("Sign up / answer in Telegram"), "url": deep})
    page = links.page(view.id)
    if page:
        row.append({"text": t("Event page"), "url": page})
    if row:
        rows.append(row)
    return rows


def fingerprint(card_text: str, card_buttons: Buttons) -> str:
    data = json.dumps([card_text, card_buttons], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def parse_answer(data: str) -> tuple[int, str] | None:
    """``grp:<event id>:<g|m|n>`` as (event id, answer); None for anything else."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX or parts[2] not in ANSWER_CODES:
        return None
    if not parts[1].isdigit() or len(parts[1]) > 10:
        return None
    return int(parts[1]), ANSWER_CODES[parts[2]]


def payload(card_text: str, card_buttons: Buttons) -> dict[str, Any]:
    return {"text": card_text, "buttons": card_buttons or None, "parse_mode": None}
