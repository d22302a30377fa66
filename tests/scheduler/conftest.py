"""The stand-in Telegram Bot API server the delivery tests send to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.botapi_server import BotApiServer
from tests.support.broadcastkit import TOKEN


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    """A Bot API server on a free loopback port that answers and records every call."""
    server = await BotApiServer(TOKEN).start()
    try:
        yield server
    finally:
        await server.stop()
