"""Members and events: /events (their region first, all regions a button away, paged), an
event's card with Going / Maybe / Can't go and Add to calendar, /myevents, deep links
(``/start event_<id>``, ``/start checkin_<code>``) and check-in by code.

The card is edited in place after an answer; the answer itself and everything it owes people
(invites, a promoted member's notice) happen in storage.event_rsvps.respond.
"""

from __future__ import annotations

import io
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import Context
from bot.people.participants import card_buttons as participant_buttons
from bot.ui import callbacks, keyboards, limits
from bot.ui.chat import PRIVATE, redraw
from bot.ui.guards import members_only
from bot.ui.texts import error_text
from storage.errors import DomainError, NotFound
from storage.events import attendance as event_attendance
from storage.events import rsvps as event_rsvps
from storage.events import rules as event_rules
from storage.events import views as events
from storage.events.rsvps import RsvpOutcome
from storage.events.views import Answer, EventCard, EventView
from storage.models import RsvpStatus
from templates import calendar as invites
from templates.formatting import format_moment, format_short, format_when
from templates.i18n import N_, Translator

AFTER_SIGNUP = "start_payload"  # user_data: a deep link followed before signing up
ANSWER_CODES = {"g": RsvpStatus.GOING, "m": RsvpStatus.MAYBE, "n": RsvpStatus.NOT_GOING}
ANSWER_LABELS = {
    RsvpStatus.GOING: N_("Going"),
    RsvpStatus.MAYBE: N_("Maybe"),
    RsvpStatus.NOT_GOING: N_("Can't go"),
}
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


# --- rendering --------------------------------------------------------------------------------


def place_lines(t: Translator, view: EventView) -> list[str]:
    lines = []
    if view.location:
        lines.append(t("Place: {place}", place=view.location))
    if view.online_url:
        lines.append(t("Online: {link}", link=view.online_url))
    return lines


def holds_place(answer: Answer | None) -> bool:
    """Whether the member already has a seat or a place on the waiting list."""
    return answer is not None and answer.status in (RsvpStatus.GOING, RsvpStatus.WAITLIST)


def seats_line(
    t: Translator, view: EventView, answer: Answer | None = None, *, card: bool = False
) -> str | None:
    """Seats left, or how full the event is. Only someone without a seat or a place in the
    queue is invited to join the waiting list (the one who took the last seat is not)."""
    left = view.seats_left
    if left is None:
        return None
    if view.waitlist:
        return t.plural(
            "Full: {n} on the waiting list",
            "Full: {n} on the waiting list",
            view.waitlist,
        )
    if left == 0:
        if not card or holds_place(answer):
            return t("Full")
        return t("Full: press Join the waiting list to get the next free seat")
    return t.plural("{n} seat left", "{n} seats left", left)


def answer_line(t: Translator, answer: Answer | None) -> str | None:
    if answer is None:
        return None
    if answer.status == RsvpStatus.GOING:
        line = t("✅ You are going.")
    elif answer.status == RsvpStatus.MAYBE:
        line = t("🤔 You answered maybe.")
    elif answer.status == RsvpStatus.WAITLIST:
        line = t(
            "⏳ The event is full: you are number {position} on the waiting list.",
            position=answer.position or 1,
        )
    else:
        line = t("🚫 You can't go.")
    if answer.checked_in:
        line += "\n" + t("You have checked in.")
    return line


def event_text(t: Translator, card: EventCard, *, page_url: str | None = None) -> str:
    """The card's text, within Telegram's 4,096 characters (see :func:`card_text`)."""
    return card_text(t, card, page_url=page_url)[0]


def card_text(t: Translator, card: EventCard, *, page_url: str | None = None) -> tuple[str, bool]:
    """The card's text and whether its description was cut to fit Telegram's limit (then the
    text ends with a link to the event page when there is one, else the card gets "Show all")."""
    view = card.event
    lines = [
        f"📅 {view.title}",
        format_when(view.starts_at, view.ends_at, tz=view.tz, language=t.language),
    ]
    lines += place_lines(t, view)
    lines.append(t("Region: {region}", region=view.region_name or t("All regions")))
    if view.cancelled:
        lines += ["", t("❌ This event has been cancelled.")]
        if view.cancel_message:
            return limits.fit(
                "\n".join(lines) + "\n",
                t("Message from the organisers: {message}", message=view.cancel_message),
                "",
            )
        return "\n".join(lines), False
    seats = seats_line(t, view, card.answer, card=True)
    if seats:
        lines.append(seats)
    if view.rsvp_deadline is not None:
        lines.append(
            t(
                "Answer by {deadline}",
                deadline=format_moment(view.rsvp_deadline, tz=view.tz, language=t.language),
            )
        )
    if card.programme:
        lines += ["", t("Programme:"), *card.programme]
    answer = answer_line(t, card.answer)
    after = "\n\n" + answer if answer else ""
    if not view.description:
        return "\n".join(lines) + after, False
    before = "\n".join(lines) + "\n\n"
    text, cut = limits.fit(before, view.description, after)
    if cut and page_url:
        more = "\n\n" + t("Read it all: {url}", url=page_url)
        text, _ = limits.fit(before, view.description, more + after)
    return text, cut


def page_url(context: Context, event_id: int) -> str | None:
    """The event's public page (``/events/<id>``), when the HTTP server has a public URL."""
    public = context.services.settings.public_url
    return f"{str(public).rstrip('/')}/events/{event_id}" if public is not None else None


def render_card(context: Context, card: EventCard) -> tuple[str, InlineKeyboardMarkup]:
    """The card as a member sees it: text within the limits and its buttons ("Show all" when
    the description was cut and there is no event page to link to)."""
    url = page_url(context, card.event.id)
    text, cut = card_text(context.t, card, page_url=url)
    markup = card_markup(context, card)
    if cut and url is None:
        show_all = keyboards.button(context.t("Show all"), f"ev:full:{card.event.id}")
        markup = InlineKeyboardMarkup([[show_all], *markup.inline_keyboard])
    return text, markup


def event_keyboard(
    t: Translator, card: EventCard, *, can_manage: bool, answers_open: bool
) -> InlineKeyboardMarkup:
    view = card.event
    rows: list[list[InlineKeyboardButton]] = []
    if not view.cancelled and answers_open:
        rows.append(
            [
                keyboards.button(
                    answer_button(t, view, card.answer, status), f"ev:rsvp:{view.id}:{code}"
                )
                for code, status in ANSWER_CODES.items()
            ]
        )
    if not view.cancelled:
        rows.append([keyboards.button(t("Add to calendar"), f"ev:ics:{view.id}")])
    answer = card.answer
    if not view.cancelled and (
        can_manage
        or (answer is not None and (answer.status == RsvpStatus.GOING or answer.checked_in))
    ):
        rows.append([keyboards.button(t("Materials"), f"mt:show:{view.id}")])
    if can_manage:
        if view.cancelled:  # who was told; nobody checks in at a cancelled event
            rows.append([keyboards.button(t("Attendees"), f"oe:att:{view.id}")])
        else:
            rows.append(
                [
                    keyboards.button(t("Attendees"), f"oe:att:{view.id}"),
                    keyboards.button(t("Check-in code"), f"oe:qr:{view.id}"),
                ]
            )
            rows.append(
                [
                    keyboards.button(t("Edit"), f"oe:edit:{view.id}"),
                    keyboards.button(t("Cancel event"), f"oe:cancel:{view.id}"),
                ]
            )
    rows.append([keyboards.button(t("« Upcoming events"), "ev:list:r:0")])  # the way back
    return InlineKeyboardMarkup(rows)


def answer_button(t: Translator, view: EventView, answer: Answer | None, status: RsvpStatus) -> str:
    """The label of one answer button: the member's own answer carries its mark (✅ going,
    ⏳ waiting with the place in the queue, 🤔 maybe, 🚫 can't go); on a full event, Going
    reads Join the waiting list for those who have no seat yet."""
    current = answer.status if answer else None
    if status == RsvpStatus.GOING:
        if current == RsvpStatus.GOING:
            return t("✅ Going")
        if current == RsvpStatus.WAITLIST:
            return t("⏳ Waiting list: number {n}", n=(answer.position if answer else None) or 1)
        if view.seats_left == 0:
            return t("Join the waiting list")
        return t(ANSWER_LABELS[RsvpStatus.GOING])
    label = t(ANSWER_LABELS[status])
    if current != status:
        return label
    return ("🤔 " if status == RsvpStatus.MAYBE else "🚫 ") + label


def card_markup(context: Context, card: EventCard) -> InlineKeyboardMarkup:
    view = card.event
    open_ = (
        event_rules.rsvp_closed_reason(
            status=view.status,
            starts_at=view.starts_at,
            deadline=view.rsvp_deadline,
            now=context.now,
        )
        is None
    )
    markup = event_keyboard(
        context.t,
        card,
        can_manage=event_rules.may_manage(context.actor, view.region_id),
        answers_open=open_,
    )
    # "Participant list: show me?" / "Who was there" (bot.people.participants).
    extra = participant_buttons(context.t, card, context.now)
    return InlineKeyboardMarkup([*markup.inline_keyboard, *extra]) if extra else markup


async def send_card(update: Update, context: Context, card: EventCard) -> None:
    chat = update.effective_chat
    assert chat is not None
    text, markup = render_card(context, card)
    await chat.send_message(text, reply_markup=markup)


def answer_toast(t: Translator, outcome: RsvpOutcome) -> str:
    answer = outcome.card.answer
    assert answer is not None
    if not outcome.changed:
        if answer.status == RsvpStatus.WAITLIST:
            return t("You are already on the waiting list (number {n}).", n=answer.position or 1)
        return t("That is already your answer.")
    if answer.status == RsvpStatus.GOING:
        if outcome.invited:
            return t("You are going! A calendar invitation is on its way by e-mail.")
        return t("You are going!")
    if answer.status == RsvpStatus.WAITLIST:
        return t(
            "The event is full: you are number {n} on the waiting list. We will tell you if a "
            "seat becomes free.",
            n=answer.position or 1,
        )
    if answer.status == RsvpStatus.MAYBE:
        return t("Noted: maybe.")
    return t("Noted: you can't go.")


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
