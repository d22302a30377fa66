"""The command menu, registered per language with setMyCommands, and per chat for organisers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from storage.members import profiles as members
from storage.permissions import Actor
from templates.i18n import LANGUAGES, N_, Translator, translator

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(f"samvirke.{__name__}")

MEMBER_COMMANDS: list[tuple[str, str]] = [
    ("start", N_("Sign up, or open the menu")),
    ("events", N_("Upcoming network meetings")),
    ("myevents", N_("Your events and waiting lists")),
    ("people", N_("Find members and ask for an introduction")),
    ("timebank", N_("Timebank: offer and ask for help, log hours")),
    ("profile", N_("See and change your details")),
    ("settings", N_("Language and newsletter")),
    ("privacy", N_("Your data: see, export or delete it")),
    ("help", N_("What I can do for you")),
]
ORGANISER_COMMANDS: list[tuple[str, str]] = [
    ("newevent", N_("Create an event")),
    ("attendees", N_("Who is coming: counts, list, check-in")),
    ("stats", N_("Participation figures for funders")),
    ("report", N_("A report for funders (PDF)")),
    ("members", N_("Member overview and list (CSV)")),
    ("broadcast", N_("Send a message to many members")),
    ("invite", N_("Invitation links for new members")),
]
ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("regions", N_("See and add regions")),
    ("topics", N_("Topics for the member directory")),
    ("channels", N_("The channels and groups I post in")),
]


def for_actor(actor: Actor | None, t: Translator) -> list[tuple[str, str]]:
    entries = list(MEMBER_COMMANDS)
    if actor is not None and actor.is_organiser:
        entries += ORGANISER_COMMANDS
    if actor is not None and actor.is_admin:
        entries += ADMIN_COMMANDS
    return [(command, t(description)) for command, description in entries]


def _bot_commands(actor: Actor | None, t: Translator) -> list[BotCommand]:
    return [BotCommand(command, description) for command, description in for_actor(actor, t)]


async def register_defaults(bot: Bot, default_language: str) -> None:
    """Member commands in each language (by the user's Telegram language), and a default."""
    scope = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands(_bot_commands(None, translator(default_language)), scope=scope)
    for language in LANGUAGES:
        await bot.set_my_commands(
            _bot_commands(None, translator(language)), scope=scope, language_code=language
        )


async def set_for_chat(bot: Bot, chat_id: int, actor: Actor | None, t: Translator) -> None:
    """A member's own menu: in the language they chose, with the commands of their role."""
    try:
        await bot.set_my_commands(_bot_commands(actor, t), scope=BotCommandScopeChat(chat_id))
    except TelegramError as error:
        # The menu is a convenience: a failure here must not spoil what the member did.
        log.warning("could not set the command menu of a chat: %s", type(error).__name__)


async def register_admins(bot: Bot, services: Services) -> None:
    """Each administrator's own menu with their commands from the start, before (or without)
    signing up; one who has signed up gets theirs in their own language."""
    settings = services.settings
    for admin in sorted(settings.admins):
        member = await members.find_by_telegram(services.uow(), admin)
        if member is not None:
            actor, language = member.actor(settings.admins), member.language
        else:
            actor = Actor(telegram_user_id=admin, member_id=None, is_admin=True)
            language = settings.default_language
        await set_for_chat(bot, admin, actor, translator(language))
