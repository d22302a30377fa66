"""Who may use a screen: the members-only guard (the "please sign up first" answer, written
once), and the role check that runs before any question is asked."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.ui.texts import SIGN_UP_FIRST
from storage.errors import NotFound
from storage.members.profiles import MemberView


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
