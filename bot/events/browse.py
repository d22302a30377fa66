"""Members and events: /events (their region first, all regions a button away, paged), an
event's card (bot.events.cards) with Going / Maybe / Can't go and Add to calendar, /myevents,
deep links (``/start event_<id>``, ``/start checkin_<code>``) and check-in by code.

The card is edited in place after an answer; the answer itself and everything it owes people
(invites, a promoted member's notice) happen in storage.events.rsvps.respond.
"""

from __future__ import annotations

import io
import re

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import Context
from bot.events.cards import (
    ANSWER_CODES,
    answer_line,
    answer_toast,
    render_card,
    seats_line,
    send_card,
)
from bot.ui import callbacks, keyboards, limits
from bot.ui.chat import PRIVATE, redraw
from bot.ui.guards import members_only
from bot.ui.texts import error_text
from storage.errors import DomainError, NotFound
from storage.events import attendance as event_attendance
from storage.events import rsvps as event_rsvps
from storage.events import rules as event_rules
from storage.events import views as events
from templates import calendar as invites
from templates.formatting import format_short
from templates.i18n import Translator

AFTER_SIGNUP = "start_payload"  # user_data: a deep link followed before signing up
# Six letters and digits with at least one of each (a six-digit e-mail code is not one).
CHECKIN_TEXT = (
    filters.Regex(
        re.compile(r"^\s*(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9]{3}[\s-]?[A-Za-z0-9]{3}\s*$")
    )
    & PRIVATE
)
TITLE_IN_BUTTON = 48


def bot_username(context: Context) -> str | None:
    try:
        return context.bot.username
    except RuntimeError:  # the bot has not been initialised (never in a running application)
        return None


# --- handlers ---------------------------------------------------------------------------------


def _list_text(
    t: Translator, page: events.EventPage, *, all_regions: bool, region: str | None
) -> str:
    if not page.events:
        if all_regions:
            return t("There are no upcoming events at the moment.")
        return t("There are no upcoming events in your region at the moment.")
    first = page.page * events.PAGE_SIZE + 1
    if all_regions:
        heading = t("Upcoming events in all regions")
    else:
        heading = t("Upcoming events in {region}", region=region or t("your region"))
    last = first + len(page.events) - 1
    if page.pages > 1:  # where this page is in the list; nothing to say when it is all of it
        heading += (
            f" ({first}–{last} / {page.total})" if last > first else f" ({first} / {page.total})"
        )
    lines = [heading, ""]
    for number, view in enumerate(page.events, start=first):
        lines.append(
            f"{number}. {format_short(view.starts_at, tz=view.tz, language=t.language)}"
            f" – {view.title}"
        )
        details = [view.location or view.online_url or ""]
        if not all_regions or view.region_name:
            details.append(view.region_name or t("All regions"))
        seats = seats_line(t, view)
        if seats:
            details.append(seats)
        lines.append("   " + " · ".join(d for d in details if d))
    return "\n".join(lines)


def _list_markup(
    t: Translator, page: events.EventPage, *, all_regions: bool
) -> InlineKeyboardMarkup:
    scope = "a" if all_regions else "r"
    first = page.page * events.PAGE_SIZE + 1
    rows = [
        [keyboards.button(f"{number}. {_short_title(view.title)}", f"ev:show:{view.id}")]
        for number, view in enumerate(page.events, start=first)
    ]
    nav = []
    if page.page > 0:
        nav.append(keyboards.button(t("‹ Previous"), f"ev:list:{scope}:{page.page - 1}"))
    if page.page < page.pages - 1:
        nav.append(keyboards.button(t("Next ›"), f"ev:list:{scope}:{page.page + 1}"))
    if nav:
        rows.append(nav)
    if all_regions:
        rows.append([keyboards.button(t("Only my region"), "ev:list:r:0")])
    else:
        rows.append([keyboards.button(t("All regions"), "ev:list:a:0")])
    return InlineKeyboardMarkup(rows)


def _short_title(title: str) -> str:
    return keyboards.label(title, TITLE_IN_BUTTON)


async def _render_list(
    update: Update, context: Context, *, all_regions: bool, page_number: int, edit: bool
) -> None:
    member = context.member
    assert member is not None
    page = await events.list_upcoming(
        context.reader(),
        region_id=member.region_id,
        all_regions=all_regions,
        now=context.now,
        page=page_number,
    )
    text = _list_text(context.t, page, all_regions=all_regions, region=member.region_name)
    markup = _list_markup(context.t, page, all_regions=all_regions)
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        await redraw(update, text, markup)
        return
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


async def events_command(update: Update, context: Context) -> None:
    """/events: upcoming events of the member's region (and the whole network's)."""
    if await members_only(update, context) is None:
        return
    await _render_list(update, context, all_regions=False, page_number=0, edit=False)


async def list_page(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    if await members_only(update, context) is None:
        return
    await query.answer()
    _, _, scope, page = (query.data or "").split(":")
    await _render_list(update, context, all_regions=scope == "a", page_number=int(page), edit=True)


async def open_event(update: Update, context: Context, event_id: int) -> None:
    """Show an event's card (also for deep links); a friendly word for unknown or cancelled
    ones."""
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    member_id = context.member.id if context.member else None
    try:
        card = await events.get_card(context.reader(), event_id, member_id=member_id)
    except NotFound:
        await chat.send_message(
            t("Sorry, I cannot find that event. Send /events to see the upcoming ones.")
        )
        return
    view = card.event
    if view.cancelled and not event_rules.may_manage(context.actor, view.region_id):
        text = t("Sorry, “{title}” has been cancelled.", title=view.title)
        if view.cancel_message:
            text += "\n\n" + t(
                "Message from the organisers: {message}", message=view.cancel_message
            )
        await chat.send_message(text + "\n\n" + t("Send /events to see the upcoming ones."))
        return
    await send_card(update, context, card)


async def show_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    if await members_only(update, context) is None:
        return
    await query.answer()
    await open_event(update, context, int((query.data or "").rsplit(":", 1)[-1]))


async def show_all_pressed(update: Update, context: Context) -> None:
    """ "Show all": the whole description of an event whose card had to cut it, in as many
    messages as Telegram's limit needs."""
    query = update.callback_query
    assert query is not None
    member = await members_only(update, context)
    if member is None:
        return
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    event_id = int((query.data or "").rsplit(":", 1)[-1])
    try:
        card = await events.get_card(context.uow(), event_id, member_id=member.id)
    except NotFound:
        await chat.send_message(context.t("Sorry, I cannot find that event."))
        return
    for piece in limits.pieces(f"📅 {card.event.title}\n\n{card.event.description}"):
        await chat.send_message(piece)


async def rsvp_pressed(update: Update, context: Context) -> None:
    """Going / Maybe / Can't go. The card is redrawn only when the answer changed."""
    query = update.callback_query
    assert query is not None
    member = await members_only(update, context)
    if member is None:
        return
    _, _, event_id, code = (query.data or "").split(":")
    t = context.t
    try:
        outcome = await event_rsvps.respond(
            context.uow(),
            member_id=member.id,
            event_id=int(event_id),
            answer=ANSWER_CODES[code],
            now=context.now,
            bot_username=bot_username(context),
        )
    except DomainError as error:
        await query.answer()
        chat = update.effective_chat
        assert chat is not None
        await chat.send_message(error_text(t, error))
        return
    await query.answer(answer_toast(t, outcome))
    if outcome.changed and query.message is not None:
        text, markup = render_card(context, outcome.card)
        await redraw(update, text, reply_markup=markup)


async def calendar_pressed(update: Update, context: Context) -> None:
    """Add to calendar: the event as an .ics file in the chat."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    view = await events.get(context.uow(), int((query.data or "").rsplit(":", 1)[-1]))
    if view.cancelled:  # a button on an older copy of the card
        await chat.send_message(
            context.t(
                "“{title}” has been cancelled, so there is nothing to add to your calendar.",
                title=view.title,
            )
        )
        return
    data = invites.event_file(
        view,
        url=event_rules.event_link(bot_username(context), view.id),
        organizer_email=context.services.settings.mail_from_address,
        now=context.now,
    )
    await chat.send_document(
        InputFile(io.BytesIO(data), filename=invites.file_name(view)),
        caption=context.t("Open the file to add “{title}” to your calendar.", title=view.title),
    )


async def my_events_command(update: Update, context: Context) -> None:
    """/myevents: the member's upcoming events and their places on waiting lists."""
    member = await members_only(update, context)
    if member is None:
        return
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    cards = await events.my_events(context.uow(), member.id, now=context.now)
    if not cards:
        await chat.send_message(
            t("You have not answered any upcoming event yet. Send /events to see them."),
        )
        return
    lines = [t("Your upcoming events:"), ""]
    buttons = []
    for number, card in enumerate(cards, start=1):
        view = card.event
        lines.append(
            f"{number}. {format_short(view.starts_at, tz=view.tz, language=t.language)} – "
            f"{view.title}"
        )
        lines.append("   " + (answer_line(t, card.answer) or ""))
        buttons.append(
            keyboards.button(f"{number}. {_short_title(view.title)}", f"ev:show:{view.id}")
        )
    await chat.send_message("\n".join(lines), reply_markup=keyboards.column(buttons))


async def check_in(update: Update, context: Context, code: str) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    member = await members_only(update, context)
    if member is None:
        return
    try:
        outcome = await event_attendance.check_in_by_code(
            context.uow(), member.id, code, now=context.now
        )
    except DomainError as error:
        await chat.send_message(error_text(t, error))
        return
    if outcome.already:
        await chat.send_message(
            t("You were already checked in at “{title}”.", title=outcome.event.title)
        )
    else:
        await chat.send_message(
            t("Welcome to “{title}”! You are checked in.", title=outcome.event.title)
        )


async def code_typed(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    code = event_rules.normalise_checkin_code(message.text or "")
    if code is None:
        # Six letters and digits, but not a check-in code (e.g. a word): not ours.
        from bot.members.menu import fallback_text

        await fallback_text(update, context)
        return
    await check_in(update, context, code)


# --- deep links -----------------------------------------------------------------------------

EVENT_LINK = re.compile(r"^event_([0-9]{1,10})$")
CHECKIN_LINK = re.compile(r"^checkin_([A-Za-z0-9]{6})$")


def is_start_payload(payload: str) -> bool:
    return bool(EVENT_LINK.match(payload) or CHECKIN_LINK.match(payload))


async def handle_start_payload(update: Update, context: Context, payload: str) -> bool:
    """``/start event_<id>`` opens the event, ``/start checkin_<code>`` checks the member in.
    False if ``payload`` is neither (the caller shows its usual reply)."""
    if match := EVENT_LINK.match(payload):
        await open_event(update, context, int(match.group(1)))
        return True
    if match := CHECKIN_LINK.match(payload):
        await check_in(update, context, match.group(1))
        return True
    return False


def remember_for_after_signup(context: Context, payload: str) -> None:
    """Someone followed an event's link before signing up: show it to them afterwards."""
    user_data = context.user_data
    assert user_data is not None
    if is_start_payload(payload):
        user_data[AFTER_SIGNUP] = payload
    else:
        user_data.pop(AFTER_SIGNUP, None)


async def after_signup(update: Update, context: Context) -> None:
    """Right after sign-up: open the event whose link brought the member here, if any."""
    user_data = context.user_data
    payload = user_data.pop(AFTER_SIGNUP, None) if user_data is not None else None
    if isinstance(payload, str):
        await handle_start_payload(update, context, payload)


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        CommandHandler("events", events_command, filters=PRIVATE),
        CommandHandler("myevents", my_events_command, filters=PRIVATE),
        CallbackQueryHandler(list_page, pattern=callbacks.matching(r"^ev:list:[ra]:\d{1,4}$")),
        CallbackQueryHandler(show_pressed, pattern=callbacks.matching(r"^ev:show:\d+$")),
        CallbackQueryHandler(show_all_pressed, pattern=callbacks.matching(r"^ev:full:\d{1,12}$")),
        CallbackQueryHandler(rsvp_pressed, pattern=callbacks.matching(r"^ev:rsvp:\d+:[gmn]$")),
        CallbackQueryHandler(calendar_pressed, pattern=callbacks.matching(r"^ev:ics:\d+$")),
        MessageHandler(CHECKIN_TEXT, code_typed),
    ]
