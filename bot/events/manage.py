"""Organisers edit or cancel a published event, from the Edit and Cancel event buttons on its
card: one field at a time (with the same questions as /newevent), or a cancellation with an
optional message to everyone who answered.

Storage (storage.event_publishing) checks who may manage the event and what a field may hold,
and tells the members; the handlers ask, call it, and say how many were told.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.context import Context
from bot.events import forms
from bot.events.browse import bot_username
from bot.events.cards import send_card
from bot.events.forms import FIELD_LABELS, from_iso, to_iso
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import TEXT, acting, answer_press, send, typed_text
from bot.ui.conversation import ask_again
from bot.ui.texts import error_text
from storage.errors import DomainError, InvalidInput
from storage.events import publishing as event_publishing
from storage.events import rules as event_rules
from storage.events import views as events

EDIT = "editevent"

M_FIELD, M_VALUE, M_END, M_WHEN_OK, M_CANCEL_MESSAGE, M_CANCEL_OK = (
    "field",
    "value",
    "end",
    "when_ok",
    "cancel_message",
    "cancel_ok",
)


def _edit(context: Context) -> dict[str, Any]:
    return drafts.draft(context, EDIT)


async def _open(update: Update, context: Context, **values: object) -> bool:
    """Begin with the event named by the pressed button, if the organiser may manage it and it
    is not cancelled (else say so: False)."""
    data = await answer_press(update, keep_buttons=False)
    view = await events.get(context.uow(), int(data.rsplit(":", 1)[-1]))
    event_rules.require_manager(acting(context), view.region_id)
    if view.cancelled:
        await send(update, error_text(context.t, DomainError("event_cancelled")))
        return False
    drafts.start(
        context,
        EDIT,
        {
            "event_id": view.id,
            "title": view.title,
            "event_starts_at": to_iso(view.starts_at),
            **values,
        },
    )
    return True


async def _give_up(update: Update, context: Context, error: DomainError) -> int:
    """A rule says no to the whole change: say why and leave the conversation."""
    drafts.drop(context, EDIT)
    await send(update, error_text(context.t, error))
    return ConversationHandler.END


# --- editing one field -------------------------------------------------------------------------


async def edit_start(update: Update, context: Context) -> str | int:
    if not await _open(update, context):
        return ConversationHandler.END
    return await ask_edit_field(update, context)


async def ask_edit_field(update: Update, context: Context) -> str:
    t = context.t
    buttons = [keyboards.button(t(label), f"oe:f:{f}") for f, label in FIELD_LABELS.items()]
    await send(
        update,
        t("What do you want to change in “{title}”?", title=_edit(context).get("title", ""))
        + "\n"
        + forms.keep_hint(t),
        keyboards.column(buttons),
    )
    return M_FIELD


async def ask_edit_value(update: Update, context: Context) -> str:
    t = context.t
    field = _edit(context).get("field")
    if field == "region":
        await forms.ask_region_for(update, context, "oe:v:region")
    elif field == "capacity":
        await forms.ask_seats(update, context, "oe:v:none")
    elif field == "deadline":
        start = from_iso(_edit(context).get("event_starts_at"))
        await send(
            update,
            forms.deadline_question(context, start),
            keyboards.column([keyboards.button(t("No deadline"), "oe:v:none")]),
        )
    elif field == "when":
        await send(update, forms.when_question(context))
    elif field == "description":
        await send(update, t("Type the new description."))
    elif field == "place":
        await send(update, t("Type the new address, online link, or both."))
    else:
        await send(update, t("Type the new title."))
    return M_VALUE


async def edit_field_chosen(update: Update, context: Context) -> str | int:
    field = (await answer_press(update, keep_buttons=False)).rsplit(":", 1)[-1]
    if field not in FIELD_LABELS:
        return await ask_edit_field(update, context)
    _edit(context)["field"] = field
    return await ask_edit_value(update, context)


async def _save(update: Update, context: Context, value: Any) -> str | int:
    t = context.t
    edit = _edit(context)
    try:
        outcome = await event_publishing.update(
            context.uow(),
            acting(context),
            int(edit["event_id"]),
            str(edit["field"]),
            value,
            now=context.now,
            bot_username=bot_username(context),
        )
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_edit_value)
    except DomainError as error:  # e.g. the event was cancelled or is over meanwhile
        return await _give_up(update, context, error)
    drafts.drop(context, EDIT)
    if not outcome.changed:
        await send(update, t("Nothing changed."))
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
        await send(update, " ".join(lines))
    member_id = context.member.id if context.member else None
    card = await events.get_card(context.uow(), outcome.event.id, member_id=member_id)
    await send_card(update, context, card)
    return ConversationHandler.END


async def edit_value_typed(update: Update, context: Context) -> str | int:
    field = _edit(context).get("field")
    text = typed_text(update)
    if field == "when":
        try:
            end_missing = forms.store_when(context, EDIT, text)
        except InvalidInput as error:
            return await ask_again(update, context, error, ask_edit_value)
        if end_missing:
            return await ask_edit_end(update, context)
        return await _confirm_edit_when(update, context)
    if field == "deadline":
        try:
            deadline = forms.read_deadline(context, text)
        except InvalidInput as error:
            return await ask_again(update, context, error, ask_edit_value)
        return await _save(update, context, deadline)
    if field == "region":
        return await ask_again(update, context, DomainError("region_unknown"), ask_edit_value)
    return await _save(update, context, text)


async def ask_edit_end(update: Update, context: Context) -> str:
    await forms.ask_end_time(update, context)
    return M_END


async def edit_end_typed(update: Update, context: Context) -> str | int:
    try:
        forms.store_end(context, EDIT, typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_edit_end)
    return await _confirm_edit_when(update, context)


async def _confirm_edit_when(update: Update, context: Context) -> str:
    await forms.confirm_when(update, context, EDIT, "oe")
    return M_WHEN_OK


async def edit_when_answered(update: Update, context: Context) -> str | int:
    data = await answer_press(update, keep_buttons=False)
    if data.endswith(":again"):
        return await ask_edit_value(update, context)
    edit = _edit(context)
    return await _save(update, context, (from_iso(edit["starts_at"]), from_iso(edit["ends_at"])))


async def edit_choice(update: Update, context: Context) -> str | int:
    data = await answer_press(update, keep_buttons=False)
    choice = data.removeprefix("oe:v:")
    if choice == "none":
        return await _save(update, context, None)
    region = choice.removeprefix("region:")
    return await _save(update, context, None if region == "all" else int(region))


# --- cancelling ------------------------------------------------------------------------------


async def cancel_start(update: Update, context: Context) -> str | int:
    if not await _open(update, context, message=None):
        return ConversationHandler.END
    return await ask_cancel_message(update, context)


async def ask_cancel_message(update: Update, context: Context) -> str:
    t = context.t
    await send(
        update,
        t(
            "Cancel “{title}”? Type a message for everyone who answered (why, what happens "
            "instead), or press Without a message.",
            title=_edit(context).get("title", ""),
        )
        + "\n"
        + forms.keep_hint(t),
        keyboards.column([keyboards.button(t("Without a message"), "oe:cm:none")]),
    )
    return M_CANCEL_MESSAGE


async def _confirm_cancel(update: Update, context: Context) -> str:
    t = context.t
    await send(
        update,
        t(
            "Really cancel “{title}”? Everyone who answered is told in Telegram, and invitations "
            "are withdrawn from calendars.",
            title=_edit(context).get("title", ""),
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
        message = event_rules.validate_cancel_message(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_cancel_message)
    _edit(context)["message"] = message
    return await _confirm_cancel(update, context)


async def cancel_without_message(update: Update, context: Context) -> str | int:
    await answer_press(update, keep_buttons=False)
    _edit(context)["message"] = None
    return await _confirm_cancel(update, context)


async def cancel_confirmed(update: Update, context: Context) -> int:
    data = await answer_press(update, keep_buttons=False)
    t = context.t
    edit = drafts.drop(context, EDIT)
    if data.endswith(":no"):
        await send(update, t("Good: the event stays as it is."))
        return ConversationHandler.END
    try:
        outcome = await event_publishing.cancel(
            context.uow(),
            acting(context),
            int(edit["event_id"]),
            message=edit.get("message"),
            now=context.now,
            bot_username=bot_username(context),
        )
    except DomainError as error:
        return await _give_up(update, context, error)
    await send(
        update,
        t("“{title}” is cancelled.", title=outcome.event.title)
        + " "
        + t.plural("{n} member is told.", "{n} members are told.", outcome.notified),
    )
    return ConversationHandler.END


async def manage_stop(update: Update, context: Context) -> int:
    drafts.drop(context, EDIT)
    await send(update, context.t("Nothing changed."))
    return ConversationHandler.END


# --- registration ----------------------------------------------------------------------------


STATES: dict[str, forms.Step] = {
    M_FIELD: ask_edit_field,
    M_VALUE: ask_edit_value,
    M_END: ask_edit_end,
    M_WHEN_OK: _confirm_edit_when,
    M_CANCEL_MESSAGE: ask_cancel_message,
    M_CANCEL_OK: _confirm_cancel,
}


def handler() -> ConversationHandler[Context]:
    """The persistent conversation behind an event's Edit and Cancel event buttons."""

    def guards(state: str, *, expects_text: bool) -> list[BaseHandler[Update, Context, Any]]:
        return forms.guards(STATES, state, "oe:(?:f|v|when|cm|cc)", None, expects_text=expects_text)

    return ConversationHandler(
        entry_points=[
            CallbackQueryHandler(edit_start, pattern=callbacks.matching(r"^oe:edit:\d+$")),
            CallbackQueryHandler(cancel_start, pattern=callbacks.matching(r"^oe:cancel:\d+$")),
        ],
        states={
            M_FIELD: [
                CallbackQueryHandler(edit_field_chosen, pattern=callbacks.matching(r"^oe:f:\w+$")),
                *guards(M_FIELD, expects_text=False),
            ],
            M_VALUE: [
                MessageHandler(TEXT, edit_value_typed),
                CallbackQueryHandler(
                    edit_choice, pattern=callbacks.matching(r"^oe:v:(none|region:(\d+|all))$")
                ),
                *guards(M_VALUE, expects_text=True),
            ],
            M_END: [MessageHandler(TEXT, edit_end_typed), *guards(M_END, expects_text=True)],
            M_WHEN_OK: [
                CallbackQueryHandler(
                    edit_when_answered, pattern=callbacks.matching(r"^oe:when:(ok|again)$")
                ),
                *guards(M_WHEN_OK, expects_text=False),
            ],
            M_CANCEL_MESSAGE: [
                MessageHandler(TEXT, cancel_message_typed),
                CallbackQueryHandler(
                    cancel_without_message, pattern=callbacks.matching(r"^oe:cm:none$")
                ),
                *guards(M_CANCEL_MESSAGE, expects_text=True),
            ],
            M_CANCEL_OK: [
                CallbackQueryHandler(
                    cancel_confirmed, pattern=callbacks.matching(r"^oe:cc:(yes|no)$")
                ),
                *guards(M_CANCEL_OK, expects_text=False),
            ],
        },
        fallbacks=[CommandHandler("cancel", manage_stop)],
        name="manageevent",
        persistent=True,
        allow_reentry=True,
    )
