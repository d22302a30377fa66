"""The one error handler: a clear, localised message to the person, no personal data in logs."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from bot.context import Context, apologise
from bot.ui.callbacks import StaleButton, answer_stale
from bot.ui.texts import error_text
from storage.errors import DomainError
from storage.members import profiles as members

log = logging.getLogger(f"samvirke.{__name__}")


async def on_error(update: object, context: Context) -> None:
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    if isinstance(update, Update):
        # The error handler gets a fresh context: find the person's language again (their
        # Telegram language if the database itself is what failed).
        user = update.effective_user
        context.use_member(None, user.language_code if user else None)
        with contextlib.suppress(Exception):
            member = await members.find_by_telegram(context.uow(), user.id) if user else None
            context.use_member(member, user.language_code if user else None)
    if isinstance(error, StaleButton) and isinstance(update, Update):
        # A forged or mangled button: a clear word, never the apology.
        with contextlib.suppress(Exception):
            await answer_stale(update, context)
        return
    if isinstance(error, DomainError):
        # A rule said no (e.g. a member used an organisers' command): say why, politely.
        if chat is not None:
            await _reply(context, chat.id, error_text(context.t, error))
        return
    if isinstance(error, Forbidden):
        log.info("a chat has blocked the bot")
        return
    if isinstance(error, NetworkError) and chat is None:
        log.warning("Bot API not reachable: %s", type(error).__name__)
        return
    # Only the exception and the update id: an update's content is personal data.
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=error)
    if isinstance(update, Update):
        await apologise(update, context)


async def _reply(context: Context, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id, text)
    except Exception:  # the reply itself failed: nothing more to tell the person
        log.warning("could not send the error message to a chat")
