"""The period and region picker of the figures screens (/stats, its "Connections", /report):
which period (this month, last year, … or two typed dates), then which region. An organiser for
one region is not asked for a region: they get theirs (storage limits them to it anyway).

A period travels in button data as its first day and the day after its last
(``20260101-20260201``); each screen checks it again when it makes its figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.context import Context
from bot.ui import callbacks, keyboards
from bot.ui.callbacks import MAX_ID
from bot.ui.chat import acting, answer_press, send
from bot.ui.guards import organisers_only
from storage import regions
from storage.errors import InvalidInput
from storage.events import rules as event_rules
from storage.events.dates import Rejected, parse_moment
from templates.i18n import N_

PERIOD_LABELS = {
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
    "this_year": N_("This year"),
    "last_year": N_("Last year"),
    "last_12_months": N_("The last 12 months"),
}

# Makes the figures of a period (its code) in a region (None: all regions).
Report = Callable[[Update, Context, str, int | None], Awaitable[None]]


def period_code(first: dt.date, after_last: dt.date) -> str:
    return f"{first:%Y%m%d}-{after_last:%Y%m%d}"


def today(context: Context) -> dt.date:
    """Today in the network's calendar."""
    return context.now.astimezone(context.services.settings.tz).date()


def typed_period(args: list[str], context: Context) -> tuple[dt.date, dt.date] | None:
    """``/stats 1.1.2026 30.6.2026``: a period typed as two dates (the last one included), as
    its first day and the day after its last; None unless two words were typed."""
    if len(args) != 2:
        return None
    tz = context.services.settings.tz
    far_past = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
    never = dt.datetime.max.replace(tzinfo=dt.UTC)  # the period's rule bounds it below
    days = []
    for arg in args:
        moment = parse_moment(arg, tz=tz, now=far_past, default_time=dt.time(12, 0), latest=never)
        if isinstance(moment, Rejected):
            # The date texts point at a question's examples; here there is no question.
            unreadable = moment.reason in ("when_unreadable", "time_missing")
            raise InvalidInput("period_unreadable" if unreadable else moment.reason)
        days.append(moment.astimezone(tz).date())
    return event_rules.checked_period(days[0], days[1], today=today(context))


def _region_id(text: str) -> int | None:
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0
    return value if 0 < value <= MAX_ID else None


@dataclass(frozen=True)
class PeriodRegionPicker:
    """A period button's data is ``<period_data>:<period>``, a region button's
    ``<region_data>:<period>:<region id or "all">``; ``report`` makes the figures."""

    period_data: str
    region_data: str
    report: Report

    def period_buttons(self, context: Context) -> list[InlineKeyboardButton]:
        """One button a named period (this month, last month, …)."""
        day = today(context)
        return [
            keyboards.button(
                context.t(label),
                f"{self.period_data}:{period_code(*event_rules.period_bounds(name, today=day))}",
            )
            for name, label in PERIOD_LABELS.items()
        ]

    async def ask_region(self, update: Update, context: Context, period: str) -> None:
        """Which region? (An organiser for one region gets their region's figures at once.)"""
        actor = acting(context)
        if actor.organiser_region_id is not None and not actor.is_admin:
            await self.report(update, context, period, actor.organiser_region_id)
            return
        t = context.t
        available = await regions.list_active(context.uow())
        buttons = [keyboards.button(t("All regions"), f"{self.region_data}:{period}:all")]
        buttons += [
            keyboards.button(r.name, f"{self.region_data}:{period}:{r.id}") for r in available
        ]
        await send(
            update,
            t("For which region?"),
            InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)]),
        )

    async def _period_chosen(self, update: Update, context: Context) -> None:
        data = await answer_press(update, keep_buttons=False)
        await self.ask_region(update, context, data.removeprefix(f"{self.period_data}:"))

    async def _region_chosen(self, update: Update, context: Context) -> None:
        data = await answer_press(update, keep_buttons=False)
        period, _, region = data.removeprefix(f"{self.region_data}:").partition(":")
        region_id = None if region == "all" else _region_id(region)
        if region != "all" and region_id is None:
            await send(update, context.t("Please choose one of the regions."))
            return
        await self.report(update, context, period, region_id)

    def handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        period = r"\d{8}-\d{8}"
        return [
            CallbackQueryHandler(
                organisers_only(self._period_chosen),
                pattern=callbacks.matching(rf"^{self.period_data}:{period}$"),
            ),
            CallbackQueryHandler(
                organisers_only(self._region_chosen),
                pattern=callbacks.matching(rf"^{self.region_data}:{period}:(\d{{1,10}}|all)$"),
            ),
        ]
