"""/stats: participation figures for funders, for a period (this month, last year, … or two
typed dates) and a region: events held, members registered and attended, by sector and per
event, as a message and a spreadsheet (CSV). The timebank's hours report is a button away.

Storage (storage.event_stats) limits an organiser for one region to that region.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.events.followup import average_text
from bot.events.forms import network_tz
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, acting, answer_press, send
from bot.ui.guards import organisers_only
from bot.ui.spreadsheets import csv_file, csv_safe
from bot.ui.texts import sector_label
from storage import regions
from storage.errors import InvalidInput
from storage.events import rules as event_rules
from storage.events import stats as event_stats
from storage.events.dates import Rejected, parse_moment
from storage.events.stats import StatsReport
from templates.formatting import format_short
from templates.i18n import N_, Translator

PERIOD_LABELS = {
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
    "this_year": N_("This year"),
    "last_year": N_("Last year"),
    "last_12_months": N_("The last 12 months"),
}


def _period_code(start: dt.date, end: dt.date) -> str:
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def _today(context: Context) -> dt.date:
    return context.now.astimezone(network_tz(context)).date()


def typed_period(args: list[str], context: Context) -> tuple[dt.date, dt.date] | None:
    """``/stats 1.1.2026 30.6.2026``: a period typed as two dates (the last one included)."""
    if len(args) != 2:
        return None
    tz = network_tz(context)
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
    return event_rules.checked_period(days[0], days[1], today=_today(context))


@organisers_only
async def stats_command(update: Update, context: Context) -> None:
    t = context.t
    typed = typed_period(list(context.args or []), context)
    if typed is not None:
        await _ask_stats_region(update, context, _period_code(*typed))
        return
    today = context.now.astimezone(network_tz(context)).date()
    buttons = [
        keyboards.button(
            t(label), f"st:p:{_period_code(*event_rules.period_bounds(name, today=today))}"
        )
        for name, label in PERIOD_LABELS.items()
    ]
    # The timebank's figures (hours exchanged per month, region and sector) live beside these.
    buttons.append(keyboards.button(t("Timebank: hours exchanged"), "tb:st"))
    # Introductions, invitations and approvals (bot.people.stats).
    buttons.append(keyboards.button(t("Connections: introductions and invitations"), "pp:st"))
    await send(
        update,
        t("Participation figures for which period? (Or type /stats 1.1.2026 30.6.2026.)"),
        keyboards.column(buttons),
    )


async def _ask_stats_region(update: Update, context: Context, period: str) -> None:
    actor = acting(context)
    if actor.organiser_region_id is not None and not actor.is_admin:
        await _stats_report(update, context, period, actor.organiser_region_id)
        return
    t = context.t
    available = await regions.list_active(context.uow())
    buttons = [keyboards.button(t("All regions"), f"st:r:{period}:all")]
    buttons += [keyboards.button(r.name, f"st:r:{period}:{r.id}") for r in available]
    await send(
        update,
        t("For which region?"),
        InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)]),
    )


@organisers_only
async def stats_period_chosen(update: Update, context: Context) -> None:
    data = await answer_press(update, keep_buttons=False)
    await _ask_stats_region(update, context, data.removeprefix("st:p:"))


@organisers_only
async def stats_region_chosen(update: Update, context: Context) -> None:
    data = await answer_press(update, keep_buttons=False)
    _, _, period, region = data.split(":")
    await _stats_report(update, context, period, None if region == "all" else int(region))


def stats_text(t: Translator, report: StatsReport, tz: ZoneInfo) -> str:
    last_day = (report.end.astimezone(tz) - dt.timedelta(days=1)).date()
    first_day = report.start.astimezone(tz).date()
    lines = [
        t(
            "Participation {start} – {end}, {region}",
            start=first_day.strftime("%d.%m.%Y"),
            end=last_day.strftime("%d.%m.%Y"),
            region=report.region_name or t("all regions"),
        ),
        "",
        t("Events held: {n}", n=len(report.events)),
        t("Registered (going): {n}", n=report.registered),
        t.plural(
            "Attended (checked in): {attended} ({n} person)",
            "Attended (checked in): {attended} ({n} different people)",
            report.unique_attendees,
            attended=report.attended,
        ),
    ]
    if report.feedback.count and report.feedback.average is not None:
        average = average_text(t, report.feedback.average)
        lines.append(
            t.plural(
                "Feedback: {average} of 5 ({n} answer)",
                "Feedback: {average} of 5 ({n} answers)",
                report.feedback.count,
                average=average,
            )
        )
    if report.attended_by_sector:
        lines += ["", t("Attendance by sector:")]
        lines += [f"  {sector_label(t, s)}: {n}" for s, n in report.attended_by_sector.items()]
    if report.events:
        lines += ["", t("Per event (registered / attended):")]
        lines += [
            f"  {format_short(e.starts_at, tz=tz, language=t.language)} – {e.title}: "
            f"{e.registered} / {e.attended}"
            + (f" ({e.feedback.average:.1f}★)" if e.feedback.average is not None else "")
            for e in report.events
        ]
    return "\n".join(lines)


def stats_csv(t: Translator, report: StatsReport, tz: ZoneInfo) -> bytes:
    """One row per event, then the totals (the label in the event column, no count there)."""
    sectors = list(dict.fromkeys(s for e in report.events for s in e.attended_by_sector))
    header = [t("Date"), t("Event"), t("Region"), t("Registered"), t("Attended")]
    header += [t("Attended: {sector}", sector=sector_label(t, s)) for s in sectors]
    rows: list[list[object]] = [
        [
            e.starts_at.astimezone(tz).date().isoformat(),
            csv_safe(e.title),
            e.region_name or "",
            e.registered,
            e.attended,
            *(e.attended_by_sector.get(s, 0) for s in sectors),
        ]
        for e in report.events
    ]
    rows.append(
        [
            "",
            t("Total"),
            report.region_name or t("All regions"),
            report.registered,
            report.attended,
            *(report.attended_by_sector.get(s, 0) for s in sectors),
        ]
    )
    return csv_file(t.language, header, rows)


def stats_file_name(first: dt.date, last: dt.date) -> str:
    """Named by the first and the last day, as the message says them (the last one included)."""
    return f"stats-{first:%Y%m%d}-{last:%Y%m%d}.csv"


async def _stats_report(
    update: Update, context: Context, period: str, region_id: int | None
) -> None:
    t = context.t
    tz = network_tz(context)
    first, after_last = event_rules.period_from_code(period, today=_today(context))
    report = await event_stats.stats(
        context.uow(),
        acting(context),
        start=dt.datetime.combine(first, dt.time(0), tzinfo=tz).astimezone(dt.UTC),
        end=dt.datetime.combine(after_last, dt.time(0), tzinfo=tz).astimezone(dt.UTC),
        region_id=region_id,
        now=context.now,
    )
    await send(update, stats_text(t, report, tz))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(
            io.BytesIO(stats_csv(t, report, tz)),
            filename=stats_file_name(first, after_last - dt.timedelta(days=1)),
        ),
        caption=t("The figures as a spreadsheet (CSV)."),
    )


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("stats", stats_command, filters=PRIVATE),
        CallbackQueryHandler(
            stats_period_chosen, pattern=callbacks.matching(r"^st:p:\d{8}-\d{8}$")
        ),
        CallbackQueryHandler(
            stats_region_chosen, pattern=callbacks.matching(r"^st:r:\d{8}-\d{8}:(\d+|all)$")
        ),
    ]
