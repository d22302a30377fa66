"""Every Bot API call the bot makes goes through the process's one rate limiter: checked against
the stand-in Bot API, which enforces Telegram's limits (one message a second per chat) and
answers 429 beyond them."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import RequestData

from scheduler.telegram.ratelimit import RateLimiter
from storage.uow import Database
from tests.support.botapi_server import BotApiServer
from tests.support.botkit import (
    TOKEN,
    BotHarness,
    Clock,
    RecordingRequest,
    start_bot_with,
    stop_bot,
)
from tests.support.broadcastkit import add_members

KAREN = 7001  # an organiser for all regions
FIRST_MEMBER = 70_000


class StandInRequest(RecordingRequest):
    """Each call goes to the stand-in Bot API first, which may refuse it with 429 as Telegram
    would; calls it accepts are answered and recorded as ``RecordingRequest`` does (so a test
    can follow the chat)."""

    def __init__(self, server: BotApiServer) -> None:
        super().__init__()
        self.server = server
        self.client = httpx.AsyncClient()

    async def shutdown(self) -> None:
        await self.client.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        answer = await self.client.post(f"{self.server.url}/bot{TOKEN}/{api_method}", json=params)
        if answer.status_code != 200:
            return answer.status_code, answer.content
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    server = await BotApiServer(TOKEN, enforce_limits=True).start()
    yield server
    await server.stop()


async def limited_bot(db: Database, clock: Clock, api: BotApiServer) -> BotHarness:
    return await start_bot_with(db, clock, request=StandInRequest(api), limiter=RateLimiter())


async def test_the_broadcast_burst_reaches_the_send_button_with_telegrams_limits_on(
    db: Database, clock: Clock, now: dt.datetime, api: BotApiServer
) -> None:
    await add_members(db, 1, first_telegram_id=KAREN, now=now, role="organiser", language="en")
    await add_members(db, 5, first_telegram_id=FIRST_MEMBER, now=now)
    bot = await limited_bot(db, clock, api)
    try:
        replies = await bot.chat.send(KAREN, "/broadcast")
        replies = await bot.chat.send(KAREN, "Netværksmøde i Aarhus den 20. februar")
        assert [m.text for m in replies] == ["Who should get it?"]
        # "Everyone": the question is edited, then the preview and the confirmation follow at
        # once: four calls to one chat, which Telegram takes only one a second.
        replies = await bot.chat.press(KAREN, replies[0], "Everyone")
        assert next(m.text for m in replies) == "This is how the members will see it:"
        assert replies[-1].button_texts[0] == "Send to 6 members"
        assert api.too_many == 0  # spaced by the limiter, not refused
        times = [a.at for a in api.sent_to(KAREN)]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    finally:
        await stop_bot(bot)


async def test_a_429_on_a_handlers_reply_is_waited_out_not_raised(
    db: Database, clock: Clock, now: dt.datetime, api: BotApiServer
) -> None:
    await add_members(db, 1, first_telegram_id=KAREN, now=now, role="organiser", language="en")
    bot = await limited_bot(db, clock, api)
    try:
        # Another process (a worker) has just written to Karen: Telegram answers 429 once.
        api._last_by_chat[KAREN] = time.monotonic()
        started = time.monotonic()
        replies = await bot.chat.send(KAREN, "/broadcast")
        assert next(m.text for m in replies).startswith("Write the message for the members.")
        assert api.too_many == 1
        assert time.monotonic() - started >= api.retry_after  # waited out
    finally:
        await stop_bot(bot)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_background_work_leaves_slots_for_replies_and_waits_while_one_waits() -> None:
    ticks = Ticks()
    limiter = RateLimiter(rate=30, monotonic=ticks)
    for chat in range(1, 100):  # a broadcast takes what background work may take
        if not limiter.ready(ticks.now, background=True):
            break
        limiter.start(chat)
        ticks.now += limiter._pace
    assert limiter._active == 30 - limiter.reserve
    assert limiter.ready(ticks.now)  # a reply still gets a slot at once
    limiter._interactive_waiting = 1
    for chat in range(1, 26):
        limiter.finish(chat)
    ticks.now += 2
    assert limiter.ready(ticks.now)
    assert not limiter.ready(ticks.now, background=True)  # a reply is waiting: it goes first


def test_a_group_gets_at_most_20_messages_a_minute() -> None:
    ticks = Ticks()
    limiter = RateLimiter(monotonic=ticks)
    group = -100123
    sent = 0
    for _ in range(40):
        if limiter.chat_ready(group, ticks.now):
            limiter.start(group)
            limiter.finish(group)
            sent += 1
        ticks.now += 1.5
    assert sent == 20  # within 60 s
    ticks.now += 30
    assert limiter.chat_ready(group, ticks.now)  # the first ones have left the minute
