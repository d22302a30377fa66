"""An event's card as a member sees it in the private chat: its text (within Telegram's limits),
its buttons (answers, calendar, materials, and an organiser's tools), sending it, and the short
answer shown after a press."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import Context
from bot.people.participants import card_buttons as participant_buttons
from bot.ui import keyboards, limits
from storage.events import rules as event_rules
from storage.events.rsvps import RsvpOutcome
from storage.events.views import Answer, EventCard, EventView
from storage.models import RsvpStatus
from templates.formatting import format_moment, format_when
from templates.i18n import N_, Translator

ANSWER_CODES = {"g": RsvpStatus.GOING, "m": RsvpStatus.MAYBE, "n": RsvpStatus.NOT_GOING}
ANSWER_LABELS = {
    RsvpStatus.GOING: N_("Going"),
    RsvpStatus.MAYBE: N_("Maybe"),
    RsvpStatus.NOT_GOING: N_("Can't go"),
}


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
