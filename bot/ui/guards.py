"""Who may use a screen: the members-only guard (the "please sign up first" answer, written
once), the role check that runs before an organiser's or administrator's screen asks anything,
and the gate that keeps the bot's buttons to private chats."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import Context
from bot.ui.chat import acting
from bot.ui.texts import SIGN_UP_FIRST
from storage.errors import DomainError, NotFound
from storage.members.profiles import MemberView
from storage.permissions import Actor, require_admin, require_organiser
from templates.i18n import N_

PRIVATE_ONLY = N_("Please use this button in your private chat with me.")


async def members_only(update: Update, context: Context) -> MemberView | None:
    """The member behind the update; None after asking a stranger to sign up first (a button
    press is answered, so its spinner stops)."""
    if context.member is not None:
        return context.member
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(context.t(SIGN_UP_FIRST))
    return None


def member_of(context: Context) -> MemberView:
    """The member behind the update; a stranger gets the same "sign up first" answer through the
    error handler."""
    if context.member is None:
        raise NotFound("member_not_found")
    return context.member


def private_only(
    *, group_safe: tuple[str, ...] = ()
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """The gate that runs before every feature for a button press: the bot's buttons work only
    in a private chat with the bot. A press in a group or channel (or on an inline message)
    posts nothing there; the presser gets a short private hint on the button instead.
    Buttons whose callback data starts with one of the ``group_safe`` prefixes (followed by
    ":") are made for groups and pass."""
    prefixes = tuple(f"{prefix}:" for prefix in group_safe)

    async def gate(update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type == ChatType.PRIVATE:
            return
        if prefixes and (query.data or "").startswith(prefixes):
            return
        await query.answer(context.t(PRIVATE_ONLY), show_alert=True)
        raise ApplicationHandlerStop

    return gate


Result = TypeVar("Result")
Handler = Callable[[Update, Context], Coroutine[Any, Any, Result]]


def _requiring(rule: Callable[[Actor], None]) -> Callable[[Handler[Result]], Handler[Result]]:
    def decorate(handler: Handler[Result]) -> Handler[Result]:
        @functools.wraps(handler)
        async def guarded(update: Update, context: Context) -> Result:
            try:
                rule(acting(context))
            except DomainError:
                if update.callback_query is not None:
                    await update.callback_query.answer()
                raise  # the error handler says why, politely
            return await handler(update, context)

        return guarded

    return decorate


organisers_only = _requiring(require_organiser)
"""Decorate an organiser's entry point (command or button): the role is checked before it runs,
so a plain member is refused before any question."""

admins_only = _requiring(require_admin)
"""Decorate an administrator's entry point, as :data:`organisers_only`."""
