"""/profile: see every field and change one. A new e-mail address is confirmed by a code."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
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
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import PRIVATE, prefaced, remove_buttons, send
from bot.ui.conversation import ask_again, guards
from bot.ui.guards import members_only
from bot.ui.texts import sector_label
from storage import regions
from storage.errors import InvalidInput
from storage.members import profiles as members
from templates.i18n import N_

EDIT_TEXT, EDIT_CHOICE = "edit_text", "edit_choice"
DRAFT = "profile"

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
    viewer = await members_only(update, context)
    if viewer is None:
        return
    member = await members.get(context.uow(), viewer.id)
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
    buttons.append(keyboards.button(t("« Menu"), "menu:home"))
    await send(update, "\n".join(lines), keyboards.column(buttons))


async def edit(update: Update, context: Context) -> str | int:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    if await members_only(update, context) is None:
        return ConversationHandler.END
    await query.answer()
    field = (query.data or "").rsplit(":", 1)[-1]
    if field not in CHANGE_LABELS:
        return ConversationHandler.END
    drafts.start(context, DRAFT, {"field": field})
    return await _ask(update, context, field)


async def _ask(update: Update, context: Context, field: str) -> str:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    question = t(QUESTIONS[field]) + "\n" + t("Send /cancel to keep it as it is.")
    back = keyboards.button(t("« Back to your profile"), "pf:back")
    if field == "sector":
        markup = keyboards.sectors(t, "pf:set")
    elif field == "region":
        markup = keyboards.regions(await regions.list_active(context.uow()), "pf:set")
    elif field == "organisation":
        markup = keyboards.column([keyboards.button(t("Remove"), "pf:set:")])
    else:
        markup = InlineKeyboardMarkup([])
    markup = InlineKeyboardMarkup([*markup.inline_keyboard, [back]])
    await send(update, question, markup)
    return EDIT_CHOICE if field in ("sector", "region") else EDIT_TEXT


async def _save(update: Update, context: Context, value: str | None) -> str | int:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    assert context.member is not None
    field = str(drafts.peek(context, DRAFT).get("field", ""))
    try:
        member = await members.update_profile(
            context.uow(), context.member.id, field, value, now=context.now
        )
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_current)
    drafts.drop(context, DRAFT)
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
        async with prefaced(update, t("Saved.")):  # one message: "Saved." and the profile
            await show(update, context)
    return ConversationHandler.END


async def text_typed(update: Update, context: Context) -> str | int:
    message = update.effective_message
    assert message is not None
    return await _save(update, context, message.text or "")


async def choice_made(update: Update, context: Context) -> str | int:
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    value = data.removeprefix("pf:set:")
    if value and drafts.peek(context, DRAFT).get("field") == "region":
        value = str(callbacks.number(data))  # a region id (StaleButton when it is not one)
    await query.answer()
    if query.message is not None:
        await remove_buttons(update)
    return await _save(update, context, value or None)


async def back_pressed(update: Update, context: Context) -> int:
    """« Back to your profile: nothing changes, the profile again."""
    drafts.drop(context, DRAFT)
    query = update.callback_query
    assert query is not None
    await query.answer()
    await remove_buttons(update)
    await show(update, context)
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    drafts.drop(context, DRAFT)
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(context.t("Nothing changed."))
    return ConversationHandler.END


IN_PROFILE_CHANGE = N_(
    "You are changing your profile. Please answer the question, or send /cancel."
)


async def ask_current(update: Update, context: Context) -> str:
    """The question of the field being changed, again."""
    return await _ask(update, context, str(drafts.peek(context, DRAFT).get("field", "name")))


def _guards(*, expects_text: bool) -> list[BaseHandler[Update, Context, Any]]:
    return guards(
        ask_current,
        cancel=cancel,
        expects_text=expects_text,
        own_buttons=r"^pf:",
        in_flow=IN_PROFILE_CHANGE,
    )


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("profile", show, filters=PRIVATE),
        ConversationHandler(
            entry_points=[CallbackQueryHandler(edit, pattern=callbacks.matching(r"^pf:edit:\w+$"))],
            states={
                EDIT_TEXT: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, text_typed),
                    CallbackQueryHandler(back_pressed, pattern=callbacks.matching(r"^pf:back$")),
                    CallbackQueryHandler(choice_made, pattern=callbacks.matching(r"^pf:set:$")),
                    *_guards(expects_text=True),
                ],
                EDIT_CHOICE: [
                    CallbackQueryHandler(back_pressed, pattern=callbacks.matching(r"^pf:back$")),
                    CallbackQueryHandler(choice_made, pattern=callbacks.matching(r"^pf:set:")),
                    *_guards(expects_text=False),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="profile",
            persistent=True,
        ),
    ]
