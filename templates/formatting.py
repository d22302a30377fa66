"""Showing values to people in their language: dates and times in the network's time zone,
hours of the timebank, the parties of an exchange. Presentation shared by the bot, the notices
storage queues, the mails and the HTTP pages."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal

from storage.timebank.ledger import hours_decimal
from templates.i18n import Translator

if TYPE_CHECKING:
    from storage.timebank.common import Party

# --- dates and times --------------------------------------------------------------------------

LOCALES = {"da": "da_DK", "sv": "sv_SE", "en": "en_GB"}


def _locale(language: str) -> str:
    return LOCALES.get(language, "en_GB")


def format_day(moment: dt.datetime, *, tz: ZoneInfo, language: str) -> str:
    """``torsdag den 3. december 2026`` / ``torsdag 3 december 2026`` / ``Thursday 3 December
    2026``."""
    return format_date(moment.astimezone(tz).date(), format="full", locale=_locale(language))


def format_long_date(day: dt.date, *, language: str) -> str:
    """``3. december 2026`` / ``3 december 2026`` / ``3 December 2026`` (as people type it)."""
    return format_date(day, format="long", locale=_locale(language))


def format_clock(moment: dt.datetime, *, tz: ZoneInfo, language: str) -> str:
    return format_time(moment.astimezone(tz).time(), format="HH:mm", locale=_locale(language))


def format_moment(moment: dt.datetime, *, tz: ZoneInfo, language: str) -> str:
    return (
        f"{format_day(moment, tz=tz, language=language)} "
        f"{format_clock(moment, tz=tz, language=language)}"
    )


def format_when(start: dt.datetime, end: dt.datetime | None, *, tz: ZoneInfo, language: str) -> str:
    """The whole time of an event, in its time zone: one day with a time range, or two moments."""
    if end is None:
        return format_moment(start, tz=tz, language=language)
    if start.astimezone(tz).date() == end.astimezone(tz).date():
        return (
            f"{format_day(start, tz=tz, language=language)}, "
            f"{format_clock(start, tz=tz, language=language)}–"
            f"{format_clock(end, tz=tz, language=language)}"
        )
    return (
        f"{format_moment(start, tz=tz, language=language)} – "
        f"{format_moment(end, tz=tz, language=language)}"
    )


def format_short(start: dt.datetime, *, tz: ZoneInfo, language: str) -> str:
    """A short day and time for lists: ``Thu 3 Dec 2026 13:00``."""
    local = start.astimezone(tz)
    day = format_skeleton("yMMMEd", local, locale=_locale(language))
    return f"{day} {format_clock(start, tz=tz, language=language)}"


def _zone_name(moment: dt.datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    name = local.tzname() or ""
    if name.isalpha():
        return name
    minutes = int((local.utcoffset() or dt.timedelta(0)).total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'-' if minutes < 0 else '+'}{hours}" + (f":{rest:02d}" if rest else "")


def format_zone(start: dt.datetime, end: dt.datetime | None, *, tz: ZoneInfo) -> str:
    """The time zone as people write it after a time: its abbreviation (``CET``, ``CEST``), or
    the offset from UTC where the zone has none (``UTC-3``); both when the clocks change
    during the event (``CEST/CET``)."""
    names = dict.fromkeys(_zone_name(moment, tz) for moment in (start, end) if moment is not None)
    return "/".join(names)


# --- the timebank -----------------------------------------------------------------------------


def hours_text(t: Translator, minutes: int) -> str:
    """Hours in the reader's language: "1.5 h", "1,5 t", "−2,25 tim"."""
    number = format_decimal(hours_decimal(minutes), format="#,##0.##", locale=t.language)
    return t("{hours} h", hours=number)


def party_name(t: Translator, party: Party) -> str:
    return party.name or t("a former member")


def balance_line(t: Translator, party: Party, balance: int) -> str:
    if party.is_organisation:
        return t(
            "The balance of {organisation} is now {balance}.",
            organisation=party.name,
            balance=hours_text(t, balance),
        )
    return t("Your balance is now {balance}.", balance=hours_text(t, balance))
