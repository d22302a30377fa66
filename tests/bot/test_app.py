"""The Application talks to the configured Bot API server for every call and file download."""

from __future__ import annotations

import datetime as dt

from bot import commands
from storage.uow import Database
from tests.support.botkit import TOKEN, Clock, start_bot, stop_bot


async def test_every_bot_api_call_goes_to_the_configured_server(
    db: Database, now: dt.datetime
) -> None:
    bot = await start_bot(db, Clock(now), telegram_api_url="http://127.0.0.1:8081/tg/")
    try:
        await bot.chat.send(7, "/start")
        assert bot.request.calls
        for call in bot.request.calls:
            assert call.url.startswith(f"http://127.0.0.1:8081/tg/bot{TOKEN}/"), call.url
        assert bot.app.bot.base_file_url == f"http://127.0.0.1:8081/tg/file/bot{TOKEN}"
    finally:
        await stop_bot(bot)


async def test_commands_are_registered_in_each_language(db: Database, now: dt.datetime) -> None:
    bot = await start_bot(db, Clock(now))
    try:
        await commands.register_defaults(bot.app.bot, "da")
        calls = bot.request.calls_of("setMyCommands")
        languages = sorted(str(c.params.get("language_code", "")) for c in calls)
        assert languages == ["", "da", "en", "sv"]
        english = next(c for c in calls if c.params.get("language_code") == "en")
        names = [c["command"] for c in english.params["commands"]]
        assert names == [
            "start",
            "events",
            "myevents",
            "people",
            "timebank",
            "profile",
            "settings",
            "privacy",
            "help",
        ]
    finally:
        await stop_bot(bot)
