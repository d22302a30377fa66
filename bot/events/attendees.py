"""/attendees: for an event an organiser manages, the counts by sector and region, the list of
members going and checked in, the participant list as a spreadsheet ("deltagerliste", CSV),
checking people in by tapping their names, and the check-in code with its QR code for the
venue.

Storage (storage.event_attendance) checks who may see the list and who may be checked in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.events.browse import bot_username
from bot.ui import callbacks, keyboards, limits
from bot.ui.chat import PRIVATE, acting, redraw, send
from bot.ui.spreadsheets import csv_safe
from bot.ui.texts import error_text, sector_label
from storage.errors import DomainError
from storage.events import attendance as event_attendance
from storage.events import rules as event_rules
from storage.events import views as events
from storage.events.attendance import AttendeeReport
from storage.models import RsvpStatus
from storage.permissions import require_organiser
from templates.formatting import format_short, format_when
from templates.i18n import Translator

CHECKIN_PAGE = 8
NAMES_SHOWN = 60
LIST_FILE_NAMES = {"da": "deltagerliste", "sv": "deltagarlista", "en": "participant-list"}


async def _answer_press(update: Update) -> str:
    """Answer a button press (its buttons stay: they are used again); return its data."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    return query.data or ""


def _event_id(data: str) -> int:
    return int(data.rsplit(":", 1)[-1])


# --- the report --------------------------------------------------------------------------------


async def attendees_command(update: Update, context: Context) -> None:
    t = context.t
    actor = acting(context)
    require_organiser(actor)
    found = await events.managed_events(context.uow(), actor, now=context.now)
    if not found:
        await send(update, t("There are no events yet. Create one with /newevent."))
        return
    buttons = [
        keyboards.button(
            f"{format_short(v.starts_at, tz=v.tz, language=t.language)} – {v.title}"[:60],
            f"oe:att:{v.id}",
        )
        for v in found[-20:]
    ]
    await send(update, t("Which event?"), keyboards.column(buttons))


def _counts_lines(
    t: Translator, title: str, groups: dict[str, dict[str, int]], label: Callable[[str], str]
) -> list[str]:
    going, checked = groups.get(RsvpStatus.GOING, {}), groups.get("checked_in", {})
    keys = list(dict.fromkeys([*going, *checked]))
    if not keys:
        return []
    lines = ["", title]
    lines += [f"  {label(k)}: {going.get(k, 0)} / {checked.get(k, 0)}" for k in keys]
    return lines


def report_text(t: Translator, report: AttendeeReport) -> str:
    """The report within Telegram's 4,096 characters: as many names as fit (up to
    ``NAMES_SHOWN``), the others counted ("… and 12 more: see the list")."""
    text = ""
    for shown in (NAMES_SHOWN, 40, 25, 15, 10, 5, 0):
        text = _report_text(t, report, shown)
        if limits.telegram_length(text) <= limits.TEXT_LIMIT:
            return text
    return limits.shorten(text, limits.TEXT_LIMIT)


def _report_text(t: Translator, report: AttendeeReport, shown: int) -> str:
    view = report.event
    lines = [
        t("Attendees: {title}", title=view.title),
        format_when(view.starts_at, view.ends_at, tz=view.tz, language=t.language),
    ]
    if view.cancelled:
        lines.append(t("❌ This event has been cancelled."))
    going = (
        t.plural(
            "Going: {going} of {n} seat",
            "Going: {going} of {n} seats",
            view.capacity,
            going=view.going,
        )
        if view.capacity
        else t("Going: {n}", n=view.going)
    )
    lines += [
        "",
        going,
        t("Maybe: {n}", n=view.maybe),
        t("Waiting list: {n}", n=view.waitlist),
        t("Checked in: {n}", n=report.checked_in),
    ]
    lines += _counts_lines(
        t, t("By sector (going / checked in):"), report.by_sector, lambda s: sector_label(t, s)
    )
    lines += _counts_lines(
        t, t("By region (going / checked in):"), report.by_region, lambda r: r or "–"
    )
    if report.attendees:
        lines += ["", t("Going and checked in:")]
        for number, a in enumerate(report.attendees[:shown], start=1):
            details = ", ".join(x for x in (a.organisation, sector_label(t, a.sector)) if x)
            mark = " ✓" if a.checked_in else ""
            walk_in = "" if a.status == RsvpStatus.GOING else " " + t("(came without answering)")
            lines.append(f"{number}. {a.name} ({details}){mark}{walk_in}")
        if len(report.attendees) > shown:
            more = len(report.attendees) - shown
            lines.append(
                t.plural("… and {n} more: see the list.", "… and {n} more: see the list.", more)
            )
    if report.anonymous:
        lines.append(
            t.plural(
                "(and {n} member who deleted their data)",
                "(and {n} members who deleted their data)",
                report.anonymous,
            )
        )
    if report.waitlist:
        lines += ["", t("Waiting list:")]
        lines += [f"{n}. {a.name}" for n, a in enumerate(report.waitlist[:shown], start=1)]
        if len(report.waitlist) > shown:
            more = len(report.waitlist) - shown
            lines.append(
                t.plural("… and {n} more: see the list.", "… and {n} more: see the list.", more)
            )
    return "\n".join(lines)


def _report_markup(t: Translator, event_id: int) -> InlineKeyboardMarkup:
    return keyboards.column(
        [
            keyboards.button(t("Participant list (CSV)"), f"oe:csv:{event_id}"),
            keyboards.button(t("Check people in"), f"oe:ck:{event_id}:0"),
            keyboards.button(t("Check-in code"), f"oe:qr:{event_id}"),
        ]
    )


async def attendees_pressed(update: Update, context: Context) -> None:
    event_id = _event_id(await _answer_press(update))
    report = await event_attendance.attendees(context.uow(), acting(context), event_id)
    await send(update, report_text(context.t, report), _report_markup(context.t, event_id))


# --- the participant list ----------------------------------------------------------------------


def participants_csv(report: AttendeeReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "organisation", "sector", "region", "status", "checked_in"])
    for a in report.attendees:
        writer.writerow(
            [
                csv_safe(a.name),
                csv_safe(a.organisation or ""),
                a.sector or "",
                a.region_name or "",
                a.status or "walk_in",
                "yes" if a.checked_in else "no",
            ]
        )
    # UTF-8 with BOM so that spreadsheet programs show æ, ø, å correctly.
    return out.getvalue().encode("utf-8-sig")


async def csv_pressed(update: Update, context: Context) -> None:
    event_id = _event_id(await _answer_press(update))
    t = context.t
    report = await event_attendance.attendees(context.uow(), acting(context), event_id)
    name = LIST_FILE_NAMES.get(t.language, "participant-list")
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(participants_csv(report)), filename=f"{name}.csv"),
        caption=t("Participant list: {title}", title=report.event.title),
    )


# --- check-in ----------------------------------------------------------------------------------


def _checkin_markup(
    t: Translator, report: AttendeeReport, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    people = report.attendees
    pages = max(1, -(-len(people) // CHECKIN_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = people[page * CHECKIN_PAGE : (page + 1) * CHECKIN_PAGE]
    event_id = report.event.id
    rows = [
        [
            keyboards.button(
                ("✅ " if a.checked_in else "⬜ ") + a.name[:50],
                f"oe:tog:{event_id}:{a.member_id}:{page}",
            )
        ]
        for a in shown
    ]
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(keyboards.button(t("‹ Previous"), f"oe:ck:{event_id}:{page - 1}"))
    if page < pages - 1:
        nav.append(keyboards.button(t("Next ›"), f"oe:ck:{event_id}:{page + 1}"))
    if nav:
        rows.append(nav)
    text = t(
        "Check-in: {title}\nTap a name to mark them present (tap again to undo). Checked in: {n}.",
        title=report.event.title,
        n=report.checked_in,
    )
    if not people:
        text = t("Nobody is going to “{title}” yet.", title=report.event.title)
    return text, InlineKeyboardMarkup(rows)


async def checkin_list_pressed(update: Update, context: Context) -> None:
    _, _, event_id, page = (await _answer_press(update)).split(":")
    report = await event_attendance.attendees(context.uow(), acting(context), int(event_id))
    text, markup = _checkin_markup(context.t, report, int(page))
    await send(update, text, markup)


async def toggle_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    _, _, event_id, member_id, page = (query.data or "").split(":")
    try:
        toggled = await event_attendance.toggle_checked_in(
            context.uow(), acting(context), int(event_id), int(member_id), now=context.now
        )
    except DomainError as error:
        await query.answer(error_text(context.t, error), show_alert=True)
        return
    t = context.t
    await query.answer(t("Checked in.") if toggled.present else t("Check-in undone."))
    text, markup = _checkin_markup(t, toggled.report, int(page))
    if query.message is not None:
        await redraw(update, text, markup)
    else:
        await send(update, text, markup)


def qr_png(data: str) -> bytes:
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="png", scale=10, border=4)
    return out.getvalue()


async def qr_pressed(update: Update, context: Context) -> None:
    """The check-in code, its link and a QR code of the link, to show at the venue."""
    view = await events.get(context.uow(), _event_id(await _answer_press(update)))
    t = context.t
    event_rules.require_manager(acting(context), view.region_id)
    link = event_rules.checkin_link(bot_username(context), view.checkin_code)
    caption = t(
        "Check-in code for “{title}”: {code}\nAt the venue, members scan this QR code or send "
        "the code to the bot.",
        title=view.title,
        code=view.checkin_code,
    )
    if link:
        caption += "\n" + link
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        InputFile(io.BytesIO(qr_png(link or view.checkin_code)), filename="checkin.png"),
        caption=caption,
    )


# --- registration ----------------------------------------------------------------------------


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("attendees", attendees_command, filters=PRIVATE),
        CallbackQueryHandler(attendees_pressed, pattern=callbacks.matching(r"^oe:att:\d+$")),
        CallbackQueryHandler(csv_pressed, pattern=callbacks.matching(r"^oe:csv:\d+$")),
        CallbackQueryHandler(checkin_list_pressed, pattern=callbacks.matching(r"^oe:ck:\d+:\d+$")),
        CallbackQueryHandler(toggle_pressed, pattern=callbacks.matching(r"^oe:tog:\d+:\d+:\d+$")),
        CallbackQueryHandler(qr_pressed, pattern=callbacks.matching(r"^oe:qr:\d+$")),
    ]
