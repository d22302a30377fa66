"""python-telegram-bot persistence in the project's database (no pickle files).

Conversation states and per-user drafts are written within ``update_interval`` seconds of a
change (and at shutdown), so a restart of the bot continues a sign-up where the member was.

python-telegram-bot offers the user data of everyone who sent an update in the interval for
saving, changed or not; only what changed since it was last loaded or saved is written (most
updates change nothing, and each write is a transaction that takes the write lock on SQLite).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage import bot_state
from storage.uow import Database


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
