"""/report: the funder report as a PDF document, for a period (this month, last year, … or two
typed dates) and a region. An organiser for one region gets that region (storage enforces it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.events.forms import network_tz
from bot.events.stats import PERIOD_LABELS, typed_period
from bot.ui import keyboards
from bot.ui.chat import PRIVATE, acting, answer_press, send
from storage import regions
from storage.events import rules as event_rules
from storage.permissions import require_organiser
from storage.reports import figures as report_figures

PREFIX = "rp"


def _code(start: dt.date, end: dt.date) -> str:
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


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
        await _ask_region(update, context, _code(*typed))
        return
    today = context.now.astimezone(network_tz(context)).date()
    buttons = [
        keyboards.button(
            t(label), f"{PREFIX}:p:{_code(*event_rules.period_bounds(name, today=today))}"
        )
        for name, label in PERIOD_LABELS.items()
    ]
    await send(
        update,
        t("A report for funders (PDF) for which period? (Or type /report 1.1.2026 30.6.2026.)"),
        keyboards.column(buttons),
    )


async def _ask_region(update: Update, context: Context, period: str) -> None:
    actor = acting(context)
    if actor.organiser_region_id is not None and not actor.is_admin:
        await _send_report(update, context, period, actor.organiser_region_id)
        return
    t = context.t
    available = await regions.list_active(context.uow())
    buttons = [keyboards.button(t("All regions"), f"{PREFIX}:r:{period}:all")]
    buttons += [keyboards.button(r.name, f"{PREFIX}:r:{period}:{r.id}") for r in available]
    await send(
        update,
        t("For which region?"),
        InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)]),
    )


async def period_chosen(update: Update, context: Context) -> None:
    data = await answer_press(update, keep_buttons=False)
    require_organiser(acting(context))
    period = data.removeprefix(f"{PREFIX}:p:")
    if _parse_code(period) is not None:
        await _ask_region(update, context, period)


async def region_chosen(update: Update, context: Context) -> None:
    data = await answer_press(update, keep_buttons=False)
    _, _, period, region = data.split(":")
    if _parse_code(period) is not None:
        await _send_report(update, context, period, None if region == "all" else int(region))


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


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("report", report_command, filters=PRIVATE),
        CallbackQueryHandler(period_chosen, pattern=rf"^{PREFIX}:p:\d{{8}}-\d{{8}}$"),
        CallbackQueryHandler(region_chosen, pattern=rf"^{PREFIX}:r:\d{{8}}-\d{{8}}:(\d+|all)$"),
    ]
