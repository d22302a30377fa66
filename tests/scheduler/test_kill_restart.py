"""``kill -9`` real ``samvirke worker`` processes in the middle of a run, start one again, and
count what arrived: every mail (by Message-ID) and every Telegram message (by its unique text)
arrives, and nothing arrives twice but what the kill interrupted.

Two workers run side by side first (they must share the work, not repeat it), against a real
SMTP server (aiosmtpd) and a stand-in Bot API server that enforces Telegram's limits, both
served on loopback by this test. Then both are killed with SIGKILL mid-run.

What "nothing twice" can mean: a message whose request had reached the server when the worker
died, but whose outcome was not yet written, is sent again after the restart. Neither SMTP nor
the Bot API can tell a sender whether an interrupted request went through, so exactly-once is
not possible for those few; a mail sent again keeps its Message-ID (receivers drop the copy).
The test therefore proves: no message is lost; a message arrives twice only if its row was
in flight at the kill (the database says which); and nothing else arrives twice, even with two
workers claiming from the same outbox at the same time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import itertools
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select, update

from scheduler.mail.compose import message_id
from scheduler.mail.delivery import DeliveryOptions
from storage import outbox
from storage.models import OutboxMessage, OutboxStatus
from storage.uow import Database
from tests.support.botapi_server import BotApiServer
from tests.support.broadcastkit import TOKEN
from tests.support.mailserver import RecordingHandler, SmtpServer

SAMVIRKE = str(Path(sys.executable).with_name("samvirke"))
MAIL_FROM = "samvirke@samvirke.test"
MAILS = 400
CHATS = 240
SAME_CHAT = 777_777  # five messages to one chat: the per-chat limit holds across restarts
SAME_CHAT_MESSAGES = 5


class SlowHandler(RecordingHandler):
    """An SMTP server that takes 25 ms per mail, so that the kill lands mid-run."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(0.025)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = await SmtpServer(SlowHandler()).start()
    try:
        yield server
    finally:
        await server.stop()


async def queue_work(db: Database, now: dt.datetime) -> tuple[set[str], set[str]]:
    """The mails and Telegram messages the workers owe: their Message-IDs and texts."""
    mail_ids, texts = set(), set()
    async with db.unit_of_work() as uow:
        for i in range(MAILS):
            key = f"kill:mail:{i}"
            await outbox.enqueue(
                uow.session,
                key=key,
                channel=outbox.EMAIL,
                payload={
                    "template": "verification",
                    "language": "da",
                    "to_name": f"Medlem {i}",
                    "to_email": f"medlem{i}@example.dk",
                    "context": {"name": f"Medlem {i}", "code": f"{i:06d}", "minutes": 30},
                },
                now=now,
            )
            mail_ids.add(message_id(key, "samvirke.test"))
        chats = [(1_000_000 + i, f"kill:tg:{i}") for i in range(CHATS)]
        chats += [(SAME_CHAT, f"kill:same:{i}") for i in range(SAME_CHAT_MESSAGES)]
        for chat_id, key in chats:
            text = f"besked {key}"
            await outbox.enqueue_telegram(uow.session, key=key, chat_id=chat_id, text=text, now=now)
            texts.add(text)
        await uow.commit()
    return mail_ids, texts


class Worker:
    """One ``samvirke worker`` process; its log goes to a file."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.log = folder / f"{name}.log"
        self.folder = folder
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Worker:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                SAMVIRKE,
                "worker",
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        assert self.process is not None
        async with asyncio.timeout(30):
            return await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM: the worker finishes what it has in hand and exits."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await self.wait()
        except TimeoutError:
            self.kill()  # never leave a worker behind
            raise


def worker_env(db: Database, smtp: SmtpServer, api: BotApiServer, rate: int) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    return {
        **clean,
        "SAMVIRKE_DATABASE_URL": db.url,
        "SAMVIRKE_SMTP_HOST": "127.0.0.1",
        "SAMVIRKE_SMTP_PORT": str(smtp.port),
        "SAMVIRKE_SMTP_SECURITY": "none",
        "SAMVIRKE_MAIL_FROM": MAIL_FROM,
        "SAMVIRKE_TELEGRAM_TOKEN": TOKEN,
        "SAMVIRKE_TELEGRAM_API_URL": api.url,
        "SAMVIRKE_TELEGRAM_RATE": str(rate),
    }


async def wait_until(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Poll ``condition`` (the servers and the database have no event to wait on)."""
    async with asyncio.timeout(seconds):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def status_counts(db: Database) -> dict[str, int]:
    return await outbox.counts(db.unit_of_work())


async def in_flight(db: Database) -> dict[str, dict[str, Any]]:
    async with db.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.IN_FLIGHT)
            )
        ).all()
        return {r.key: dict(r.payload) for r in rows}


async def test_kill_9_mid_run_then_restart_loses_nothing_and_repeats_only_the_interrupted(
    db: Database, tmp_path: Path, smtp: SmtpServer, api: BotApiServer
) -> None:
    mail_ids, texts = await queue_work(db, dt.datetime.now(dt.UTC))
    received_mails = smtp.handler.received

    # Two workers side by side, sharing Telegram's 30 messages a second.
    env = worker_env(db, smtp, api, rate=15)
    first = await Worker("first", tmp_path, env).start()
    second = await Worker("second", tmp_path, env).start()
    try:

        async def under_way() -> bool:  # a third of the mails and a quarter of the messages
            return len(received_mails) >= MAILS // 3 and len(api.sent()) >= CHATS // 4

        await wait_until(under_way, 90)
        first.kill()
        await asyncio.sleep(0.3)
        second.kill()
        assert await first.wait() == -signal.SIGKILL
        assert await second.wait() == -signal.SIGKILL
    finally:
        for worker in (first, second):
            if worker.process is not None and worker.process.returncode is None:
                worker.kill()
    at_kill = (len(received_mails), len(api.sent()))
    assert at_kill[0] < MAILS, "the kill came too late to interrupt the mail"
    assert at_kill[1] < CHATS, "the kill came too late to interrupt the messages"

    # What the kill interrupted: the rows the dead workers held. Their leases would run out
    # (10 and 5 minutes); the test lets that time pass at once.
    interrupted = await in_flight(db)
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.IN_FLIGHT)
            .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await uow.commit()

    total = MAILS + CHATS + SAME_CHAT_MESSAGES
    restarted = await Worker("restarted", tmp_path, worker_env(db, smtp, api, rate=30)).start()
    try:

        async def all_sent() -> bool:
            return (await status_counts(db)).get(OutboxStatus.SENT, 0) == total

        await wait_until(all_sent, 120)
    finally:
        assert await restarted.stop() == 0

    assert await status_counts(db) == {OutboxStatus.SENT: total}

    # Every mail arrived; a mail arrived twice only if the kill interrupted its row.
    by_id = Counter(
        email.message_from_bytes(m.data, policy=email.policy.default)["Message-ID"]
        for m in received_mails
    )
    assert set(by_id) == mail_ids
    interrupted_ids = {message_id(k, "samvirke.test") for k in interrupted if "mail" in k}
    twice_mail = {i for i, n in by_id.items() if n > 1}
    assert twice_mail <= interrupted_ids
    assert max(by_id.values()) <= 2
    # Each killed worker had at most max_unmarked mails sent but not yet recorded.
    assert len(twice_mail) <= 2 * DeliveryOptions().max_unmarked

    # Every Telegram message arrived; one arrived twice only if the kill interrupted its row.
    by_text = Counter(a.text for a in api.sent())
    assert set(by_text) == texts
    interrupted_texts = {f"besked {k}" for k in interrupted if ":tg:" in k or ":same:" in k}
    twice_text = {t for t, n in by_text.items() if n > 1}
    assert twice_text <= interrupted_texts
    assert max(by_text.values()) <= 2
    # Five messages to one chat, a second apart, across workers and restarts.
    same = sorted(a.at for a in api.sent_to(SAME_CHAT))
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(same))

    # The logs hold ids and counts, never addresses or texts.
    logs = "".join(
        (tmp_path / f"{name}.log").read_text() for name in ("first", "second", "restarted")
    )
    assert "@example.dk" not in logs
    assert "besked " not in logs
    assert TOKEN not in logs

    print(  # the figures, for the record (pytest -s)
        f"\nkill -9 after {at_kill[0]}/{MAILS} mails and {at_kill[1]}/{CHATS + 5} messages; "
        f"rows in flight at the kill: {len(interrupted)}; "
        f"arrived twice: {len(twice_mail)} mail(s), {len(twice_text)} message(s); "
        f"429s: {api.too_many}"
    )
    async with db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == total
