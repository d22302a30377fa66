"""/attendees: for an event an organiser manages, the counts by sector and region, the list of
members going and checked in, the participant list as a spreadsheet ("deltagerliste", CSV),
checking people in by tapping their names (walk-ins: bot.events.walk_ins), and the check-in
code with its QR code for the venue.

Storage (storage.events.attendance) checks who may see the list and who may be checked in.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.events.browse import bot_username
from bot.events.cards import ANSWER_LABELS
from bot.events.followup import average_text
from bot.ui import callbacks, keyboards, limits
from bot.ui.chat import PRIVATE, acting, redraw, send
from bot.ui.spreadsheets import csv_file, csv_safe
from bot.ui.texts import error_text, sector_label
from storage.errors import DomainError
from storage.events import attendance as event_attendance
from storage.events import rules as event_rules
from storage.events import views as events
from storage.events.attendance import AttendeeReport
from storage.events.views import EventView
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
            keyboards.label(
                (t("❌ Cancelled:") + " " if v.cancelled else "")
                + f"{format_short(v.starts_at, tz=v.tz, language=t.language)} – {v.title}",
                60,
            ),
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
    lines += feedback_lines(t, report)
    return "\n".join(lines)


def feedback_lines(t: Translator, report: AttendeeReport) -> list[str]:
    """When the follow-up went, and the feedback: count, average, distribution, comments
    (never with names)."""
    lines: list[str] = []
    if report.followup_sent_at is not None:
        when = format_short(report.followup_sent_at, tz=report.event.tz, language=t.language)
        lines += ["", t("Follow-up sent: {when}", when=when)]
    summary = report.feedback
    if summary.count and summary.average is not None:
        average = average_text(t, summary.average)
        lines += [
            "",
            t.plural(
                "Feedback: {average} of 5 ({n} answer)",
                "Feedback: {average} of 5 ({n} answers)",
                summary.count,
                average=average,
            ),
            "  " + "  ".join(f"{r}★ {n}" for r, n in sorted(summary.distribution.items())),
        ]
        if summary.comments:
            lines.append(t("Comments:"))
            lines += [f"  “{c}”" for c in summary.comments[:20]]
    return lines


def _report_markup(t: Translator, view: EventView, *, started: bool) -> InlineKeyboardMarkup:
    buttons = [keyboards.button(t("Participant list (CSV)"), f"oe:csv:{view.id}")]
    if not view.cancelled:  # nobody checks in at a cancelled event
        buttons += [
            keyboards.button(t("Check people in"), f"oe:ck:{view.id}:0"),
            keyboards.button(t("Check-in code"), f"oe:qr:{view.id}"),
        ]
        if started:
            buttons.append(keyboards.button(t("Send follow-up now"), f"oe:fu:{view.id}"))
    return keyboards.column(buttons)


async def _refuse_if_cancelled(update: Update, context: Context, view: EventView) -> bool:
    """A check-in button on an older message of a cancelled event: say so (True)."""
    if not view.cancelled:
        return False
    await send(
        update,
        context.t("“{title}” has been cancelled: there is no check-in for it.", title=view.title),
    )
    return True


async def attendees_pressed(update: Update, context: Context) -> None:
    event_id = _event_id(await _answer_press(update))
    report = await event_attendance.attendees(context.uow(), acting(context), event_id)
    started = report.event.starts_at <= context.now and not report.event.cancelled
    await send(
        update,
        report_text(context.t, report),
        _report_markup(context.t, report.event, started=started),
    )


# --- the participant list ----------------------------------------------------------------------


def participants_csv(t: Translator, report: AttendeeReport) -> bytes:
    """The participant list ("deltagerliste") in the organiser's language."""
    header = [t("Name"), t("Organisation"), t("Sector"), t("Region"), t("Answer"), t("Checked in")]
    rows = [
        [
            csv_safe(a.name),
            csv_safe(a.organisation or ""),
            sector_label(t, a.sector) if a.sector else "",
            a.region_name or "",
            t(ANSWER_LABELS[RsvpStatus.GOING])
            if a.status == RsvpStatus.GOING
            else t("Came without answering"),
            t("Yes") if a.checked_in else t("No"),
        ]
        for a in report.attendees
    ]
    return csv_file(t.language, header, rows)


async def csv_pressed(update: Update, context: Context) -> None:
    event_id = _event_id(await _answer_press(update))
    t = context.t
    report = await event_attendance.attendees(context.uow(), acting(context), event_id)
    name = LIST_FILE_NAMES.get(t.language, "participant-list")
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(participants_csv(t, report)), filename=f"{name}.csv"),
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
    # Someone who did not answer: found by name or @username (bot.events.walk_ins).
    rows.append([keyboards.button(t("➕ Check in someone not on the list"), f"oe:wf:{event_id}")])
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
    if await _refuse_if_cancelled(update, context, report.event):
        return
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
    if await _refuse_if_cancelled(update, context, view):
        return
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
