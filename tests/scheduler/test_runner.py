"""The scheduler as ``samvirke run`` and ``samvirke worker`` start it: mail delivery, Telegram
delivery, broadcast progress and the periodic jobs, concurrently, until the stop event."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

from aiohttp import ClientSession

from samvirke.settings import Settings
from scheduler.runner import Scheduler
from storage import outbox
from storage.broadcasts import creating as broadcast_creating
from storage.broadcasts.audiences import Audience
from storage.broadcasts.content import BroadcastContent
from storage.models import OutboxStatus
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botapi_server import BotApiServer
from tests.support.broadcastkit import TOKEN, add_members, outbox_rows
from tests.support.mailserver import SmtpServer, free_port


async def test_one_scheduler_delivers_mail_messages_and_broadcast_progress(
    db: Database, tmp_path: Path, smtp: SmtpServer, api: BotApiServer
) -> None:
    now = dt.datetime.now(dt.UTC)
    settings = Settings(
        _env_file=None,
        database_url=db.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from="samvirke@samvirke.test",
        mail_dir=tmp_path / "mail",
        telegram_token=TOKEN,
        telegram_api_url=api.url,
    )
    async with db.unit_of_work() as uow:
        await outbox.enqueue(
            uow.session,
            key="mail:1",
            channel=outbox.EMAIL,
            payload={
                "template": "verification",
                "language": "sv",
                "to_name": "Åsa Öberg",
                "to_email": "asa@example.se",
                "context": {"name": "Åsa Öberg", "code": "123456", "minutes": 30},
            },
            now=now,
        )
        await uow.commit()
    await add_members(db, 5, first_telegram_id=4000, now=now)
    view = await broadcast_creating.create(
        db.unit_of_work(),
        Actor(telegram_user_id=1, member_id=None, is_admin=True),
        draft_key="runner",
        content=BroadcastContent("<b>Hej</b>"),
        audience=Audience.everyone(),
        language="en",
        progress_chat_id=1,
        progress_message_id=99,
        now=now,
    )

    scheduler = Scheduler.from_settings(db, settings)
    assert scheduler.telegram is not None
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))
    try:
        async with asyncio.timeout(30):
            while True:
                rows = await outbox_rows(db)
                report = rows.get(f"broadcast-report:{view.id}")
                if report is not None and report.status == OutboxStatus.SENT:
                    break
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await running

    assert [m.rcpt_tos for m in smtp.handler.received] == [["asa@example.se"]]
    assert sorted(a.chat_id for a in api.sent() if a.chat_id != 1) == list(range(4000, 4005))
    assert all(e.text.startswith("Sending your broadcast") for e in api.edits())
    [report_message] = api.sent_to(1)  # the report, once
    assert report_message.text.startswith("Your broadcast is done.\nDelivered: 5")
    assert {r.status for r in (await outbox_rows(db)).values()} == {OutboxStatus.SENT}


async def test_without_a_token_the_scheduler_still_sends_mail(db: Database, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        database_url=db.url,
        mail_dir=tmp_path / "mail",
    )
    scheduler = Scheduler.from_settings(db, settings)
    assert (scheduler.telegram, scheduler.progress, scheduler.bot) == (None, None, None)
    assert scheduler.mail is not None
    stop = asyncio.Event()
    stop.set()
    await scheduler.run(stop)  # starts and stops cleanly


# --- samvirke run: the bot, the scheduler and the HTTP server in one process -----------------


async def test_samvirke_run_delivers_the_outbox_beside_the_bot(
    db: Database, tmp_path: Path, api: BotApiServer
) -> None:
    now = dt.datetime.now(dt.UTC)
    async with db.unit_of_work() as uow:
        await outbox.enqueue_telegram(uow.session, key="run:1", chat_id=4242, text="Hej", now=now)
        await uow.commit()
    http_port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env = {
        **clean,
        "SAMVIRKE_DATABASE_URL": db.url,
        "SAMVIRKE_TELEGRAM_TOKEN": TOKEN,
        "SAMVIRKE_TELEGRAM_API_URL": api.url,
        "SAMVIRKE_HTTP_PORT": str(http_port),
        "SAMVIRKE_MAIL_DIR": str(tmp_path / "mail"),
    }
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("samvirke")),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        await api.wait_for(1, seconds=60)
        async with ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{http_port}/healthz") as answer:
                        assert answer.status == 200
                        assert await answer.json() == {"status": "ok"}
                        break
                except OSError:
                    await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await process.wait()
    assert code == 0, log.read_text()
    assert [(a.chat_id, a.text) for a in api.sent()] == [(4242, "Hej")]
    # Long polling asks for the updates that say a member blocked or unblocked the bot.
    allowed = api.last_params["getUpdates"]["allowed_updates"]
    assert "my_chat_member" in allowed
    assert TOKEN not in log.read_text()
