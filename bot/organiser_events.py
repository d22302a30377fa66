"""Organisers and events: /newevent (a conversation with a preview and Publish; the draft
survives a restart), editing and cancelling a published event, /attendees (counts, the list,
"deltagerliste" CSV, manual check-in, the check-in code with its QR code) and /stats.

Every rule (who may manage which event, what a field may hold, capacity) is in storage; the
handlers ask, call one service, and show the result.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from samvirke.bot import keyboards
from samvirke.bot.context import Context
from samvirke.bot.events import bot_username, send_card
from samvirke.bot.spreadsheets import csv_safe
from samvirke.bot.texts import error_text, sector_label
from samvirke.storage import event_rules, events, regions
from samvirke.storage.errors import DomainError, InvalidInput
from samvirke.storage.event_time import (
    Rejected,
    format_moment,
    format_short,
    format_when,
    parse_end,
    parse_moment,
    parse_when,
)
from samvirke.storage.events import AttendeeReport, EventDraft, StatsReport
from samvirke.storage.models import RsvpStatus
from samvirke.storage.permissions import Actor, require_organiser
from samvirke.templates.i18n import N_, Translator

PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND
DRAFT = "newevent"
EDIT = "editevent"
CHECKIN_PAGE = 8
NAMES_SHOWN = 60
LIST_FILE_NAMES = {"da": "deltagerliste", "sv": "deltagarlista", "en": "participant-list"}

Step = Callable[[Update, Context], Coroutine[Any, Any, str | int]]


def _actor(context: Context) -> Actor:
    actor = context.actor
    assert actor is not None
    return actor


async def _send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


async def _pressed(update: Update) -> str:
    """Answer a button press, take the buttons away from its message, return its data."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    return query.data or ""


def _typed(update: Update) -> str:
    message = update.effective_message
    assert message is not None
    return message.text or ""


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _moment(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _tz(context: Context) -> Any:
    return context.services.settings.tz


# --- /newevent --------------------------------------------------------------------------------

(
    N_TITLE,
    N_DESCRIPTION,
    N_WHEN,
    N_END,
    N_WHEN_OK,
    N_PLACE,
    N_REGION,
    N_CAPACITY,
    N_DEADLINE,
    N_PREVIEW,
) = (
    "title",
    "description",
    "when",
    "end",
    "when_ok",
    "place",
    "region",
    "capacity",
    "deadline",
    "preview",
)
FIELD_LABELS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "when": N_("Time"),
    "place": N_("Place"),
    "region": N_("Region"),
    "capacity": N_("Seats"),
    "deadline": N_("Answer deadline"),
}


def _draft(context: Context, name: str = DRAFT) -> dict[str, Any]:
    user_data = context.user_data
    assert user_data is not None
    draft: dict[str, Any] = user_data.setdefault(name, {})
    return draft


def _keep_hint(t: Translator) -> str:
    return t("Send /cancel to stop.")


async def ask_title(update: Update, context: Context) -> str:
    await _send(
        update,
        context.t("What is the title of the event?") + "\n" + _keep_hint(context.t),
    )
    return N_TITLE


async def ask_description(update: Update, context: Context) -> str:
    t = context.t
    await _send(
        update,
        t("Describe the event: programme, who it is for, price. Or press Skip."),
        keyboards.column([keyboards.button(t("Skip"), "ne:desc:skip")]),
    )
    return N_DESCRIPTION


WHEN_EXAMPLES = N_(
    "When is it? Type the date and the time, for example 3.12.2026 13:00-17:00, 3/12 13-17 "
    "or 20 februar 2027 kl. 13-17."
)


async def ask_when(update: Update, context: Context) -> str:
    await _send(update, context.t(WHEN_EXAMPLES))
    return N_WHEN


async def ask_end(update: Update, context: Context) -> str:
    await _send(
        update,
        context.t("When does it end? Type a time (for example 17:00) or a date and a time."),
    )
    return N_END


def _when_confirmation(
    t: Translator, start: dt.datetime, end: dt.datetime, tz: Any, prefix: str
) -> tuple[str, InlineKeyboardMarkup]:
    text = t(
        "I read that as: {when} ({zone} time). Is that right?",
        when=format_when(start, end, tz=tz, language=t.language),
        zone=str(tz),
    )
    markup = keyboards.rows(
        [
            keyboards.button(t("Yes, that is right"), f"{prefix}:when:ok"),
            keyboards.button(t("No, type it again"), f"{prefix}:when:again"),
        ]
    )
    return text, markup


async def confirm_when(update: Update, context: Context) -> str:
    draft = _draft(context)
    start, end = _moment(draft.get("starts_at")), _moment(draft.get("ends_at"))
    assert start is not None
    assert end is not None
    text, markup = _when_confirmation(context.t, start, end, _tz(context), "ne")
    await _send(update, text, markup)
    return N_WHEN_OK


async def ask_place(update: Update, context: Context) -> str:
    await _send(
        update,
        context.t(
            "Where is it? Type the address, an online link (https://…), or both in one message."
        ),
    )
    return N_PLACE


def _region_buttons(
    t: Translator, actor: Actor, available: list[regions.RegionView], prefix: str
) -> InlineKeyboardMarkup:
    allowed = [r for r in available if event_rules.may_manage(actor, r.id)]
    buttons = [keyboards.button(r.name, f"{prefix}:{r.id}") for r in allowed]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if event_rules.may_manage(actor, None):
        rows.append([keyboards.button(t("All regions (the whole network)"), f"{prefix}:all")])
    return InlineKeyboardMarkup(rows)


async def ask_region(update: Update, context: Context) -> str:
    available = await regions.list_active(context.uow())
    await _send(
        update,
        context.t("Which region is the event for?"),
        _region_buttons(context.t, _actor(context), available, "ne:region"),
    )
    return N_REGION


async def ask_capacity(update: Update, context: Context) -> str:
    t = context.t
    await _send(
        update,
        t("How many seats are there? Type a number, or press No limit."),
        keyboards.column([keyboards.button(t("No limit"), "ne:cap:none")]),
    )
    return N_CAPACITY


async def ask_deadline(update: Update, context: Context) -> str:
    t = context.t
    await _send(
        update,
        t(
            "Until when can members answer? Type a date (and a time), for example 1.12.2026 "
            "12:00, or press No deadline: then until the event starts."
        ),
        keyboards.column([keyboards.button(t("No deadline"), "ne:dl:none")]),
    )
    return N_DEADLINE


def _region_name(region: object, available: list[regions.RegionView], t: Translator) -> str:
    if region == "all" or region is None:
        return t("All regions")
    return next((r.name for r in available if r.id == region), "–")


async def preview(update: Update, context: Context) -> str:
    t = context.t
    draft = _draft(context)
    draft["back"] = True
    tz = _tz(context)
    start, end = _moment(draft.get("starts_at")), _moment(draft.get("ends_at"))
    deadline = _moment(draft.get("deadline"))
    available = await regions.list_active(context.uow())
    lines = [t("Preview:"), "", f"📅 {draft.get('title', '')}"]
    if start and end:
        lines.append(format_when(start, end, tz=tz, language=t.language))
    if draft.get("location"):
        lines.append(t("Place: {place}", place=draft["location"]))
    if draft.get("online_url"):
        lines.append(t("Online: {link}", link=draft["online_url"]))
    lines.append(t("Region: {region}", region=_region_name(draft.get("region"), available, t)))
    capacity = draft.get("capacity")
    lines.append(t("Seats: {n}", n=capacity) if capacity else t("Seats: no limit"))
    if deadline is not None:
        lines.append(
            t("Answer by {deadline}", deadline=format_moment(deadline, tz=tz, language=t.language))
        )
    if draft.get("description"):
        lines += ["", str(draft["description"])]
    markup = keyboards.column(
        [
            keyboards.button(t("Publish"), "ne:publish"),
            keyboards.button(t("Change something"), "ne:change"),
            keyboards.button(t("Discard the draft"), "ne:discard"),
        ]
    )
    await _send(update, "\n".join(lines), markup)
    return N_PREVIEW


async def _next(update: Update, context: Context, step: Step) -> str | int:
    """The next question, or back to the preview when the organiser is changing one answer."""
    if _draft(context).get("back"):
        return await preview(update, context)
    return await step(update, context)


async def newevent(update: Update, context: Context) -> str | int:
    """/newevent: start a draft (organisers)."""
    actor = _actor(context)
    if context.member is None or not actor.is_organiser:
        await _send(update, error_text(context.t, DomainError("organisers_only")))
        return ConversationHandler.END
    user_data = context.user_data
    assert user_data is not None
    user_data[DRAFT] = {}
    await _send(update, context.t("Let us create an event. I will show you a preview first."))
    return await ask_title(update, context)


async def _invalid(update: Update, context: Context, error: DomainError, ask: Step) -> str | int:
    await _send(update, error_text(context.t, error))
    return await ask(update, context)


async def title_typed(update: Update, context: Context) -> str | int:
    try:
        _draft(context)["title"] = event_rules.validate_title(_typed(update))
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_title)
    return await _next(update, context, ask_description)


async def description_typed(update: Update, context: Context) -> str | int:
    try:
        _draft(context)["description"] = event_rules.validate_description(_typed(update))
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_description)
    return await _next(update, context, ask_when)


async def description_skipped(update: Update, context: Context) -> str | int:
    await _pressed(update)
    _draft(context)["description"] = ""
    return await _next(update, context, ask_when)


async def when_typed(update: Update, context: Context) -> str | int:
    parsed = parse_when(_typed(update), tz=_tz(context), now=context.now)
    if isinstance(parsed, Rejected):
        return await _invalid(update, context, InvalidInput(parsed.reason), ask_when)
    draft = _draft(context)
    draft["starts_at"] = _iso(parsed.start)
    draft["ends_at"] = _iso(parsed.end)
    if parsed.end is None:
        return await ask_end(update, context)
    return await confirm_when(update, context)


async def end_typed(update: Update, context: Context) -> str | int:
    draft = _draft(context)
    start = _moment(draft.get("starts_at"))
    assert start is not None
    parsed = parse_end(_typed(update), start=start, tz=_tz(context))
    if isinstance(parsed, Rejected):
        return await _invalid(update, context, InvalidInput(parsed.reason), ask_end)
    draft["ends_at"] = _iso(parsed)
    return await confirm_when(update, context)


async def when_answered(update: Update, context: Context) -> str | int:
    data = await _pressed(update)
    if data.endswith(":again"):
        return await ask_when(update, context)
    draft = _draft(context)
    start = _moment(draft.get("starts_at"))
    deadline = _moment(draft.get("deadline"))
    if start is not None and deadline is not None and deadline > start:
        draft["deadline"] = None
        await _send(update, context.t("The answer deadline was after the new start: removed."))
    return await _next(update, context, ask_place)


async def place_typed(update: Update, context: Context) -> str | int:
    try:
        location, online_url = event_rules.split_place(_typed(update))
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_place)
    draft = _draft(context)
    draft["location"], draft["online_url"] = location, online_url
    return await _next(update, context, ask_region)


async def region_chosen(update: Update, context: Context) -> str | int:
    data = await _pressed(update)
    choice = data.rsplit(":", 1)[-1]
    region_id = None if choice == "all" else int(choice)
    if not event_rules.may_manage(_actor(context), region_id):
        return await _invalid(update, context, DomainError("event_other_region"), ask_region)
    _draft(context)["region"] = "all" if region_id is None else region_id
    return await _next(update, context, ask_capacity)


async def capacity_typed(update: Update, context: Context) -> str | int:
    try:
        _draft(context)["capacity"] = event_rules.validate_capacity(_typed(update))
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_capacity)
    return await _next(update, context, ask_deadline)


async def capacity_none(update: Update, context: Context) -> str | int:
    await _pressed(update)
    _draft(context)["capacity"] = None
    return await _next(update, context, ask_deadline)


def _deadline_error(rejected: Rejected) -> InvalidInput:
    return InvalidInput(
        "deadline_in_past" if rejected.reason == "when_in_past" else rejected.reason
    )


async def deadline_typed(update: Update, context: Context) -> str | int:
    draft = _draft(context)
    parsed = parse_moment(_typed(update), tz=_tz(context), now=context.now)
    if isinstance(parsed, Rejected):
        return await _invalid(update, context, _deadline_error(parsed), ask_deadline)
    start = _moment(draft.get("starts_at"))
    assert start is not None
    try:
        event_rules.validate_deadline(parsed, start=start, now=context.now)
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_deadline)
    draft["deadline"] = _iso(parsed)
    return await preview(update, context)


async def deadline_none(update: Update, context: Context) -> str | int:
    await _pressed(update)
    _draft(context)["deadline"] = None
    return await preview(update, context)


async def change_chosen(update: Update, context: Context) -> str:
    await _pressed(update)
    t = context.t
    buttons = [keyboards.button(t(label), f"ne:field:{f}") for f, label in FIELD_LABELS.items()]
    await _send(update, t("What do you want to change?"), keyboards.column(buttons))
    return N_PREVIEW


NEW_EVENT_QUESTIONS: dict[str, Step] = {
    "title": ask_title,
    "description": ask_description,
    "when": ask_when,
    "place": ask_place,
    "region": ask_region,
    "capacity": ask_capacity,
    "deadline": ask_deadline,
}
NEW_EVENT_STATES = {
    N_TITLE: ask_title,
    N_DESCRIPTION: ask_description,
    N_WHEN: ask_when,
    N_END: ask_end,
    N_WHEN_OK: confirm_when,
    N_PLACE: ask_place,
    N_REGION: ask_region,
    N_CAPACITY: ask_capacity,
    N_DEADLINE: ask_deadline,
    N_PREVIEW: preview,
}


async def field_chosen(update: Update, context: Context) -> str | int:
    field = (await _pressed(update)).rsplit(":", 1)[-1]
    return await NEW_EVENT_QUESTIONS.get(field, preview)(update, context)


def _draft_event(draft: dict[str, Any]) -> EventDraft:
    start, end = _moment(draft.get("starts_at")), _moment(draft.get("ends_at"))
    if start is None or end is None:
        raise InvalidInput("when_unreadable")
    region = draft.get("region")
    return EventDraft(
        title=str(draft.get("title", "")),
        description=str(draft.get("description", "")),
        starts_at=start,
        ends_at=end,
        location=draft.get("location"),
        online_url=draft.get("online_url"),
        region_id=None if region in (None, "all") else int(region),
        capacity=draft.get("capacity"),
        rsvp_deadline=_moment(draft.get("deadline")),
    )


async def publish(update: Update, context: Context) -> str | int:
    await _pressed(update)
    t = context.t
    draft = _draft(context)
    try:
        view = await events.create(
            context.uow(),
            _actor(context),
            _draft_event(draft),
            now=context.now,
            timezone=context.services.settings.timezone,
        )
    except DomainError as error:
        # E.g. the start passed while the draft waited: fix that answer, then publish.
        await _send(update, error_text(t, error))
        return await preview(update, context)
    user_data = context.user_data
    assert user_data is not None
    user_data.pop(DRAFT, None)
    link = event_rules.event_link(bot_username(context), view.id)
    text = t("Published! Members can find it with /events.")
    if link:
        text += "\n" + t("Share this link to invite people: {link}", link=link)
    await _send(update, text)
    await send_card(update, context, events.EventCard(view, None))
    return ConversationHandler.END


async def discard(update: Update, context: Context) -> int:
    if update.callback_query is not None:
        await _pressed(update)
    user_data = context.user_data
    assert user_data is not None
    user_data.pop(DRAFT, None)
    await _send(update, context.t("The draft is discarded. Nothing was published."))
    return ConversationHandler.END


def _reask(states: Mapping[str, Step], state: str, explanation: str) -> Step:
    async def handler(update: Update, context: Context) -> str | int:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await _send(update, context.t(explanation))
        return await states[state](update, context)

    return handler


IN_FLOW = N_("You are creating an event. Please answer the question, or send /cancel to stop.")
EXPECT_TEXT = N_("Please answer with a text message.")
EXPECT_BUTTON = N_("Please choose one of the buttons.")


def _guards(
    states: Mapping[str, Step],
    state: str,
    prefix: str,
    command: str | None,
    *,
    expects_text: bool,
) -> list[BaseHandler[Update, Context, Any]]:
    """Catch what the state does not expect: the conversation's own old buttons and command,
    text where a button is expected. Other features' buttons and commands pass through, so an
    organiser can look something up in the middle of a draft."""
    guards: list[BaseHandler[Update, Context, Any]] = [
        CallbackQueryHandler(_reask(states, state, EXPECT_BUTTON), pattern=rf"^{prefix}:"),
    ]
    if command is not None:
        guards.insert(0, CommandHandler(command, _reask(states, state, IN_FLOW)))
    if not expects_text:
        guards.append(MessageHandler(TEXT, _reask(states, state, EXPECT_BUTTON)))
    return guards


def _newevent_handler() -> ConversationHandler[Context]:
    def guards(state: str, *, expects_text: bool) -> list[BaseHandler[Update, Context, Any]]:
        return _guards(NEW_EVENT_STATES, state, "ne", "newevent", expects_text=expects_text)

    return ConversationHandler(
        entry_points=[CommandHandler("newevent", newevent, filters=PRIVATE)],
        states={
            N_TITLE: [MessageHandler(TEXT, title_typed), *guards(N_TITLE, expects_text=True)],
            N_DESCRIPTION: [
                MessageHandler(TEXT, description_typed),
                CallbackQueryHandler(description_skipped, pattern=r"^ne:desc:skip$"),
                *guards(N_DESCRIPTION, expects_text=True),
            ],
            N_WHEN: [MessageHandler(TEXT, when_typed), *guards(N_WHEN, expects_text=True)],
            N_END: [MessageHandler(TEXT, end_typed), *guards(N_END, expects_text=True)],
            N_WHEN_OK: [
                CallbackQueryHandler(when_answered, pattern=r"^ne:when:(ok|again)$"),
                *guards(N_WHEN_OK, expects_text=False),
            ],
            N_PLACE: [MessageHandler(TEXT, place_typed), *guards(N_PLACE, expects_text=True)],
            N_REGION: [
                CallbackQueryHandler(region_chosen, pattern=r"^ne:region:(\d+|all)$"),
                *guards(N_REGION, expects_text=False),
            ],
            N_CAPACITY: [
                MessageHandler(TEXT, capacity_typed),
                CallbackQueryHandler(capacity_none, pattern=r"^ne:cap:none$"),
                *guards(N_CAPACITY, expects_text=True),
            ],
            N_DEADLINE: [
                MessageHandler(TEXT, deadline_typed),
                CallbackQueryHandler(deadline_none, pattern=r"^ne:dl:none$"),
                *guards(N_DEADLINE, expects_text=True),
            ],
            N_PREVIEW: [
                CallbackQueryHandler(publish, pattern=r"^ne:publish$"),
                CallbackQueryHandler(change_chosen, pattern=r"^ne:change$"),
                CallbackQueryHandler(field_chosen, pattern=r"^ne:field:\w+$"),
                CallbackQueryHandler(discard, pattern=r"^ne:discard$"),
                *guards(N_PREVIEW, expects_text=False),
            ],
        },
        fallbacks=[CommandHandler("cancel", discard)],
        name="newevent",
        persistent=True,
        allow_reentry=False,
    )


# --- editing and cancelling a published event -------------------------------------------------

M_FIELD, M_VALUE, M_END, M_WHEN_OK, M_CANCEL_MESSAGE, M_CANCEL_OK = (
    "field",
    "value",
    "end",
    "when_ok",
    "cancel_message",
    "cancel_ok",
)


async def _managed_event(update: Update, context: Context) -> events.EventView:
    """The event named by the pressed button, if the organiser may manage it."""
    data = await _pressed(update)
    event_id = int(data.rsplit(":", 1)[-1])
    view = await events.get(context.uow(), event_id)
    event_rules.require_manager(_actor(context), view.region_id)
    return view


async def edit_start(update: Update, context: Context) -> str | int:
    view = await _managed_event(update, context)
    t = context.t
    if view.cancelled:
        await _send(update, error_text(t, DomainError("event_cancelled")))
        return ConversationHandler.END
    user_data = context.user_data
    assert user_data is not None
    user_data[EDIT] = {"event_id": view.id, "title": view.title}
    return await ask_edit_field(update, context)


async def ask_edit_field(update: Update, context: Context) -> str:
    t = context.t
    edit = _draft(context, EDIT)
    buttons = [keyboards.button(t(label), f"oe:f:{f}") for f, label in FIELD_LABELS.items()]
    await _send(
        update,
        t("What do you want to change in “{title}”?", title=edit.get("title", ""))
        + "\n"
        + _keep_hint(t),
        keyboards.column(buttons),
    )
    return M_FIELD


async def ask_edit_value(update: Update, context: Context) -> str:
    t = context.t
    field = _draft(context, EDIT).get("field")
    if field == "region":
        available = await regions.list_active(context.uow())
        markup = _region_buttons(t, _actor(context), available, "oe:v:region")
        await _send(update, t("Which region is the event for?"), markup)
    elif field == "capacity":
        await _send(
            update,
            t("How many seats are there? Type a number, or press No limit."),
            keyboards.column([keyboards.button(t("No limit"), "oe:v:none")]),
        )
    elif field == "deadline":
        await _send(
            update,
            t("Until when can members answer? Type a date (and a time), or press No deadline."),
            keyboards.column([keyboards.button(t("No deadline"), "oe:v:none")]),
        )
    elif field == "when":
        await _send(update, t(WHEN_EXAMPLES))
    elif field == "description":
        await _send(update, t("Type the new description."))
    elif field == "place":
        await _send(update, t("Type the new address, online link, or both."))
    else:
        await _send(update, t("Type the new title."))
    return M_VALUE


async def edit_field_chosen(update: Update, context: Context) -> str | int:
    field = (await _pressed(update)).rsplit(":", 1)[-1]
    if field not in FIELD_LABELS:
        return await ask_edit_field(update, context)
    _draft(context, EDIT)["field"] = field
    return await ask_edit_value(update, context)


async def _save(update: Update, context: Context, value: Any) -> str | int:
    t = context.t
    edit = _draft(context, EDIT)
    try:
        outcome = await events.update(
            context.uow(),
            _actor(context),
            int(edit["event_id"]),
            str(edit["field"]),
            value,
            now=context.now,
            bot_username=bot_username(context),
        )
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_edit_value)
    except DomainError as error:  # e.g. the event was cancelled or is over meanwhile
        return await _give_up(update, context, error)
    user_data = context.user_data
    assert user_data is not None
    user_data.pop(EDIT, None)
    if not outcome.changed:
        await _send(update, t("Nothing changed."))
    else:
        lines = [t("Saved.")]
        if outcome.notified:
            lines.append(
                t.plural(
                    "{n} member is told about the change.",
                    "{n} members are told about the change.",
                    outcome.notified,
                )
            )
        if outcome.promoted:
            lines.append(
                t.plural(
                    "{n} member got a seat from the waiting list.",
                    "{n} members got a seat from the waiting list.",
                    outcome.promoted,
                )
            )
        await _send(update, " ".join(lines))
    card = await events.get_card(context.uow(), outcome.event.id, member_id=None)
    await send_card(update, context, card)
    return ConversationHandler.END


async def edit_value_typed(update: Update, context: Context) -> str | int:
    edit = _draft(context, EDIT)
    field = edit.get("field")
    text = _typed(update)
    tz = _tz(context)
    if field == "when":
        parsed = parse_when(text, tz=tz, now=context.now)
        if isinstance(parsed, Rejected):
            return await _invalid(update, context, InvalidInput(parsed.reason), ask_edit_value)
        edit["starts_at"], edit["ends_at"] = _iso(parsed.start), _iso(parsed.end)
        if parsed.end is None:
            return await ask_edit_end(update, context)
        return await _confirm_edit_when(update, context)
    if field == "deadline":
        moment = parse_moment(text, tz=tz, now=context.now)
        if isinstance(moment, Rejected):
            return await _invalid(update, context, _deadline_error(moment), ask_edit_value)
        return await _save(update, context, moment)
    if field == "region":
        return await _invalid(update, context, DomainError("region_unknown"), ask_edit_value)
    return await _save(update, context, text)


async def ask_edit_end(update: Update, context: Context) -> str:
    await ask_end(update, context)
    return M_END


async def edit_end_typed(update: Update, context: Context) -> str | int:
    edit = _draft(context, EDIT)
    start = _moment(edit.get("starts_at"))
    assert start is not None
    parsed = parse_end(_typed(update), start=start, tz=_tz(context))
    if isinstance(parsed, Rejected):
        return await _invalid(update, context, InvalidInput(parsed.reason), ask_edit_end)
    edit["ends_at"] = _iso(parsed)
    return await _confirm_edit_when(update, context)


async def _confirm_edit_when(update: Update, context: Context) -> str:
    edit = _draft(context, EDIT)
    start, end = _moment(edit.get("starts_at")), _moment(edit.get("ends_at"))
    assert start is not None
    assert end is not None
    text, markup = _when_confirmation(context.t, start, end, _tz(context), "oe")
    await _send(update, text, markup)
    return M_WHEN_OK


async def edit_when_answered(update: Update, context: Context) -> str | int:
    data = await _pressed(update)
    if data.endswith(":again"):
        return await ask_edit_value(update, context)
    edit = _draft(context, EDIT)
    return await _save(update, context, (_moment(edit["starts_at"]), _moment(edit["ends_at"])))


async def edit_choice(update: Update, context: Context) -> str | int:
    data = await _pressed(update)
    choice = data.removeprefix("oe:v:")
    if choice == "none":
        return await _save(update, context, None)
    region = choice.removeprefix("region:")
    return await _save(update, context, None if region == "all" else int(region))


async def cancel_start(update: Update, context: Context) -> str | int:
    view = await _managed_event(update, context)
    t = context.t
    if view.cancelled:
        await _send(update, error_text(t, DomainError("event_cancelled")))
        return ConversationHandler.END
    user_data = context.user_data
    assert user_data is not None
    user_data[EDIT] = {"event_id": view.id, "title": view.title, "message": None}
    return await ask_cancel_message(update, context)


async def ask_cancel_message(update: Update, context: Context) -> str:
    t = context.t
    await _send(
        update,
        t(
            "Cancel “{title}”? Type a message for everyone who answered (why, what happens "
            "instead), or press Without a message.",
            title=_draft(context, EDIT).get("title", ""),
        )
        + "\n"
        + _keep_hint(t),
        keyboards.column([keyboards.button(t("Without a message"), "oe:cm:none")]),
    )
    return M_CANCEL_MESSAGE


async def _confirm_cancel(update: Update, context: Context) -> str:
    t = context.t
    edit = _draft(context, EDIT)
    await _send(
        update,
        t(
            "Really cancel “{title}”? Everyone who answered is told in Telegram, and invitations "
            "are withdrawn from calendars.",
            title=edit.get("title", ""),
        ),
        keyboards.rows(
            [
                keyboards.button(t("Yes, cancel the event"), "oe:cc:yes"),
                keyboards.button(t("No, keep it"), "oe:cc:no"),
            ]
        ),
    )
    return M_CANCEL_OK


async def cancel_message_typed(update: Update, context: Context) -> str | int:
    try:
        message = event_rules.validate_cancel_message(_typed(update))
    except InvalidInput as error:
        return await _invalid(update, context, error, ask_cancel_message)
    _draft(context, EDIT)["message"] = message
    return await _confirm_cancel(update, context)


async def cancel_without_message(update: Update, context: Context) -> str | int:
    await _pressed(update)
    _draft(context, EDIT)["message"] = None
    return await _confirm_cancel(update, context)


async def cancel_confirmed(update: Update, context: Context) -> int:
    data = await _pressed(update)
    t = context.t
    user_data = context.user_data
    assert user_data is not None
    edit = user_data.pop(EDIT, {})
    if data.endswith(":no"):
        await _send(update, t("Good: the event stays as it is."))
        return ConversationHandler.END
    try:
        outcome = await events.cancel(
            context.uow(),
            _actor(context),
            int(edit["event_id"]),
            message=edit.get("message"),
            now=context.now,
            bot_username=bot_username(context),
        )
    except DomainError as error:
        return await _give_up(update, context, error)
    await _send(
        update,
        t("“{title}” is cancelled.", title=outcome.event.title)
        + " "
        + t.plural("{n} member is told.", "{n} members are told.", outcome.notified),
    )
    return ConversationHandler.END


async def _give_up(update: Update, context: Context, error: DomainError) -> int:
    """A rule says no to the whole change: say why and leave the conversation."""
    user_data = context.user_data
    assert user_data is not None
    user_data.pop(EDIT, None)
    await _send(update, error_text(context.t, error))
    return ConversationHandler.END


async def manage_stop(update: Update, context: Context) -> int:
    user_data = context.user_data
    assert user_data is not None
    user_data.pop(EDIT, None)
    await _send(update, context.t("Nothing changed."))
    return ConversationHandler.END


MANAGE_STATES: dict[str, Step] = {
    M_FIELD: ask_edit_field,
    M_VALUE: ask_edit_value,
    M_END: ask_edit_end,
    M_WHEN_OK: _confirm_edit_when,
    M_CANCEL_MESSAGE: ask_cancel_message,
    M_CANCEL_OK: _confirm_cancel,
}


def _manage_handler() -> ConversationHandler[Context]:
    def guards(state: str, *, expects_text: bool) -> list[BaseHandler[Update, Context, Any]]:
        return _guards(
            MANAGE_STATES, state, "oe:(?:f|v|when|cm|cc)", None, expects_text=expects_text
        )

    return ConversationHandler(
        entry_points=[
            CallbackQueryHandler(edit_start, pattern=r"^oe:edit:\d+$"),
            CallbackQueryHandler(cancel_start, pattern=r"^oe:cancel:\d+$"),
        ],
        states={
            M_FIELD: [
                CallbackQueryHandler(edit_field_chosen, pattern=r"^oe:f:\w+$"),
                *guards(M_FIELD, expects_text=False),
            ],
            M_VALUE: [
                MessageHandler(TEXT, edit_value_typed),
                CallbackQueryHandler(edit_choice, pattern=r"^oe:v:(none|region:(\d+|all))$"),
                *guards(M_VALUE, expects_text=True),
            ],
            M_END: [MessageHandler(TEXT, edit_end_typed), *guards(M_END, expects_text=True)],
            M_WHEN_OK: [
                CallbackQueryHandler(edit_when_answered, pattern=r"^oe:when:(ok|again)$"),
                *guards(M_WHEN_OK, expects_text=False),
            ],
            M_CANCEL_MESSAGE: [
                MessageHandler(TEXT, cancel_message_typed),
                CallbackQueryHandler(cancel_without_message, pattern=r"^oe:cm:none$"),
                *guards(M_CANCEL_MESSAGE, expects_text=True),
            ],
            M_CANCEL_OK: [
                CallbackQueryHandler(cancel_confirmed, pattern=r"^oe:cc:(yes|no)$"),
                *guards(M_CANCEL_OK, expects_text=False),
            ],
        },
        fallbacks=[CommandHandler("cancel", manage_stop)],
        name="manageevent",
        persistent=True,
        allow_reentry=True,
    )


# --- /attendees, the participant list, check-in ---------------------------------------------


async def attendees_command(update: Update, context: Context) -> None:
    t = context.t
    actor = _actor(context)
    require_organiser(actor)
    found = await events.managed_events(context.uow(), actor, now=context.now)
    if not found:
        await _send(update, t("There are no events yet. Create one with /newevent."))
        return
    buttons = [
        keyboards.button(
            f"{format_short(v.starts_at, tz=v.tz, language=t.language)} – {v.title}"[:60],
            f"oe:att:{v.id}",
        )
        for v in found[-20:]
    ]
    await _send(update, t("Which event?"), keyboards.column(buttons))


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
    view = report.event
    lines = [
        t("Attendees: {title}", title=view.title),
        format_when(view.starts_at, view.ends_at, tz=view.tz, language=t.language),
    ]
    if view.cancelled:
        lines.append(t("❌ This event has been cancelled."))
    going = (
        t("Going: {n} of {capacity} seats", n=view.going, capacity=view.capacity)
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
        for number, a in enumerate(report.attendees[:NAMES_SHOWN], start=1):
            details = ", ".join(x for x in (a.organisation, sector_label(t, a.sector)) if x)
            mark = " ✓" if a.checked_in else ""
            walk_in = "" if a.status == RsvpStatus.GOING else " " + t("(came without answering)")
            lines.append(f"{number}. {a.name} ({details}){mark}{walk_in}")
        if len(report.attendees) > NAMES_SHOWN:
            lines.append(t("… and {n} more: see the list.", n=len(report.attendees) - NAMES_SHOWN))
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
        lines += [f"{n}. {a.name}" for n, a in enumerate(report.waitlist[:NAMES_SHOWN], start=1)]
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
    query = update.callback_query
    assert query is not None
    await query.answer()
    event_id = int((query.data or "").rsplit(":", 1)[-1])
    report = await events.attendees(context.uow(), _actor(context), event_id)
    await _send(update, report_text(context.t, report), _report_markup(context.t, event_id))


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
    query = update.callback_query
    assert query is not None
    await query.answer()
    t = context.t
    report = await events.attendees(
        context.uow(), _actor(context), int((query.data or "").rsplit(":", 1)[-1])
    )
    name = LIST_FILE_NAMES.get(t.language, "participant-list")
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(participants_csv(report)), filename=f"{name}.csv"),
        caption=t("Participant list: {title}", title=report.event.title),
    )


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


async def _show_checkin(update: Update, context: Context, event_id: int, page: int) -> None:
    report = await events.attendees(context.uow(), _actor(context), event_id)
    text, markup = _checkin_markup(context.t, report, page)
    query = update.callback_query
    data = query.data if query is not None else ""
    if query is not None and query.message is not None and (data or "").startswith("oe:tog"):
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await _send(update, text, markup)


async def checkin_list_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    _, _, event_id, page = (query.data or "").split(":")
    await _show_checkin(update, context, int(event_id), int(page))


async def toggle_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    _, _, event_id, member_id, page = (query.data or "").split(":")
    report = await events.attendees(context.uow(), _actor(context), int(event_id))
    present = not any(a.checked_in for a in report.attendees if a.member_id == int(member_id))
    try:
        await events.set_checked_in(
            context.uow(),
            _actor(context),
            int(event_id),
            int(member_id),
            present,
            now=context.now,
        )
    except DomainError as error:
        await query.answer(error_text(context.t, error), show_alert=True)
        return
    await query.answer(context.t("Checked in.") if present else context.t("Check-in undone."))
    await _show_checkin(update, context, int(event_id), int(page))


def qr_png(data: str) -> bytes:
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="png", scale=10, border=4)
    return out.getvalue()


async def qr_pressed(update: Update, context: Context) -> None:
    """The check-in code, its link and a QR code of the link, to show at the venue."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    t = context.t
    view = await events.get(context.uow(), int((query.data or "").rsplit(":", 1)[-1]))
    event_rules.require_manager(_actor(context), view.region_id)
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


# --- /stats ------------------------------------------------------------------------------------

PERIOD_LABELS = {
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
    "this_year": N_("This year"),
    "last_year": N_("Last year"),
    "last_12_months": N_("The last 12 months"),
}


def _period_code(start: dt.date, end: dt.date) -> str:
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def _parse_period_code(code: str) -> tuple[dt.date, dt.date]:
    first, last = code.split("-")
    return (
        dt.datetime.strptime(first, "%Y%m%d").date(),  # noqa: DTZ007 - a calendar date
        dt.datetime.strptime(last, "%Y%m%d").date(),  # noqa: DTZ007
    )


def _typed_period(args: list[str], context: Context) -> tuple[dt.date, dt.date] | None:
    """``/stats 1.1.2026 30.6.2026``: a period typed as two dates (the last one included)."""
    if len(args) != 2:
        return None
    tz = _tz(context)
    far_past = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    days = []
    for arg in args:
        moment = parse_moment(arg, tz=tz, now=far_past, default_time=dt.time(12, 0))
        if isinstance(moment, Rejected):
            raise InvalidInput(moment.reason)
        days.append(moment.astimezone(tz).date())
    if days[1] < days[0]:
        raise InvalidInput("end_before_start")
    return days[0], days[1] + dt.timedelta(days=1)


async def stats_command(update: Update, context: Context) -> None:
    t = context.t
    actor = _actor(context)
    require_organiser(actor)
    typed = _typed_period(list(context.args or []), context)
    if typed is not None:
        await _ask_stats_region(update, context, _period_code(*typed))
        return
    today = context.now.astimezone(_tz(context)).date()
    buttons = [
        keyboards.button(
            t(label), f"st:p:{_period_code(*event_rules.period_bounds(name, today=today))}"
        )
        for name, label in PERIOD_LABELS.items()
    ]
    # The timebank's figures (hours exchanged per month, region and sector) live beside these.
    buttons.append(keyboards.button(t("Timebank: hours exchanged"), "tb:st"))
    await _send(
        update,
        t("Participation figures for which period? (Or type /stats 1.1.2026 30.6.2026.)"),
        keyboards.column(buttons),
    )


async def _ask_stats_region(update: Update, context: Context, period: str) -> None:
    actor = _actor(context)
    if actor.organiser_region_id is not None and not actor.is_admin:
        await _stats_report(update, context, period, actor.organiser_region_id)
        return
    t = context.t
    available = await regions.list_active(context.uow())
    buttons = [keyboards.button(t("All regions"), f"st:r:{period}:all")]
    buttons += [keyboards.button(r.name, f"st:r:{period}:{r.id}") for r in available]
    await _send(
        update,
        t("For which region?"),
        InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)]),
    )


async def stats_period_chosen(update: Update, context: Context) -> None:
    data = await _pressed(update)
    await _ask_stats_region(update, context, data.removeprefix("st:p:"))


async def stats_region_chosen(update: Update, context: Context) -> None:
    data = await _pressed(update)
    _, _, period, region = data.split(":")
    await _stats_report(update, context, period, None if region == "all" else int(region))


def stats_text(t: Translator, report: StatsReport, tz: Any) -> str:
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
        t(
            "Attended (checked in): {n} ({people} different people)",
            n=report.attended,
            people=report.unique_attendees,
        ),
    ]
    if report.attended_by_sector:
        lines += ["", t("Attendance by sector:")]
        lines += [f"  {sector_label(t, s)}: {n}" for s, n in report.attended_by_sector.items()]
    if report.events:
        lines += ["", t("Per event (registered / attended):")]
        lines += [
            f"  {format_short(e.starts_at, tz=tz, language=t.language)} – {e.title}: "
            f"{e.registered} / {e.attended}"
            for e in report.events
        ]
    return "\n".join(lines)


def stats_csv(report: StatsReport, tz: Any) -> bytes:
    sectors = list(dict.fromkeys(s for e in report.events for s in e.attended_by_sector))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["date", "event", "region", "registered", "attended"]
        + [f"attended_{s or 'unknown'}" for s in sectors]
    )
    for e in report.events:
        writer.writerow(
            [
                e.starts_at.astimezone(tz).date().isoformat(),
                csv_safe(e.title),
                e.region_name or "",
                e.registered,
                e.attended,
            ]
            + [e.attended_by_sector.get(s, 0) for s in sectors]
        )
    writer.writerow(
        ["total", len(report.events), report.region_name or "", report.registered, report.attended]
        + [report.attended_by_sector.get(s, 0) for s in sectors]
    )
    return out.getvalue().encode("utf-8-sig")


async def _stats_report(
    update: Update, context: Context, period: str, region_id: int | None
) -> None:
    t = context.t
    tz = _tz(context)
    first, after_last = _parse_period_code(period)
    report = await events.stats(
        context.uow(),
        _actor(context),
        start=dt.datetime.combine(first, dt.time(0), tzinfo=tz).astimezone(dt.UTC),
        end=dt.datetime.combine(after_last, dt.time(0), tzinfo=tz).astimezone(dt.UTC),
        region_id=region_id,
        now=context.now,
    )
    await _send(update, stats_text(t, report, tz))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(stats_csv(report, tz)), filename=f"stats-{period}.csv"),
        caption=t("The figures as a spreadsheet (CSV)."),
    )


# --- registration --------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, Context, Any]]:
    """The persistent conversations (registered before other handlers)."""
    return [_newevent_handler(), _manage_handler()]


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("attendees", attendees_command, filters=PRIVATE),
        CommandHandler("stats", stats_command, filters=PRIVATE),
        CallbackQueryHandler(attendees_pressed, pattern=r"^oe:att:\d+$"),
        CallbackQueryHandler(csv_pressed, pattern=r"^oe:csv:\d+$"),
        CallbackQueryHandler(checkin_list_pressed, pattern=r"^oe:ck:\d+:\d+$"),
        CallbackQueryHandler(toggle_pressed, pattern=r"^oe:tog:\d+:\d+:\d+$"),
        CallbackQueryHandler(qr_pressed, pattern=r"^oe:qr:\d+$"),
        CallbackQueryHandler(stats_period_chosen, pattern=r"^st:p:\d{8}-\d{8}$"),
        CallbackQueryHandler(stats_region_chosen, pattern=r"^st:r:\d{8}-\d{8}:(\d+|all)$"),
    ]
