"""/newevent: organisers create an event in a conversation (title, description, time, place,
region, seats, answer deadline), see a preview, change any answer, and publish. The draft
survives a restart (a persistent conversation; answers in ``user_data``).

Every rule (who may publish where, what a field may hold) is in storage; the handlers ask, call
storage.event_publishing.create, and show the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.channels import posts as channel_posts
from bot.context import Context
from bot.events import forms
from bot.events.browse import bot_username
from bot.events.cards import send_card
from bot.events.forms import Step, from_iso, network_tz, to_iso
from bot.ui import callbacks, drafts, keyboards, limits
from bot.ui.chat import PRIVATE, TEXT, acting, answer_press, prefaced, send, typed_text
from bot.ui.conversation import ask_again
from bot.ui.texts import error_text
from storage import regions
from storage.errors import DomainError, InvalidInput
from storage.events import programme
from storage.events import publishing as event_publishing
from storage.events import rules as event_rules
from storage.events import views as events
from storage.events.public import page_link
from storage.events.publishing import EventDraft
from templates.formatting import format_moment, format_when
from templates.i18n import Translator

DRAFT = "newevent"
N_PROGRAMME = "programme"

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


def _draft(context: Context) -> dict[str, Any]:
    return drafts.draft(context, DRAFT)


# --- the questions ---------------------------------------------------------------------------


async def ask_title(update: Update, context: Context) -> str:
    await send(
        update,
        context.t("What is the title of the event?") + "\n" + forms.keep_hint(context.t),
    )
    return N_TITLE


async def ask_description(update: Update, context: Context) -> str:
    t = context.t
    await send(
        update,
        t("Describe the event: programme, who it is for, price. Or press Skip."),
        keyboards.column([keyboards.button(t("Skip"), "ne:desc:skip")]),
    )
    return N_DESCRIPTION


async def ask_when(update: Update, context: Context) -> str:
    await send(update, forms.when_question(context))
    return N_WHEN


async def ask_end(update: Update, context: Context) -> str:
    await forms.ask_end_time(update, context)
    return N_END


async def confirm_when(update: Update, context: Context) -> str:
    await forms.confirm_when(update, context, DRAFT, "ne")
    return N_WHEN_OK


async def ask_place(update: Update, context: Context) -> str:
    await send(
        update,
        context.t(
            "Where is it? Type the address, an online link (https://…), or both in one message."
        ),
    )
    return N_PLACE


async def ask_region(update: Update, context: Context) -> str:
    await forms.ask_region_for(update, context, "ne:region")
    return N_REGION


async def ask_capacity(update: Update, context: Context) -> str:
    await forms.ask_seats(update, context, "ne:cap:none")
    return N_CAPACITY


async def ask_deadline(update: Update, context: Context) -> str:
    t = context.t
    start = from_iso(_draft(context).get("starts_at"))
    await send(
        update,
        forms.deadline_question(context, start),
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
    tz = network_tz(context)
    start, end = from_iso(draft.get("starts_at")), from_iso(draft.get("ends_at"))
    deadline = from_iso(draft.get("deadline"))
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
    items = programme.parse(str(draft["programme"])) if draft.get("programme") else []
    if items:
        after = "\n".join(["", "", t("Programme:"), *(item.compact() for item in items)])
    else:
        after = "\n\n" + t("A programme is optional: add it with Change something.")
    text = "\n".join(lines) + after
    if draft.get("description"):
        # Members see the whole description on the event page or with "Show all".
        text, _ = limits.fit("\n".join(lines) + "\n\n", str(draft["description"]), after)
    markup = keyboards.column(
        [
            keyboards.button(t("Publish"), "ne:publish"),
            keyboards.button(t("Change something"), "ne:change"),
            keyboards.button(t("Discard the draft"), "ne:discard"),
        ]
    )
    await send(update, text, markup)
    return N_PREVIEW


async def _next(update: Update, context: Context, step: Step) -> str | int:
    """The next question, or back to the preview when the organiser is changing one answer."""
    if _draft(context).get("back"):
        return await preview(update, context)
    return await step(update, context)


# --- the answers -----------------------------------------------------------------------------


async def newevent(update: Update, context: Context) -> str | int:
    """/newevent: start a draft (organisers)."""
    actor = acting(context)
    if not actor.is_organiser:  # an administrator needs not sign up first
        await send(update, error_text(context.t, DomainError("organisers_only")))
        return ConversationHandler.END
    drafts.start(context, DRAFT, {})
    intro = context.t("Let us create an event. I will show you a preview first.")
    async with prefaced(update, intro):  # one message: the intro, then the first question
        return await ask_title(update, context)


async def _keep(
    update: Update,
    context: Context,
    field: str,
    read: Callable[[str], object],
    ask: Step,
    then: Step,
) -> str | int:
    """Keep a typed answer as ``read`` returns it, then go on to ``then`` (or ask again)."""
    try:
        _draft(context)[field] = read(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask)
    return await _next(update, context, then)


async def title_typed(update: Update, context: Context) -> str | int:
    return await _keep(
        update, context, "title", event_rules.validate_title, ask_title, ask_description
    )


async def description_typed(update: Update, context: Context) -> str | int:
    return await _keep(
        update, context, "description", event_rules.validate_description, ask_description, ask_when
    )


async def description_skipped(update: Update, context: Context) -> str | int:
    await answer_press(update, keep_buttons=False)
    _draft(context)["description"] = ""
    return await _next(update, context, ask_when)


async def when_typed(update: Update, context: Context) -> str | int:
    try:
        end_missing = forms.store_when(context, DRAFT, typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_when)
    if end_missing:
        return await ask_end(update, context)
    return await confirm_when(update, context)


async def end_typed(update: Update, context: Context) -> str | int:
    try:
        forms.store_end(context, DRAFT, typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_end)
    return await confirm_when(update, context)


async def when_answered(update: Update, context: Context) -> str | int:
    data = await answer_press(update, keep_buttons=False)
    if data.endswith(":again"):
        return await ask_when(update, context)
    draft = _draft(context)
    start = from_iso(draft.get("starts_at"))
    deadline = from_iso(draft.get("deadline"))
    if start is not None and deadline is not None and deadline > start:
        draft["deadline"] = None
        await send(update, context.t("The answer deadline was after the new start: removed."))
    return await _next(update, context, ask_place)


async def place_typed(update: Update, context: Context) -> str | int:
    try:
        location, online_url = event_rules.split_place(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_place)
    draft = _draft(context)
    draft["location"], draft["online_url"] = location, online_url
    return await _next(update, context, ask_region)


async def region_chosen(update: Update, context: Context) -> str | int:
    data = await answer_press(update, keep_buttons=False)
    choice = data.rsplit(":", 1)[-1]
    region_id = None if choice == "all" else int(choice)
    if not event_rules.may_manage(acting(context), region_id):
        return await ask_again(update, context, DomainError("event_other_region"), ask_region)
    _draft(context)["region"] = "all" if region_id is None else region_id
    return await _next(update, context, ask_capacity)


async def capacity_typed(update: Update, context: Context) -> str | int:
    return await _keep(
        update, context, "capacity", event_rules.validate_capacity, ask_capacity, ask_deadline
    )


async def capacity_none(update: Update, context: Context) -> str | int:
    await answer_press(update, keep_buttons=False)
    _draft(context)["capacity"] = None
    return await _next(update, context, ask_deadline)


async def deadline_typed(update: Update, context: Context) -> str | int:
    draft = _draft(context)
    try:
        deadline = forms.read_deadline(context, typed_text(update))
        start = from_iso(draft.get("starts_at"))
        assert start is not None
        event_rules.validate_deadline(deadline, start=start, now=context.now)
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_deadline)
    draft["deadline"] = to_iso(deadline)
    return await preview(update, context)


async def deadline_none(update: Update, context: Context) -> str | int:
    await answer_press(update, keep_buttons=False)
    _draft(context)["deadline"] = None
    return await preview(update, context)


async def ask_programme(update: Update, context: Context) -> str:
    t = context.t
    await send(
        update,
        t(
            "Send the programme, one item per line: a time, a title, and optionally – the "
            "speaker, their organisation. For example:\n13:00 Welcome – Karen Jensen, "
            "Teknologisk Institut\n13:15 Short talks\n15:00 Workshop\nSend - to remove the "
            "programme, /cancel to stop."
        ),
    )
    return N_PROGRAMME


async def programme_typed(update: Update, context: Context) -> str | int:
    try:
        items = programme.parse(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_programme)
    _draft(context)["programme"] = programme.as_text(items)
    return await preview(update, context)


# --- preview, change, publish ----------------------------------------------------------------


async def change_chosen(update: Update, context: Context) -> str:
    await answer_press(update, keep_buttons=False)
    t = context.t
    buttons = [
        keyboards.button(t(label), f"ne:field:{f}") for f, label in forms.FIELD_LABELS.items()
    ]
    buttons.append(keyboards.button(t("Programme (optional)"), "ne:field:programme"))
    await send(update, t("What do you want to change?"), keyboards.column(buttons))
    return N_PREVIEW


QUESTIONS: dict[str, Step] = {
    "title": ask_title,
    "description": ask_description,
    "when": ask_when,
    "place": ask_place,
    "region": ask_region,
    "capacity": ask_capacity,
    "deadline": ask_deadline,
    "programme": ask_programme,
}
STATES: dict[str, Step] = {
    N_TITLE: ask_title,
    N_DESCRIPTION: ask_description,
    N_WHEN: ask_when,
    N_END: ask_end,
    N_WHEN_OK: confirm_when,
    N_PLACE: ask_place,
    N_REGION: ask_region,
    N_CAPACITY: ask_capacity,
    N_DEADLINE: ask_deadline,
    N_PROGRAMME: ask_programme,
    N_PREVIEW: preview,
}


async def field_chosen(update: Update, context: Context) -> str | int:
    field = (await answer_press(update, keep_buttons=False)).rsplit(":", 1)[-1]
    return await QUESTIONS.get(field, preview)(update, context)


def _draft_event(draft: dict[str, Any]) -> EventDraft:
    start, end = from_iso(draft.get("starts_at")), from_iso(draft.get("ends_at"))
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
        rsvp_deadline=from_iso(draft.get("deadline")),
        programme=tuple(programme.parse(str(draft["programme"]))) if draft.get("programme") else (),
    )


async def publish(update: Update, context: Context) -> str | int:
    await answer_press(update, keep_buttons=False)
    t = context.t
    draft = _draft(context)
    try:
        view = await event_publishing.create(
            context.uow(),
            acting(context),
            _draft_event(draft),
            now=context.now,
            timezone=context.services.settings.timezone,
        )
    except DomainError as error:
        # E.g. the start passed while the draft waited: fix that answer, then publish.
        return await ask_again(update, context, error, preview)
    drafts.drop(context, DRAFT)
    link = event_rules.event_link(bot_username(context), view.id)
    text = t("Published! Members can find it with /events.")
    if link:
        text += "\n" + t("Share this link to invite people: {link}", link=link)
    page = page_link(context.services.settings.public_url, view.id)
    if page:
        text += "\n" + t("Its page for everyone, also outside Telegram: {link}", link=page)
    await send(update, text)
    lines = [item.compact() for item in _draft_event(draft).programme]
    await send_card(update, context, events.EventCard(view, None, lines))
    await channel_posts.offer(update, context, view)
    return ConversationHandler.END


async def discard(update: Update, context: Context) -> int:
    if update.callback_query is not None:
        await answer_press(update, keep_buttons=False)
    drafts.drop(context, DRAFT)
    await send(update, context.t("The draft is discarded. Nothing was published."))
    return ConversationHandler.END


# --- registration ----------------------------------------------------------------------------


def handler() -> ConversationHandler[Context]:
    """The persistent /newevent conversation (registered before other handlers)."""

    def guards(state: str, *, expects_text: bool) -> list[BaseHandler[Update, Context, Any]]:
        return forms.guards(STATES, state, "ne", "newevent", expects_text=expects_text)

    return ConversationHandler(
        entry_points=[CommandHandler("newevent", newevent, filters=PRIVATE)],
        states={
            N_TITLE: [MessageHandler(TEXT, title_typed), *guards(N_TITLE, expects_text=True)],
            N_DESCRIPTION: [
                MessageHandler(TEXT, description_typed),
                CallbackQueryHandler(
                    description_skipped, pattern=callbacks.matching(r"^ne:desc:skip$")
                ),
                *guards(N_DESCRIPTION, expects_text=True),
            ],
            N_WHEN: [MessageHandler(TEXT, when_typed), *guards(N_WHEN, expects_text=True)],
            N_END: [MessageHandler(TEXT, end_typed), *guards(N_END, expects_text=True)],
            N_WHEN_OK: [
                CallbackQueryHandler(
                    when_answered, pattern=callbacks.matching(r"^ne:when:(ok|again)$")
                ),
                *guards(N_WHEN_OK, expects_text=False),
            ],
            N_PLACE: [MessageHandler(TEXT, place_typed), *guards(N_PLACE, expects_text=True)],
            N_REGION: [
                CallbackQueryHandler(
                    region_chosen, pattern=callbacks.matching(r"^ne:region:(\d+|all)$")
                ),
                *guards(N_REGION, expects_text=False),
            ],
            N_CAPACITY: [
                MessageHandler(TEXT, capacity_typed),
                CallbackQueryHandler(capacity_none, pattern=callbacks.matching(r"^ne:cap:none$")),
                *guards(N_CAPACITY, expects_text=True),
            ],
            N_DEADLINE: [
                MessageHandler(TEXT, deadline_typed),
                CallbackQueryHandler(deadline_none, pattern=callbacks.matching(r"^ne:dl:none$")),
                *guards(N_DEADLINE, expects_text=True),
            ],
            N_PROGRAMME: [
                MessageHandler(TEXT, programme_typed),
                *guards(N_PROGRAMME, expects_text=True),
            ],
            N_PREVIEW: [
                CallbackQueryHandler(publish, pattern=callbacks.matching(r"^ne:publish$")),
                CallbackQueryHandler(change_chosen, pattern=callbacks.matching(r"^ne:change$")),
                CallbackQueryHandler(field_chosen, pattern=callbacks.matching(r"^ne:field:\w+$")),
                CallbackQueryHandler(discard, pattern=callbacks.matching(r"^ne:discard$")),
                *guards(N_PREVIEW, expects_text=False),
            ],
        },
        fallbacks=[CommandHandler("cancel", discard)],
        name="newevent",
        persistent=True,
        allow_reentry=False,
    )
