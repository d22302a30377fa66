"""The one error handler: a clear, localised message to the person, no personal data in logs."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from samvirke.bot.context import Context, load_viewer
from samvirke.bot.texts import error_text
from samvirke.storage.errors import DomainError

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    if isinstance(update, Update):
        # The error handler gets a fresh context: find the person's language again.
        try:
            await load_viewer(update, context)
        except Exception:  # the database itself may be what failed
            log.warning("could not load the member for an error message")
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
    if chat is not None:
        await _reply(
            context,
            chat.id,
            context.t("Sorry, something went wrong on our side. Please try again in a moment."),
        )


async def _reply(context: Context, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id, text)
    except Exception:  # the reply itself failed: nothing more to tell the person
        log.warning("could not send the error message to a chat")
