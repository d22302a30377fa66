"""python-telegram-bot persistence in the project's database (no pickle files).

Conversation states and per-user drafts are written within ``update_interval`` seconds of a
change (and at shutdown), so a restart of the bot continues a sign-up where the member was.

python-telegram-bot offers the user data of everyone who sent an update in the interval for
saving, changed or not; only what changed since it was last loaded or saved is written (most
updates change nothing, and each write is a transaction that takes the write lock on SQLite).

Unfinished sign-ups are forgotten after a day by ``forget_unfinished``, a job of the bot's own
process (``samvirke run``): the running Application holds its own copy of every draft and
conversation state, so the job drops that copy in the same step as the database rows. (Run
in a worker, the bot would keep the draft in memory and write it back at the person's next
message.)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram.ext import BasePersistence, ConversationHandler, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from samvirke.settings import Settings
from storage import bot_state
from storage.uow import Database

if TYPE_CHECKING:
    from bot.context import AppType

log = logging.getLogger(f"samvirke.{__name__}")

FORGET_JOB = "forget_unfinished"


class DatabasePersistence(BasePersistence[dict[str, Any], dict[str, Any], dict[str, Any]]):
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], dt.datetime],
        update_interval: float = 1.0,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._db = db
        self._clock = clock
        # What the database holds for each user, as written or loaded by this process (the
        # database is written only through this persistence); absent means no row.
        self._stored: dict[int, str] = {}

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        loaded = await bot_state.load_user_data(self._db.unit_of_work())
        self._stored = {user_id: _fingerprint(data) for user_id, data in loaded.items()}
        return loaded

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        fingerprint = _fingerprint(data) if data else None
        if self._stored.get(user_id) == fingerprint:
            return  # unchanged: nothing to write
        await bot_state.save_user_data(self._db.unit_of_work(), user_id, data, self._clock())
        if fingerprint is None:
            self._stored.pop(user_id, None)
        else:
            self._stored[user_id] = fingerprint

    async def drop_user_data(self, user_id: int) -> None:
        await bot_state.drop_user_data(self._db.unit_of_work(), user_id)
        self._stored.pop(user_id, None)

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        """The database is written only through this persistence: nothing to refresh."""

    async def get_conversations(self, name: str) -> ConversationDict:
        return await bot_state.load_conversations(self._db.unit_of_work(), name)

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        await bot_state.save_conversation(
            self._db.unit_of_work(), name, key, new_state, self._clock()
        )

    # Chat data, bot data and callback data are not stored (see store_data above).
    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        return {}

    async def get_bot_data(self) -> dict[str, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None


def _fingerprint(data: dict[str, Any]) -> str:
    """A comparable copy of a user's data (the live dict changes in place)."""
    return json.dumps(data, sort_keys=True, default=repr)


# --- forgetting unfinished sign-ups, in the database and in the running bot --------------------


async def forget_unfinished(application: AppType, db: Database, *, now: dt.datetime) -> int:
    """Drop the drafts and conversation states of people who are not members and left them
    for a day (storage.bot_state.forget_unfinished), and the running bot's copies with them:
    their ``user_data`` and their place in every conversation, so that their next message is
    a fresh start and nothing is written back. Returns how many people's drafts went.

    Nothing happens while the bot is not running: before it has loaded the drafts (it would
    load rows this run is deleting) or while it stops; the next run does it."""
    if not application.running:
        return 0
    # What was typed in the last moments is saved first, so it counts as recent.
    await application.update_persistence()
    forgotten = await bot_state.forget_unfinished(db.unit_of_work(), now=now)
    for user_id in forgotten.users:
        application.drop_user_data(user_id)
    states = set(forgotten.conversations)
    for handler in _conversation_handlers(application):
        for name, key in states:
            if name == handler.name:
                # python-telegram-bot has no public way to end someone's conversation from
                # outside; popping the key is what ending it does (and is saved as ended).
                handler._conversations.pop(key, None)
    # The drops reach the persistence now (its record of what the database holds included).
    await application.update_persistence()
    if forgotten.users:
        log.info("dropped %d unfinished sign-up(s)", len(forgotten.users))
    return len(forgotten.users)


def _conversation_handlers(application: AppType) -> list[ConversationHandler[Any]]:
    return [
        handler
        for group in application.handlers.values()
        for handler in group
        if isinstance(handler, ConversationHandler) and handler.persistent
    ]


def forget_job(
    application: AppType,
) -> Callable[[Database, Settings, dt.datetime], Awaitable[int]]:
    """``forget_unfinished`` as a scheduler job of the bot's process (see samvirke.runtime)."""

    async def job(db: Database, _settings: Settings, now: dt.datetime) -> int:
        return await forget_unfinished(application, db, now=now)

    return job
