"""/stats → "Connections": introductions, the sector matrix with the cross-sector share,
invitations and approvals for a period and region, as a message and a spreadsheet (CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from babel.numbers import format_percent
from telegram import InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.context import Context
from bot.people.common import tell_error
from bot.ui import callbacks, keyboards
from bot.ui.chat import acting, answer_press, send
from bot.ui.pickers import PeriodRegionPicker
from storage.errors import DomainError
from storage.models import IntroductionStatus
from storage.people import stats as people_stats
from storage.people.cards import sector_name
from storage.people.stats import SECTORS, ConnectionsReport
from storage.permissions import require_organiser
from templates.i18n import Translator

STATUSES = [
    IntroductionStatus.ACCEPTED,
    IntroductionStatus.DECLINED,
    IntroductionStatus.EXPIRED,
    IntroductionStatus.WITHDRAWN,
    IntroductionStatus.PENDING,
]
# Short sector codes for the matrix (the CSV has the full codes).
SHORT = {"civil_society": "C", "public": "P", "business": "B", "foundation": "F", "academia": "A"}


def _tz(context: Context) -> Any:
    return context.services.settings.tz


async def connections_command(update: Update, context: Context) -> None:
    """The "Connections" button of /stats: which period?"""
    await answer_press(update)
    t = context.t
    try:
        require_organiser(acting(context))
    except DomainError as error:
        await tell_error(update, context, error)
        return
    await send(
        update,
        t("Connection figures for which period?"),
        keyboards.column(PICKER.period_buttons(context)),
    )


def _bounds(context: Context, period: str) -> tuple[dt.datetime, dt.datetime]:
    first, after = (
        dt.datetime.strptime(p, "%Y%m%d").replace(tzinfo=_tz(context)) for p in period.split("-")
    )
    return first.astimezone(dt.UTC), after.astimezone(dt.UTC)


def report_text(t: Translator, report: ConnectionsReport, first: dt.date, last: dt.date) -> str:
    count = report.by_status.get
    lines = [
        t(
            "Connections {start} – {end}, {region}",
            start=first.strftime("%d.%m.%Y"),
            end=last.strftime("%d.%m.%Y"),
            region=report.region_name or t("all regions"),
        ),
        "",
        t("Introductions asked: {n}", n=report.asked),
        t("accepted: {n}", n=count(IntroductionStatus.ACCEPTED, 0)),
        t("declined: {n}", n=count(IntroductionStatus.DECLINED, 0)),
        t("expired: {n}", n=count(IntroductionStatus.EXPIRED, 0)),
        t(
            "still open or withdrawn: {n}",
            n=count(IntroductionStatus.PENDING, 0) + count(IntroductionStatus.WITHDRAWN, 0),
        ),
    ]
    share = report.cross_sector_share
    if share is not None:
        percent = format_percent(share, locale=t.language)
        lines += [
            "",
            t.plural(
                "Across sectors: {cross} of {n} accepted introduction ({share})",
                "Across sectors: {cross} of {n} accepted introductions ({share})",
                report.accepted_with_sectors,
                cross=report.cross_sector,
                share=percent,
            ),
            t("Accepted introductions by sector (asking → asked):"),
            "     " + " ".join(f"{SHORT[s]:>3}" for s in SECTORS),
        ]
        for a in SECTORS:
            cells = " ".join(f"{report.matrix.get((a, b), 0):>3}" for b in SECTORS)
            lines.append(f"  {SHORT[a]}  {cells}")
        lines.append(", ".join(f"{SHORT[s]} = {sector_name(t, s)}" for s in SECTORS))
    if len(report.by_region) > 1:
        lines += ["", t("By region (asked / accepted):")]
        lines += [
            f"  {region or '–'}: {sum(c.values())} / {c.get(IntroductionStatus.ACCEPTED, 0)}"
            for region, c in report.by_region.items()
        ]
    lines += [
        "",
        t(
            "Invitations made: {made}, used: {used}",
            made=report.invitations_made,
            used=report.invitations_used,
        ),
    ]
    if report.admissions:
        lines.append(
            t(
                "Sign-ups approved: {approved}, declined: {declined}, waiting: {waiting}",
                approved=report.admissions.get("approved", 0),
                declined=report.admissions.get("declined", 0),
                waiting=report.admissions.get("pending", 0),
            )
        )
    return "\n".join(lines)


def report_csv(report: ConnectionsReport) -> bytes:
    """One table: a row per measure (region "" is the whole selection), then the matrix."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["measure", "region", "value"])
    region = report.region_name or "all"
    writer.writerow(["introductions_asked", region, report.asked])
    for status in STATUSES:
        writer.writerow([f"introductions_{status}", region, report.by_status.get(status, 0)])
    for name, counts in report.by_region.items():
        writer.writerow(["introductions_asked", name, sum(counts.values())])
        for status in STATUSES:
            writer.writerow([f"introductions_{status}", name, counts.get(status, 0)])
    writer.writerow(["accepted_cross_sector", region, report.cross_sector])
    writer.writerow(["accepted_with_sectors", region, report.accepted_with_sectors])
    share = report.cross_sector_share
    writer.writerow(["cross_sector_share", region, "" if share is None else f"{share:.3f}"])
    writer.writerow(["invitations_made", region, report.invitations_made])
    writer.writerow(["invitations_used", region, report.invitations_used])
    for admission in ("approved", "declined", "pending"):
        writer.writerow([f"admissions_{admission}", region, report.admissions.get(admission, 0)])
    writer.writerow([])
    writer.writerow(["asking_sector \\ asked_sector", *SECTORS])
    for a in SECTORS:
        writer.writerow([a, *(report.matrix.get((a, b), 0) for b in SECTORS)])
    return out.getvalue().encode("utf-8-sig")


async def _report(update: Update, context: Context, period: str, region_id: int | None) -> None:
    t = context.t
    try:
        start, end = _bounds(context, period)
    except ValueError:  # a forged period such as 20261399
        await send(update, t("Please choose one of the buttons."))
        return
    try:
        report = await people_stats.connections(
            context.uow(), acting(context), start=start, end=end, region_id=region_id
        )
    except DomainError as error:
        await tell_error(update, context, error)
        return
    tz = _tz(context)
    first = start.astimezone(tz).date()
    last = (end.astimezone(tz) - dt.timedelta(days=1)).date()
    await send(update, report_text(t, report, first, last))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(report_csv(report)), filename=f"connections-{period}.csv"),
        caption=t("The figures as a spreadsheet (CSV)."),
    )


PICKER = PeriodRegionPicker("pp:stp", "pp:str", _report)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CallbackQueryHandler(connections_command, pattern=callbacks.matching(r"^pp:st$")),
        *PICKER.handlers(),
    ]
