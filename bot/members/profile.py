"""/profile: see every field and change one. A new e-mail address is confirmed by a code."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.members.menu import verify_keyboard
from bot.ui import keyboards
from bot.ui.texts import error_text, sector_label
from storage import regions
from storage.errors import InvalidInput
from storage.members import profiles as members
from templates.i18n import N_

EDIT_TEXT, EDIT_CHOICE = "edit_text", "edit_choice"
FIELD = "profile_field"
PRIVATE = filters.ChatType.PRIVATE
TEXT_FIELDS = ("name", "email", "organisation")

CHANGE_LABELS = {
    "name": N_("Change name"),
    "email": N_("Change e-mail"),
    "organisation": N_("Change organisation"),
    "sector": N_("Change sector"),
    "region": N_("Change region"),
}
QUESTIONS = {
    "name": N_("Type your name."),
    "email": N_(
        "Type your new e-mail address. We send a code there; until you confirm it, we keep "
        "using the old one."
    ),
    "organisation": N_("Type the name of your organisation, or press Remove."),
    "sector": N_("Which sector do you work in?"),
    "region": N_("Which region are you in?"),
}


async def show(update: Update, context: Context) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    if context.member is None:
        await chat.send_message(t("Please sign up first: send /start."))
        return
    member = await members.get(context.uow(), context.member.id)
    email = member.email
    if not member.email_verified:
        email = t("{email} (not confirmed yet)", email=member.email)
    lines = [
        t("Your profile"),
        "",
        t("Name: {value}", value=member.name),
        t("E-mail: {value}", value=email),
        t("Organisation: {value}", value=member.organisation or "–"),
        t("Sector: {value}", value=sector_label(t, member.sector)),
        t("Region: {value}", value=member.region_name or "–"),
    ]
    if member.pending_email:
        lines.append(t("Waiting for confirmation: {email}", email=member.pending_email))
    buttons = [keyboards.button(t(label), f"pf:edit:{f}") for f, label in CHANGE_LABELS.items()]
    buttons.append(keyboards.button(t("Member directory"), "pp:me"))  # bot.people.directory
    await chat.send_message("\n".join(lines), reply_markup=keyboards.column(buttons))


async def edit(update: Update, context: Context) -> str | int:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    await query.answer()
    if context.member is None:
        await chat.send_message(context.t("Please sign up first: send /start."))
        return ConversationHandler.END
    field = (query.data or "").rsplit(":", 1)[-1]
    if field not in CHANGE_LABELS:
        return ConversationHandler.END
    context.user_data[FIELD] = field  # type: ignore[index]
    return await _ask(update, context, field)


async def _ask(update: Update, context: Context, field: str) -> str:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    question = t(QUESTIONS[field]) + "\n" + t("Send /cancel to keep it as it is.")
    if field == "sector":
        await chat.send_message(question, reply_markup=keyboards.sectors(t, "pf:set"))
        return EDIT_CHOICE
    if field == "region":
        available = await regions.list_active(context.uow())
        await chat.send_message(question, reply_markup=keyboards.regions(available, "pf:set"))
        return EDIT_CHOICE
    markup = None
    if field == "organisation":
        markup = keyboards.column([keyboards.button(t("Remove"), "pf:set:")])
    await chat.send_message(question, reply_markup=markup)
    return EDIT_TEXT


async def _save(update: Update, context: Context, value: str | None) -> str | int:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    assert context.member is not None
    field = str(context.user_data.get(FIELD, ""))  # type: ignore[union-attr]
    try:
        member = await members.update_profile(
            context.uow(), context.member.id, field, value, now=context.now
        )
    except InvalidInput as error:
        await chat.send_message(error_text(t, error))
        return await _ask(update, context, field)
    context.user_data.pop(FIELD, None)  # type: ignore[union-attr]
    context.member = member
    if field == "email":
        await chat.send_message(
            t(
                "We have sent a six-digit code to {email}. Type it here to confirm the new "
                "address.",
                email=member.pending_email,
            ),
            reply_markup=verify_keyboard(context),
        )
    else:
        await chat.send_message(t("Saved."))
        await show(update, context)
    return ConversationHandler.END


async def text_typed(update: Update, context: Context) -> str | int:
    message = update.effective_message
    assert message is not None
    return await _save(update, context, message.text or "")


async def choice_made(update: Update, context: Context) -> str | int:
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    value = (query.data or "").removeprefix("pf:set:")
    return await _save(update, context, value or None)


async def cancel(update: Update, context: Context) -> int:
    context.user_data.pop(FIELD, None)  # type: ignore[union-attr]
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(context.t("Nothing changed."))
    return ConversationHandler.END


async def reask(update: Update, context: Context) -> str:
    chat = update.effective_chat
    assert chat is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    field = str(context.user_data.get(FIELD, "name"))  # type: ignore[union-attr]
    await chat.send_message(
        context.t("You are changing your profile. Please answer the question, or send /cancel.")
    )
    return await _ask(update, context, field)


def _guards() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("cancel", cancel),
        MessageHandler(filters.ALL, reask),
        CallbackQueryHandler(reask),
    ]


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("profile", show, filters=PRIVATE),
        ConversationHandler(
            entry_points=[CallbackQueryHandler(edit, pattern=r"^pf:edit:\w+$")],
            states={
                EDIT_TEXT: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, text_typed),
                    CallbackQueryHandler(choice_made, pattern=r"^pf:set:$"),
                    *_guards(),
                ],
                EDIT_CHOICE: [CallbackQueryHandler(choice_made, pattern=r"^pf:set:"), *_guards()],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="profile",
            persistent=True,
        ),
    ]
