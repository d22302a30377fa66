"""Timebank statistics for organisers: hours exchanged per month, region and sector, and active
members, as a message and as a spreadsheet (CSV)."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.timebank.common import csv_bytes, csv_hours, send_csv
from bot.ui import keyboards
from bot.ui.chat import acting, answer_press, send
from bot.ui.guards import organisers_only
from bot.ui.texts import sector_label
from storage.timebank import stats as timebank_stats
from storage.timebank.stats import Stats
from templates.formatting import hours_text
from templates.i18n import Translator


def stats_text(t: Translator, report: Stats) -> str:
    lines = [
        t(
            "Timebank statistics, {first} to {last}",
            first=report.first_month,
            last=report.last_month,
        )
    ]
    if report.region_limited:
        lines.append(t("Help given in {region}", region=report.region_limited))
    # Worked out first: Babel misreads a plural call with ``t`` among its arguments.
    total = hours_text(t, report.total_minutes)
    lines += [
        "",
        t.plural(
            "Hours exchanged: {hours} in {n} exchange",
            "Hours exchanged: {hours} in {n} exchanges",
            report.total_exchanges,
            hours=total,
        ),
        t("Active members: {count}", count=report.active_members),
        "",
        t("Per month:"),
    ]
    lines += [
        "  "
        + t(
            "{month}: {hours} ({exchanges}, {members})",
            month=month,
            hours=hours_text(t, minutes),
            exchanges=t.plural("{n} exchange", "{n} exchanges", exchanges),
            members=t.plural("{n} member", "{n} members", active),
        )
        for month, minutes, exchanges, active in report.by_month
    ]
    lines += ["", t("Per region:")]
    lines += [
        f"  {region or '–'}: {hours_text(t, minutes)}" for region, minutes in report.by_region
    ]
    lines += ["", t("Per sector:")]
    lines += [
        f"  {sector_label(t, sector)}: {hours_text(t, minutes)}"
        for sector, minutes in report.by_sector
    ]
    lines += [
        "",
        t(
            "Counted: confirmed exchanges that were not reversed (administrators' corrections "
            "are not exchanges), by the region and sector of whoever gave the help. Active "
            "members gave or received help."
        ),
    ]
    return "\n".join(lines)


def stats_csv(report: Stats) -> bytes:
    rows: list[list[object]] = [
        ["month", "region", "sector", "exchanges", "hours", "active_members"]
    ]
    rows += [
        [r.month, r.region, r.sector, r.exchanges, csv_hours(r.minutes), r.active_members]
        for r in report.rows
    ]
    return csv_bytes(rows)


async def _stats(context: Context) -> Stats:
    return await timebank_stats.stats(
        context.uow(), acting(context), tz=context.services.settings.tz, now=context.now
    )


@organisers_only
async def stats_pressed(update: Update, context: Context) -> None:
    t = context.t
    await answer_press(update)
    report = await _stats(context)
    await send(
        update,
        stats_text(t, report),
        keyboards.column([keyboards.button(t("As a spreadsheet (CSV)"), "tb:sc")]),
    )


@organisers_only
async def stats_csv_pressed(update: Update, context: Context) -> None:
    t = context.t
    await answer_press(update)
    report = await _stats(context)
    await send_csv(
        update,
        stats_csv(report),
        filename="timebank-statistics.csv",
        caption=t("Timebank statistics, as a spreadsheet (CSV)."),
    )
