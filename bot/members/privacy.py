"""/privacy: what is stored and why, an export of it all, and erasure on request."""

from __future__ import annotations

import io
import json

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, remove_buttons
from bot.ui.guards import members_only
from storage.members import privacy


async def show(update: Update, context: Context) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    if context.member is None:
        if context.user_data:  # a sign-up (or another conversation) under way: say so
            await chat.send_message(
                t(
                    "You have started signing up. Until you finish, we keep what you have typed "
                    "so far (such as your name and e-mail address), for at most a day. Send "
                    "/cancel to delete it now."
                )
            )
            return
        await chat.send_message(
            t("We store nothing about you until you sign up and agree. Send /start to sign up.")
        )
        return
    text = "\n\n".join(
        [
            t("Your data"),
            t(
                "We store your name, e-mail address, organisation, sector, region, language, "
                "newsletter choice and Telegram id, when you agreed, and a log of changes to "
                "your account."
            ),
            t(
                "When you use the bot, we also store your answers to events (going, maybe, "
                "can't go, the waiting list) and your check-ins; in the timebank, your balance, "
                "your offers and requests and the exchanges of hours you were part of; and a "
                "record of the messages and e-mails we sent you."
            ),
            t(
                "Why: to invite you to the network's meetings, to send you the newsletter you "
                "chose, and to count participation by sector and region for the network's "
                "funders (as totals, without names). The network's organisers can see your name, "
                "e-mail, organisation, sector and region."
            ),
            t(
                "You can get a copy of all of it as a file, or delete it. Deleting is immediate "
                "and cannot be undone."
            ),
        ]
    )
    markup = keyboards.column(
        [
            keyboards.button(t("Export my data"), "pv:export"),
            keyboards.button(t("Delete my data"), "pv:delete"),
            keyboards.button(t("Member directory"), "pp:me"),  # bot.people.directory
        ]
    )
    await chat.send_message(text, reply_markup=markup)


async def export(update: Update, context: Context) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    member = await members_only(update, context)
    if member is None:
        return
    await query.answer()
    data = await privacy.export(context.uow(), member.id, now=context.now)
    content = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await chat.send_document(
        InputFile(io.BytesIO(content), filename="samvirke-my-data.json"),
        caption=context.t("All the data we store about you."),
    )


async def confirm_delete(update: Update, context: Context) -> None:
    t = context.t
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    if await members_only(update, context) is None:
        return
    await query.answer()
    await chat.send_message(
        t(
            "Do you really want to delete your data? Your name, e-mail address, organisation "
            "and Telegram id are erased at once and cannot be restored. Numbers the network has "
            "already counted stay as numbers, without your name."
        ),
        reply_markup=keyboards.column(
            [
                keyboards.button(t("Yes, delete everything"), "pv:delete:yes"),
                keyboards.button(t("No, keep my data"), "pv:delete:no"),
            ]
        ),
    )


async def delete(update: Update, context: Context) -> None:
    t = context.t
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    await query.answer()
    if query.message is not None:
        await remove_buttons(update)
    if (query.data or "").endswith(":no"):
        await chat.send_message(t("Good: nothing was deleted."))
        return
    if context.member is None:
        await chat.send_message(t("There is nothing stored about you."))
        return
    telegram_user_id = await privacy.erase(context.uow(), context.member.id, now=context.now)
    if telegram_user_id is not None:
        # Forget drafts held in memory too (the database rows are already gone).
        context.application.drop_user_data(telegram_user_id)
    context.member = None
    await chat.send_message(
        t(
            "Your data has been deleted. Thank you for being part of the network. "
            "Send /start if you want to join again."
        )
    )


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        CommandHandler("privacy", show, filters=PRIVATE),
        CallbackQueryHandler(export, pattern=callbacks.matching(r"^pv:export$")),
        CallbackQueryHandler(confirm_delete, pattern=callbacks.matching(r"^pv:delete$")),
        CallbackQueryHandler(delete, pattern=callbacks.matching(r"^pv:delete:(yes|no)$")),
    ]
