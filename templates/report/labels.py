"""The report's words: figure names, sectors, units, formatted numbers and dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from templates.i18n import N_, Translator

SECTORS = {
    "civil_society": N_("Civil society"),
    "public": N_("Public sector (municipality or region)"),
    "business": N_("Business"),
    "foundation": N_("Foundation"),
    "academia": N_("University or research"),
}
# English as written in the Nordic countries: "1 January 2027", not "January 1, 2027".
LOCALES = {"da": "da_DK", "sv": "sv_SE", "en": "en_GB"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _locale(language: str) -> str:
    return LOCALES.get(language, language)


def sector(t: Translator, code: str) -> str:
    return t(SECTORS[code]) if code in SECTORS else t("Not stated")


def region(t: Translator, name: str) -> str:
    return name or t("Not stated")


def number(value: float, language: str, digits: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_locale(language))


def percent(value: float | None, language: str) -> str:
    return (
        "–" if value is None else format_percent(value, format="#,##0 %", locale=_locale(language))
    )


def hours(minutes: int, language: str) -> str:
    return number(minutes / 60, language, 1 if minutes % 60 else 0)


def day(moment: dt.datetime | dt.date, tz: ZoneInfo, language: str, form: str = "long") -> str:
    local = moment.astimezone(tz).date() if isinstance(moment, dt.datetime) else moment
    return format_date(local, format=form, locale=_locale(language))


def month(code: str, language: str) -> str:
    """ "2026-03" as "mar. 2026" (short, for chart axes)."""
    year, month_number = code.split("-")
    return format_date(
        dt.date(int(year), int(month_number), 1),
        format="MMM yyyy",
        locale=LOCALES.get(language, language),
    )


def period(start: dt.datetime, end: dt.datetime, tz: ZoneInfo, language: str) -> str:
    last = end.astimezone(tz) - dt.timedelta(days=1)
    return f"{day(start, tz, language)} – {day(last, tz, language)}"


def spreadsheet_safe(value: str) -> str:
    """Keep a member's text from being run as a formula by a spreadsheet program."""
    return "'" + value if value[:1] in FORMULA_STARTS else value
