"""The objects every handler gets: shared services, and who is talking in which language."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, cast

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, ContextTypes, ExtBot

from samvirke.settings import Settings
from storage.clock import Clock, utcnow
from storage.members.profiles import MemberView
from storage.members.recent import RecentMembers
from storage.permissions import Actor
from storage.uow import Database, UnitOfWork
from templates.i18n import Translator, pick_language, translator

log = logging.getLogger(f"samvirke.{__name__}")


@dataclass
class Services:
    """Shared objects, injected once at start-up (see bot.app.build_application)."""

    settings: Settings
    db: Database
    clock: Clock = field(default=utcnow)
    # The members behind recent updates (see storage.members.recent for when they are fresh).
    members: RecentMembers = field(init=False)

    def __post_init__(self) -> None:
        self.members = RecentMembers(self.db.engine)

    def uow(self) -> UnitOfWork:
        return self.db.unit_of_work()

    def reader(self) -> UnitOfWork:
        """For services that only read (storage.uow.Database.reader)."""
        return self.db.reader()


BotData = dict[str, Any]
UserData = dict[str, Any]
ChatData = dict[str, Any]


class Context(CallbackContext[ExtBot[None], UserData, ChatData, BotData]):
    """Per-update context; ``member``, ``actor`` and ``t`` are filled in by ``load_viewer``."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.member: MemberView | None = None
        self.actor: Actor | None = None
        self.t: Translator = translator("en")

    @property
    def services(self) -> Services:
        return cast(Services, self.bot_data["services"])

    @property
    def now(self) -> dt.datetime:
        return self.services.clock()

    def uow(self) -> UnitOfWork:
        return self.services.uow()

    def reader(self) -> UnitOfWork:
        """A read-only unit of work: for pure reads such as listings (never commits)."""
        return self.services.reader()

    def use_member(self, member: MemberView | None, telegram_language: str | None) -> None:
        """Remember who this is and pick their language (their choice, else Telegram's)."""
        settings = self.services.settings
        self.member = member
        self.t = translator(
            pick_language(
                member.language if member else None,
                telegram_language,
                default=settings.default_language,
            )
        )
        user_id = self._user_id
        if member is not None:
            self.actor = member.actor(settings.admins)
        elif user_id is not None:
            self.actor = Actor(
                telegram_user_id=user_id, member_id=None, is_admin=user_id in settings.admins
            )


CONTEXT_TYPES = ContextTypes(context=Context, bot_data=dict, user_data=dict, chat_data=dict)

AppType = Application[ExtBot[None], Context, UserData, ChatData, BotData, Any]


async def load_viewer(update: Update, context: Context) -> None:
    """Runs first for every update: the member behind it (one query, or none when they sent an
    update a moment ago: storage.members.recent) and their language.

    If the database cannot be read, the person gets an apology in their Telegram language and
    the update stops here: no handler may treat a member as a stranger.
    """
    from storage.members import profiles as members

    user = update.effective_user
    language = user.language_code if user else None
    context.use_member(None, language)
    if user is None:
        return
    try:
        # A pure read, on every update: it must not queue behind writers (SQLite's write lock).
        member = await context.services.members.find_by_telegram(context.reader(), user.id)
    except Exception:
        log.exception("could not load the member behind update %s", update.update_id)
        await apologise(update, context)
        raise ApplicationHandlerStop from None
    context.use_member(member, language)
    if member is not None and member.telegram_username != user.username:
        try:
            await members.note_telegram_username(context.uow(), member.id, user.username)
        except Exception:  # the update goes on; the name is noted next time
            log.warning("could not note the Telegram username of member %s", member.id)


async def apologise(update: Update, context: Context) -> None:
    """Tell the person something went wrong on our side (never raises)."""
    chat = update.effective_chat
    if chat is None:
        return
    if update.callback_query is not None:
        with contextlib.suppress(Exception):
            await update.callback_query.answer()
    try:
        await context.bot.send_message(
            chat.id,
            context.t("Sorry, something went wrong on our side. Please try again in a moment."),
        )
    except Exception:  # the reply itself failed: nothing more to tell the person
        log.warning("could not send the error message to a chat")
