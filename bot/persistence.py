"""python-telegram-bot persistence in the project's database (no pickle files).

Conversation states and per-user drafts are written within ``update_interval`` seconds of a
change (and at shutdown), so a restart of the bot continues a sign-up where the member was.
"""

from __future__ import annotations

import datetime as dt
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

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        return await bot_state.load_user_data(self._db.unit_of_work())

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        await bot_state.save_user_data(self._db.unit_of_work(), user_id, data, self._clock())

    async def drop_user_data(self, user_id: int) -> None:
        await bot_state.drop_user_data(self._db.unit_of_work(), user_id)

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
