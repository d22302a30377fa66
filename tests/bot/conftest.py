"""The bot harness: the real Application on a fresh database, its Bot API calls recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.uow import Database
from tests.support.botkit import BotHarness, start_bot, stop_bot
from tests.support.clock import Clock


@pytest.fixture
async def bot(db: Database, clock: Clock) -> AsyncIterator[BotHarness]:
    """The bot, running on ``db`` with the test ``clock`` (starting at ``now``)."""
    harness = await start_bot(db, clock)
    yield harness
    await stop_bot(harness)
