"""What the /people screens share: the acting member, ids from callback data, error texts."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.ui.chat import send
from bot.ui.texts import error_text
from storage.errors import DomainError
from storage.members.profiles import MemberView
from templates.i18n import Translator

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
# The one typed answer of the people conversation (bot.people.introductions.conversation), and
# what it is for: "line:<name>", "ask:<member>", "intro:<first>:<second>", "decline:<member>".
TYPING = "people_typing"
TASK = "people_task"


def error_message(t: Translator, error: DomainError) -> str:
    return error_text(t, error)


async def tell_error(update: Update, context: Context, error: DomainError) -> None:
    await send(update, error_message(context.t, error))


def parse_id(text: str) -> int | None:
    """An id from callback data or a command (None when it cannot be one)."""
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def member_of(context: Context) -> MemberView | None:
    return context.member
