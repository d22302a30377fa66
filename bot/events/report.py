"""/report: the funder report as a PDF document, for a period (this month, last year, … or two
typed dates) and a region. An organiser for one region gets that region (storage enforces it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import BaseHandler, CommandHandler

from bot.context import Context
from bot.events.forms import network_tz
from bot.ui import keyboards
from bot.ui.chat import PRIVATE, acting, send
from bot.ui.pickers import PeriodRegionPicker, period_code, typed_period
from storage.permissions import require_organiser
from storage.reports import figures as report_figures

PREFIX = "rp"


def _parse_code(code: str) -> tuple[dt.date, dt.date] | None:
    """The first day and the day after the last of a period in button data; None when forged."""
    try:
        first, after_last = (
            dt.datetime.strptime(part, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
            for part in code.split("-")
        )
    except ValueError:
        return None
    if after_last <= first or after_last - first > dt.timedelta(days=3700):
        return None
    return first, after_last


async def report_command(update: Update, context: Context) -> None:
    t = context.t
    require_organiser(acting(context))
    typed = typed_period(list(context.args or []), context)
    if typed is not None:
        await PICKER.ask_region(update, context, period_code(*typed))
        return
    await send(
        update,
        t("A report for funders (PDF) for which period? (Or type /report 1.1.2026 30.6.2026.)"),
        keyboards.column(PICKER.period_buttons(context)),
    )


async def _send_report(
    update: Update, context: Context, period: str, region_id: int | None
) -> None:
    days = _parse_code(period)
    if days is None:
        return
    t = context.t
    tz = network_tz(context)
    settings = context.services.settings
    figures = await report_figures.funder_figures(
        context.uow(),
        acting(context),
        start=dt.datetime.combine(days[0], dt.time(0), tzinfo=tz).astimezone(dt.UTC),
        end=dt.datetime.combine(days[1], dt.time(0), tzinfo=tz).astimezone(dt.UTC),
        region_id=region_id,
        now=context.now,
        timezone=settings.timezone,
    )
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    # Imported when used (matplotlib and WeasyPrint weigh tens of megabytes). Laying out the
    # PDF takes a moment of CPU: off the event loop.
    from templates.report import pdf

    document = await asyncio.to_thread(
        pdf.render,
        figures,
        language=t.language,
        network=settings.network_name,
        made_at=context.now,
    )
    caption = (
        t("Nothing to report for this period.")
        if figures.empty
        else t.plural(
            "The report for funders: {n} meeting, {people} participants.",
            "The report for funders: {n} meetings, {people} participants.",
            figures.meetings_held,
            people=figures.unique_participants,
        )
    )
    await chat.send_document(
        InputFile(io.BytesIO(document), filename=f"report-{period}.pdf"), caption=caption
    )


PICKER = PeriodRegionPicker(f"{PREFIX}:p", f"{PREFIX}:r", _send_report)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [CommandHandler("report", report_command, filters=PRIVATE), *PICKER.handlers()]
