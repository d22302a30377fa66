"""What /newevent (bot.new_event) and editing a published event (bot.manage_event) share: the
fields an organiser sets, the questions for the time, the region and the seats, reading the
answers, and the guards that keep a conversation on its question.

A conversation keeps its answers in ``user_data[name]`` (moments as ISO strings), so a draft
survives a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler

from bot.context import Context
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import TEXT, acting, send
from bot.ui.conversation import OLD_BUTTON, reask
from bot.ui.texts import CHOOSE_A_BUTTON
from storage import regions
from storage.errors import InvalidInput
from storage.events import rules as event_rules
from storage.events.dates import Rejected, parse_end, parse_moment, parse_when
from storage.permissions import Actor
from templates.formatting import format_long_date, format_when
from templates.i18n import N_, Translator

Step = Callable[[Update, Context], Coroutine[Any, Any, str | int]]

FIELD_LABELS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "when": N_("Time"),
    "place": N_("Place"),
    "region": N_("Region"),
    "capacity": N_("Seats"),
    "deadline": N_("Answer deadline"),
}
IN_FLOW = N_("You are creating an event. Please answer the question, or send /cancel to stop.")


def network_tz(context: Context) -> ZoneInfo:
    """The network's time zone: dates organisers type are read in it."""
    return context.services.settings.tz


# --- the answers kept so far -------------------------------------------------------------------


def to_iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def from_iso(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def keep_hint(t: Translator) -> str:
    return t("Send /cancel to stop.")


# --- the time --------------------------------------------------------------------------------

EXAMPLE_WEEKS_AHEAD = 3  # the example date: three weeks from today, so never one in the past


def when_question(context: Context) -> str:
    """ "When is it?" with examples of the forms the bot reads, for a day a few weeks ahead, the
    long one in the member's language."""
    t = context.t
    day = context.now.astimezone(network_tz(context)).date() + dt.timedelta(
        weeks=EXAMPLE_WEEKS_AHEAD
    )
    return t(
        "When is it? Type the date and the time, for example {date} 13:00-17:00, {day_month} "
        "13-17 or {long_date} 13-17.",
        date=f"{day.day}.{day.month}.{day.year}",
        day_month=f"{day.day}/{day.month}",
        long_date=format_long_date(day, language=t.language),
    )


def store_when(context: Context, name: str, text: str) -> bool:
    """Read a typed start (and end) into the draft; True when the end is still to be asked.
    InvalidInput when it cannot be read."""
    parsed = parse_when(text, tz=network_tz(context), now=context.now)
    if isinstance(parsed, Rejected):
        raise InvalidInput(parsed.reason)
    draft = drafts.draft(context, name)
    draft["starts_at"], draft["ends_at"] = to_iso(parsed.start), to_iso(parsed.end)
    return parsed.end is None


async def ask_end_time(update: Update, context: Context) -> None:
    await send(
        update,
        context.t("When does it end? Type a time (for example 17:00) or a date and a time."),
    )


def store_end(context: Context, name: str, text: str) -> None:
    """Read a typed end into the draft (InvalidInput when it cannot be read)."""
    draft = drafts.draft(context, name)
    start = from_iso(draft.get("starts_at"))
    assert start is not None
    parsed = parse_end(text, start=start, tz=network_tz(context))
    if isinstance(parsed, Rejected):
        raise InvalidInput(parsed.reason)
    draft["ends_at"] = to_iso(parsed)


def _when_confirmation(
    t: Translator, start: dt.datetime, end: dt.datetime, tz: ZoneInfo, prefix: str
) -> tuple[str, InlineKeyboardMarkup]:
    # No zone after the time: typed times are read in the network's zone, and every time the
    # bot shows is in it, so "CET" (which Danes and Swedes do not write) would only puzzle.
    text = t(
        "I read that as: {when}. Is that right?",
        when=format_when(start, end, tz=tz, language=t.language),
    )
    markup = keyboards.rows(
        [
            keyboards.button(t("Yes, that is right"), f"{prefix}:when:ok"),
            keyboards.button(t("No, type it again"), f"{prefix}:when:again"),
        ]
    )
    return text, markup


async def confirm_when(update: Update, context: Context, name: str, prefix: str) -> None:
    """Show the time as it was read, with Yes (``<prefix>:when:ok``) and No (``:again``)."""
    draft = drafts.draft(context, name)
    start, end = from_iso(draft.get("starts_at")), from_iso(draft.get("ends_at"))
    assert start is not None
    assert end is not None
    text, markup = _when_confirmation(context.t, start, end, network_tz(context), prefix)
    await send(update, text, markup)


def deadline_example(start: dt.datetime | None, *, now: dt.datetime, tz: ZoneInfo) -> str:
    """A deadline to show as the example, as organisers type it: two days before the event at
    noon, or (for an event that soon) an hour before it starts; never a moment already past."""
    if start is None:
        start = now + dt.timedelta(days=14)
    local = start.astimezone(tz)
    example = dt.datetime.combine(local.date() - dt.timedelta(days=2), dt.time(12), tzinfo=tz)
    if example <= now:
        example = local - dt.timedelta(hours=1)
    return f"{example.day}.{example.month}.{example.year} {example:%H:%M}"


def deadline_question(context: Context, start: dt.datetime | None) -> str:
    """ "Until when can members answer?" with an example deadline for the event at ``start``."""
    example = deadline_example(start, now=context.now, tz=network_tz(context))
    return context.t(
        "Until when can members answer? Type a date (and a time), for example {example}, "
        "or press No deadline: then until the event starts.",
        example=example,
    )


def read_deadline(context: Context, text: str) -> dt.datetime:
    """A typed answer deadline (InvalidInput when it cannot be read)."""
    parsed = parse_moment(text, tz=network_tz(context), now=context.now)
    if isinstance(parsed, Rejected):
        raise InvalidInput("deadline_in_past" if parsed.reason == "when_in_past" else parsed.reason)
    return parsed


# --- the region and the seats ------------------------------------------------------------------


def _region_buttons(
    t: Translator, actor: Actor, available: list[regions.RegionView], prefix: str
) -> InlineKeyboardMarkup:
    allowed = [r for r in available if event_rules.may_manage(actor, r.id)]
    buttons = [keyboards.button(r.name, f"{prefix}:{r.id}") for r in allowed]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if event_rules.may_manage(actor, None):
        rows.append([keyboards.button(t("All regions (the whole network)"), f"{prefix}:all")])
    return InlineKeyboardMarkup(rows)


async def ask_region_for(update: Update, context: Context, prefix: str) -> None:
    """The regions the organiser may publish in, as buttons ``<prefix>:<id>`` (or ``:all``)."""
    available = await regions.list_active(context.uow())
    await send(
        update,
        context.t("Which region is the event for?"),
        _region_buttons(context.t, acting(context), available, prefix),
    )


async def ask_seats(update: Update, context: Context, no_limit: str) -> None:
    """How many seats, with a No limit button (data ``no_limit``)."""
    t = context.t
    await send(
        update,
        t("How many seats are there? Type a number, or press No limit."),
        keyboards.column([keyboards.button(t("No limit"), no_limit)]),
    )


# --- keeping a conversation on its question --------------------------------------------------


def guards(
    states: Mapping[str, Step],
    state: str,
    prefix: str,
    command: str | None,
    *,
    expects_text: bool,
) -> list[BaseHandler[Update, Context, Any]]:
    """Catch what the state does not expect: the conversation's own old buttons and command,
    text where a button is expected. Other features' buttons and commands pass through, so an
    organiser can look something up in the middle of a draft."""
    found: list[BaseHandler[Update, Context, Any]] = [
        CallbackQueryHandler(
            reask(states[state], OLD_BUTTON), pattern=callbacks.matching(rf"^{prefix}:")
        ),
    ]
    if command is not None:
        found.insert(0, CommandHandler(command, reask(states[state], IN_FLOW)))
    if not expects_text:
        found.append(MessageHandler(TEXT, reask(states[state], CHOOSE_A_BUTTON)))
    return found
