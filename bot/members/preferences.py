"""/settings: the member's language and how often they get the digest."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import commands
from bot.context import Context
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, redraw
from bot.ui.guards import members_only
from bot.ui.texts import FREQUENCY_LABELS, LANGUAGE_NAMES, frequency_label
from storage.members import profiles as members


def _screen(context: Context) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    member = context.member
    assert member is not None
    text = "\n".join(
        [
            t("Your settings"),
            "",
            t("Language: {value}", value=LANGUAGE_NAMES.get(member.language, member.language)),
            t("Newsletter by e-mail: {value}", value=frequency_label(t, member.digest_frequency)),
        ]
    )

    markup = keyboards.rows(
        [
            keyboards.button(keyboards.checked(name, code == member.language), f"st:lang:{code}")
            for code, name in LANGUAGE_NAMES.items()
        ],
        [
            keyboards.button(
                keyboards.checked(t(label), code == member.digest_frequency), f"st:digest:{code}"
            )
            for code, label in FREQUENCY_LABELS.items()
        ],
    )
    return text, markup


async def show(update: Update, context: Context) -> None:
    chat = update.effective_chat
    assert chat is not None
    if await members_only(update, context) is None:
        return
    text, markup = _screen(context)
    await chat.send_message(text, reply_markup=markup)


async def changed(update: Update, context: Context) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    member = await members_only(update, context)
    if member is None:
        return
    _, kind, value = (query.data or "::").split(":", 2)
    change = members.set_language if kind == "lang" else members.set_digest_frequency
    member = await change(context.uow(), member.id, value, now=context.now)
    context.use_member(member, None)
    await query.answer(context.t("Saved."))
    text, markup = _screen(context)
    await redraw(update, text, markup)
    if kind == "lang":
        await commands.set_for_chat(context.bot, chat.id, context.actor, context.t)


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        CommandHandler("settings", show, filters=PRIVATE),
        CallbackQueryHandler(changed, pattern=callbacks.matching(r"^st:(lang|digest):\w+$")),
    ]
