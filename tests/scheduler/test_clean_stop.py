"""SIGTERM to a real ``samvirke worker`` in the middle of a mail batch (a digest run's mails)
and a Telegram send-out (a broadcast's messages): it exits by itself within 10 seconds, nothing
it had claimed waits for a lease, and a successor delivers the rest with nothing sent twice."""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.uow import Database
from tests.scheduler.test_kill_restart import (
    CHATS,
    MAILS,
    SAME_CHAT_MESSAGES,
    SlowHandler,
    Worker,
    in_flight,
    queue_work,
    status_counts,
    wait_until,
    worker_env,
)
from tests.support.botapi_server import BotApiServer
from tests.support.broadcastkit import TOKEN
from tests.support.mailserver import SmtpServer


@pytest.fixture
async def slow_smtp() -> AsyncIterator[SmtpServer]:
    server = await SmtpServer(SlowHandler()).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApiServer]:
    server = await BotApiServer(TOKEN).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stop_mid_run_hands_back_at_once_and_loses_nothing(
    db: Database,
    now: dt.datetime,
    tmp_path: Path,
    slow_smtp: SmtpServer,
    bot_api: BotApiServer,
    sig: signal.Signals,
) -> None:
    mail_ids, texts = await queue_work(db, now)
    env = worker_env(db, slow_smtp, bot_api, rate=20)
    received = slow_smtp.handler.received
    first = await Worker("first", tmp_path, env).start()
    try:
        await wait_until(lambda: _at_least(len(received) >= 40 and len(bot_api.sent()) >= 20), 90)
        assert first.process is not None
        first.process.send_signal(sig)
        began = time.monotonic()
        code = await first.wait()
        took = time.monotonic() - began
    finally:
        if first.process is not None and first.process.returncode is None:
            first.kill()
    log = first.log.read_text()
    assert code == 0, log[-2000:]
    assert took < 10, f"stopping took {took:.1f} s"
    assert len(received) < MAILS, "the stop came too late to interrupt the mail"
    assert len(bot_api.sent()) < CHATS, "the stop came too late to interrupt the messages"
    # Nothing the stopped worker had claimed waits for its lease to run out.
    assert await in_flight(db) == {}
    counts = await status_counts(db)
    assert counts.get("in_flight", 0) == 0
    assert "Traceback" not in log

    second = await Worker("second", tmp_path, env).start()
    try:
        total = CHATS + SAME_CHAT_MESSAGES
        await wait_until(
            lambda: _at_least(len(received) >= MAILS and len(bot_api.sent()) >= total), 120
        )
        await wait_until(
            lambda: _done(db, MAILS + total),
            30,
        )
    finally:
        assert await second.stop() == 0
    # Every mail and message arrived exactly once: a clean stop repeats nothing.
    mail_counts = Counter(m.message()["Message-ID"] for m in received)
    assert set(mail_counts) == mail_ids
    assert max(mail_counts.values()) == 1
    text_counts = Counter(a.text for a in bot_api.sent())
    assert set(text_counts) == texts
    assert max(text_counts.values()) == 1


async def _at_least(condition: bool) -> bool:
    return condition


async def _done(db: Database, expected: int) -> bool:
    counts = await status_counts(db)
    return counts.get("sent", 0) == expected
