"""Telegram delivery end to end: outbox rows -> TelegramDelivery -> python-telegram-bot's HTTP
client -> a stand-in Bot API server on loopback that enforces Telegram's limits.

Every test that touches the outbox runs on SQLite and on PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut

from samvirke.settings import Settings
from scheduler.telegram.delivery import (
    TelegramDelivery,
    TelegramOptions,
    TelegramReport,
    make_bot,
)
from scheduler.telegram.messages import classify
from storage import outbox
from storage.models import OutboxStatus
from storage.scheduling import UNREACHABLE
from storage.uow import Database
from tests.support.botapi_server import BotApiServer
from tests.support.broadcastkit import TOKEN, Clock, add_members, member, outbox_rows, statuses

# python-telegram-bot 22 warns, when it builds a RetryAfter (a 429), that ``retry_after`` will
# become a timedelta; the delivery reads either.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), "unreachable"),
        (Forbidden("Forbidden: user is deactivated"), "unreachable"),
        (BadRequest("Chat not found"), "unreachable"),
        (BadRequest("Can't parse entities: unsupported start tag"), "failed"),
        (TimedOut(), "retry"),
        (NetworkError("Bad Gateway"), "retry"),
        (OSError("connection refused"), "retry"),
    ],
)
def test_failures_are_sorted(error: Exception, kind: str) -> None:
    assert classify(error).kind == kind


# --- delivery through the stand-in Bot API -------------------------------------------------------


def settings_for(api: BotApiServer, db: Database) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=TOKEN,
        telegram_api_url=api.url,
        database_url=db.url,
    )


@pytest.fixture
async def bot(api: BotApiServer, db: Database) -> AsyncIterator[Bot]:
    client = make_bot(settings_for(api, db), timeout=5.0)
    try:
        yield client
    finally:
        await client.request.shutdown()


def delivery(db: Database, bot: Bot, clock: Clock, **options: Any) -> TelegramDelivery:
    return TelegramDelivery(db, bot, options=TelegramOptions(**options), clock=clock)


async def queue(
    db: Database,
    now: dt.datetime,
    key: str,
    chat_id: int,
    text: str,
    *,
    member_id: int | None = None,
    **payload: Any,
) -> None:
    async with db.unit_of_work() as uow:
        await outbox.enqueue(
            uow.session,
            key=key,
            channel=outbox.TELEGRAM,
            member_id=member_id,
            payload={"chat_id": chat_id, "text": text, "parse_mode": None, "buttons": None}
            | payload,
            now=now,
        )
        await uow.commit()


async def test_text_photo_and_document_arrive_as_queued(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    buttons = [[{"text": "Åbn", "url": "https://t.me/sv_bot?start=event_1"}]]
    await queue(db, now, "t:1", 501, "<b>Møde</b> i Aarhus", parse_mode="HTML", buttons=buttons)
    await queue(db, now, "t:2", 502, "Program", photo="PHOTO-ID", parse_mode="HTML")
    await queue(db, now, "t:3", 503, "Deltagerliste", document="DOC-ID")

    report = await delivery(db, bot, clock).run_once()

    assert report == TelegramReport(claimed=3, sent=3)
    by_chat = {a.chat_id: a for a in api.sent()}
    assert by_chat[501].method == "sendMessage"
    assert (by_chat[501].text, by_chat[501].parse_mode) == ("<b>Møde</b> i Aarhus", "HTML")
    assert by_chat[501].reply_markup == {
        "inline_keyboard": [[{"text": "Åbn", "url": "https://t.me/sv_bot?start=event_1"}]]
    }
    assert (by_chat[502].method, by_chat[502].photo, by_chat[502].text) == (
        "sendPhoto",
        "PHOTO-ID",
        "Program",
    )
    assert (by_chat[503].method, by_chat[503].document) == ("sendDocument", "DOC-ID")
    rows = await outbox_rows(db)
    assert statuses(rows) == {OutboxStatus.SENT: 3}
    assert all(r.sent_at == now for r in rows.values())
    # What was said is not kept once it is delivered.
    assert all("text" not in r.payload for r in rows.values())


async def test_a_member_who_blocked_the_bot_is_marked_and_skipped_from_then_on(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    [karen, lars] = await add_members(db, 2, first_telegram_id=600, now=now)
    api.blocked.add(karen.telegram_user_id)
    await queue(db, now, "t:k1", karen.telegram_user_id, "one", member_id=karen.id)
    await queue(db, now, "t:k2", karen.telegram_user_id, "two", member_id=karen.id)
    await queue(db, now, "t:l1", lars.telegram_user_id, "hello", member_id=lars.id)

    report = await delivery(db, bot, clock).run_once()

    assert (report.sent, report.unreachable, report.failed, report.retried) == (1, 2, 0, 0)
    assert api.refused == 1  # Karen's second message was not even tried
    assert (await member(db, karen.id)).unreachable_at == now
    assert (await member(db, lars.id)).unreachable_at is None
    rows = await outbox_rows(db, "t:k")
    assert {r.status for r in rows.values()} == {OutboxStatus.FAILED}
    assert all(str(r.last_error).startswith(f"{UNREACHABLE}: ") for r in rows.values())

    # A later message to Karen is skipped without asking Telegram.
    await queue(db, now, "t:k3", karen.telegram_user_id, "three", member_id=karen.id)
    report = await delivery(db, bot, clock).run_once()
    assert (report.claimed, report.unreachable, report.sent) == (1, 1, 0)
    assert api.refused == 1
    assert api.sent_to(karen.telegram_user_id) == []


async def test_chat_not_found_is_unreachable_and_bad_markup_fails_at_once(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    [gone, broken] = await add_members(db, 2, first_telegram_id=700, now=now)
    api.missing.add(gone.telegram_user_id)
    api.broken.add(broken.telegram_user_id)
    await queue(db, now, "t:gone", gone.telegram_user_id, "x", member_id=gone.id)
    await queue(db, now, "t:broken", broken.telegram_user_id, "<b>x", member_id=broken.id)

    report = await delivery(db, bot, clock).run_once()

    assert (report.unreachable, report.failed, report.retried) == (1, 1, 0)
    rows = await outbox_rows(db)
    assert str(rows["t:gone"].last_error).startswith(f"{UNREACHABLE}: 400")
    assert rows["t:broken"].status == OutboxStatus.FAILED
    assert "can't parse entities" in str(rows["t:broken"].last_error).lower()
    assert (await member(db, gone.id)).unreachable_at == now
    assert (await member(db, broken.id)).unreachable_at is None


async def test_server_errors_are_retried_with_backoff_then_fail(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    api.server_errors = 100
    await queue(db, now, "t:1", 801, "hello")
    send = delivery(db, bot, clock, max_attempts=3, backoff_base=dt.timedelta(seconds=30))

    assert (await send.run_once()).retried == 1
    [row] = (await outbox_rows(db)).values()
    assert (row.status, row.next_attempt_at) == (OutboxStatus.RETRY, now + dt.timedelta(seconds=30))
    assert (await send.run_once()).claimed == 0  # not due yet
    clock.advance(seconds=30)
    assert (await send.run_once()).retried == 1
    [row] = (await outbox_rows(db)).values()
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=60)  # doubled
    clock.advance(seconds=60)
    assert (await send.run_once()).failed == 1
    [row] = (await outbox_rows(db)).values()
    assert row.status == OutboxStatus.FAILED
    assert str(row.last_error).startswith("gave up after 3 attempts")
    assert api.sent() == []


async def test_a_server_error_then_success(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    api.server_errors = 1
    await queue(db, now, "t:1", 801, "hello")
    send = delivery(db, bot, clock)
    await send.run_once()
    clock.advance(minutes=1)
    assert (await send.run_once()).sent == 1
    assert [a.text for a in api.sent()] == ["hello"]


async def test_an_erased_payload_fails_without_a_request(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    async with db.unit_of_work() as uow:
        await outbox.enqueue(
            uow.session, key="t:erased", channel=outbox.TELEGRAM, payload={"erased": True}, now=now
        )
        await uow.commit()
    report = await delivery(db, bot, clock).run_once()
    assert report.failed == 1
    assert api.requests == 0


async def test_a_time_out_is_retried(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer
) -> None:
    api.latency = 1.5
    client = make_bot(settings_for(api, db), timeout=0.5)
    try:
        await queue(db, now, "t:slow", 901, "hello")
        report = await delivery(db, client, clock).run_once()
    finally:
        await client.request.shutdown()
    assert report.retried == 1
    [row] = (await outbox_rows(db)).values()
    assert row.status == OutboxStatus.RETRY
    assert "TimedOut" in str(row.last_error)


# --- Telegram's limits --------------------------------------------------------------------------


async def test_messages_to_one_chat_are_a_second_apart_and_in_order(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    for i in range(3):
        await queue(db, now, f"t:same:{i}", 42, f"message {i}")
    for chat in range(100, 110):
        await queue(db, now, f"t:other:{chat}", chat, "hello")

    started = time.monotonic()
    report = await delivery(db, bot, clock).run_once()

    assert report.sent == 13
    assert api.too_many == 0
    same = api.sent_to(42)
    assert [a.text for a in same] == ["message 0", "message 1", "message 2"]
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(same))
    # The others did not wait behind chat 42.
    others = [a.at for a in api.sent() if a.chat_id != 42]
    assert max(others) - started < 1.0


async def test_no_more_than_thirty_a_second_and_no_429(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    for chat in range(1000, 1075):
        await queue(db, now, f"t:{chat}", chat, f"hello {chat}")

    started = time.monotonic()
    report = await delivery(db, bot, clock).run_once()
    elapsed = time.monotonic() - started

    assert report.sent == 75
    assert api.too_many == 0
    assert api.max_in_one_second() <= 30
    assert elapsed >= 2.0  # 75 messages need more than two windows of 30
    assert sorted(a.chat_id for a in api.sent()) == list(range(1000, 1075))


async def test_429_is_honoured_and_nothing_is_lost_or_doubled(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    # Someone else uses the same bot: the server allows this process only 5 a second.
    api.rate = 5
    for chat in range(2000, 2020):
        await queue(db, now, f"t:{chat}", chat, f"hello {chat}")

    report = await delivery(db, bot, clock).run_once()

    assert report.sent == 20
    assert report.throttled == api.too_many > 0
    assert report.retried == report.failed == 0
    assert sorted(a.chat_id for a in api.sent()) == list(range(2000, 2020))


async def test_two_workers_never_send_the_same_row(
    db: Database, now: dt.datetime, clock: Clock, api: BotApiServer, bot: Bot
) -> None:
    api.enforce_limits = False
    for chat in range(3000, 3120):
        await queue(db, now, f"t:{chat}", chat, f"hello {chat}")
    second_bot = make_bot(settings_for(api, db), timeout=5.0)
    try:
        first = delivery(db, bot, clock, batch_size=20)
        second = delivery(db, second_bot, clock, batch_size=20)

        async def drain(worker: TelegramDelivery) -> int:
            sent = 0
            while (report := await worker.run_once()).claimed:
                sent += report.sent
            return sent

        counts = await asyncio.gather(drain(first), drain(second))
    finally:
        await second_bot.request.shutdown()
    assert sum(counts) == 120
    assert sorted(a.chat_id for a in api.sent()) == list(range(3000, 3120))
