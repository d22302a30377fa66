"""Memory of one ``samvirke run`` with a large network in the database (issue 16).

Run: ``cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/tests/benchmarks/bench_memory.py
[--members 100000] [--events 10000] [--rsvps 500000] [--database-url URL] [--verbose]``
(SQLite in a temporary folder unless a URL is given; a PostgreSQL database given is wiped).
Prints figures, asserts nothing.

How it is measured:

- The database is seeded with bulk inserts (not the domain services): ``--members`` verified
  members with weekly digests in five regions, ``--events`` published events spread from
  January 2026 to a year after today (half of them past), ``--rsvps`` RSVPs (each event gets
  the same number of distinct members). Member 0 is an administrator.
- ``samvirke run`` (the console script beside this Python) starts as its own process in webhook
  mode against a local fake Bot API (this process, aiohttp, as ``bench_load.py``). SMTP points at
  a closed loopback port, so the queued digests stay in the outbox: the figures are the bot's and
  the digest run's, not the delivery's. ``MALLOC_ARENA_MAX=2`` and
  ``MALLOC_MMAP_THRESHOLD_=131072`` as in ``deploy/`` unless the environment says otherwise.
- Steps, one after the other, each waited for by the bot's answer: start (the webhook set),
  ``/events`` from a member, ``/members`` from the administrator (the CSV of every member),
  ``/stats`` for 2026 over all regions (text and CSV), and a digest run: the weekly digest job
  is held by a lease in ``scheduler_runs`` that the benchmark releases, and the step ends when
  the job has finished. After each step: the process's resident memory (VmRSS in
  ``/proc/<pid>/status``) and its peak so far (VmHWM), and the step's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from sqlalchemy import insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.support

from samvirke.http import WEBHOOK_PATH, webhook_secret
from storage.migrate import upgrade_engine
from storage.models import Event, Member, Region, Rsvp, SchedulerRun
from storage.uow import Database
from tests.benchmarks.bench_rsvp import message_update, press_update
from tests.support.botkit import BOT_ID, BOT_USERNAME, TOKEN

FIRST_USER = 1_000_000
SECTORS = ("civil_society", "public", "business", "foundation", "academia")
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
CHUNK = 10_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


async def seed(db: Database, members: int, events: int, rsvps: int) -> None:
    await upgrade_engine(db.engine)
    now = dt.datetime.now(dt.UTC)
    async with db.engine.begin() as connection:
        regions = (await connection.execute(select(Region.id).order_by(Region.id))).scalars().all()
        for start in range(0, members, CHUNK):
            await connection.execute(
                insert(Member),
                [
                    {
                        "telegram_user_id": FIRST_USER + i,
                        "name": f"Medlem {i}",
                        "email": f"medlem{i}@example.dk",
                        "email_verified_at": now,
                        "organisation": f"Forening {i % 997}",
                        "sector": SECTORS[i % 5],
                        "region_id": regions[i % 5],
                        "language": ("da", "sv", "en")[i % 3],
                        "digest_frequency": "weekly",
                        "role": "member",
                        "consent_at": now,
                        "consent_version": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(members, start + CHUNK))
                ],
            )
        member_ids = (await connection.execute(select(Member.id).order_by(Member.id))).scalars()
        ids = list(member_ids)
        first = dt.datetime(2026, 1, 5, 16, 0, tzinfo=dt.UTC)
        span = (now + dt.timedelta(days=365) - first).total_seconds()
        await connection.execute(
            insert(Event),
            [
                {
                    "uid": f"bench-{n}@samvirke",
                    "title": f"Socialt innovationsmøde {n}",
                    "description": "Korte oplæg, derefter workshop.",
                    "starts_at": first + dt.timedelta(seconds=span * n / events),
                    "ends_at": first + dt.timedelta(seconds=span * n / events, hours=3),
                    "timezone": "Europe/Copenhagen",
                    "location": "Folkets Hus, Aarhus",
                    "region_id": regions[n % 5] if n % 7 else None,
                    "status": "published",
                    "checkin_code": f"B{n:08d}",
                    "created_at": now - dt.timedelta(days=30),
                    "updated_at": now - dt.timedelta(days=30),
                }
                for n in range(events)
            ],
        )
        event_ids = list((await connection.execute(select(Event.id).order_by(Event.id))).scalars())
        per_event = max(1, rsvps // len(event_ids))
        batch: list[dict[str, Any]] = []
        for k, event_id in enumerate(event_ids):
            offset = (k * 7919) % len(ids)
            for j in range(per_event):
                status = ("going", "going", "maybe", "not_going")[j % 4]
                batch.append(
                    {
                        "event_id": event_id,
                        "member_id": ids[(offset + j) % len(ids)],
                        "status": status,
                        "responded_at": now,
                        "going_since": now if status == "going" else None,
                    }
                )
            if len(batch) >= CHUNK:
                await connection.execute(insert(Rsvp), batch)
                batch = []
        if batch:
            await connection.execute(insert(Rsvp), batch)
        # The weekly digest waits, held by a lease, until the benchmark lets it run.
        await connection.execute(
            insert(SchedulerRun),
            [{"name": "digest_weekly", "last_fire_at": None, "locked_until": FAR, "runs": 0}],
        )


class Answers:
    """The Bot API calls the bot made, for waiting on a particular one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.changed = asyncio.Condition()
        self.webhook_set = asyncio.Event()
        self.message_ids = 1

    async def note(self, method: str, chat: str) -> None:
        async with self.changed:
            self.calls.append((method, chat))
            self.changed.notify_all()

    async def wait(self, method: str, chat: int) -> None:
        async with asyncio.timeout(1800), self.changed:
            await self.changed.wait_for(lambda: (method, str(chat)) in self.calls)
        self.calls.clear()


def fake_bot_api(answers: Answers) -> web.Application:
    async def method(request: web.Request) -> web.Response:
        name = request.match_info["method"]
        form = await request.post() if request.can_read_body else {}
        params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        result: Any = True
        if name == "getMe":
            result = {"id": BOT_ID, "is_bot": True, "first_name": "S", "username": BOT_USERNAME}
        elif name == "setWebhook":
            answers.webhook_set.set()
        elif name in ("sendMessage", "editMessageText", "sendDocument", "sendPhoto"):
            answers.message_ids += 1
            result = {
                "message_id": answers.message_ids,
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", "0")), "type": "private"},
                "text": "",
            }
        elif name == "getWebhookInfo":
            result = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if os.environ.get("BENCH_DEBUG"):
            print("   api:", name, params.get("chat_id"), params.get("text", "")[:80])
        if "chat_id" in params:
            await answers.note(name, params["chat_id"])
        return web.json_response({"ok": True, "result": result})

    app = web.Application(client_max_size=200 * 1024 * 1024)
    app.router.add_post("/bot{token}/{method}", method)
    return app


async def digest_finished(db: Database) -> None:
    """Wait until the weekly digest job has run once (the scheduler notes it in the database);
    read without the write lock, which the run may hold."""
    runs = 0
    while not runs:
        await asyncio.sleep(1)
        async with db.reader() as uow:
            runs = (
                await uow.session.scalar(
                    select(SchedulerRun.runs).where(SchedulerRun.name == "digest_weekly")
                )
                or 0
            )


async def run(
    url: str, folder: str, members: int, events: int, rsvps: int, *, verbose: bool
) -> None:
    db = Database(url)
    if url.startswith("postgresql"):
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    began = time.perf_counter()
    await seed(db, members, events, rsvps)
    print(
        f"{url.split(':')[0]}: seeded {members:,} members, {events:,} events, {rsvps:,} RSVPs "
        f"in {time.perf_counter() - began:.0f} s"
    )

    answers = Answers()
    api = web.AppRunner(fake_bot_api(answers))
    await api.setup()
    api_port = free_port()
    await web.TCPSite(api, "127.0.0.1", api_port).start()
    http_port = free_port()
    admin = FIRST_USER
    member = FIRST_USER + 1
    env = dict(os.environ)
    env.update(
        SAMVIRKE_TELEGRAM_TOKEN=TOKEN,
        SAMVIRKE_TELEGRAM_API_URL=f"http://127.0.0.1:{api_port}",
        SAMVIRKE_DATABASE_URL=url,
        SAMVIRKE_PUBLIC_URL="https://bench.example",
        SAMVIRKE_TELEGRAM_MODE="webhook",
        SAMVIRKE_HTTP_PORT=str(http_port),
        SAMVIRKE_ADMINS=str(admin),
        SAMVIRKE_SMTP_HOST="127.0.0.1",
        SAMVIRKE_SMTP_PORT=str(free_port()),  # nothing listens: digests stay queued
        SAMVIRKE_SMTP_SECURITY="none",
        SAMVIRKE_MAIL_DIR=f"{folder}/mail",
        SAMVIRKE_SCHEDULE_DIGEST_WEEKLY="* * * * *",
    )
    # As deploy/ runs it, unless the environment says otherwise (MALLOC_ARENA_MAX=0: glibc's).
    env.setdefault("MALLOC_ARENA_MAX", "2")
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    samvirke = Path(sys.executable).parent / "samvirke"
    process = await asyncio.create_subprocess_exec(
        str(samvirke),
        "run",
        env=env,
        cwd=folder,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=None if verbose else asyncio.subprocess.DEVNULL,
    )
    hook = f"http://127.0.0.1:{http_port}{WEBHOOK_PATH}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(TOKEN)}
    ids = iter(range(1, 10**9))
    step_began = time.perf_counter()

    def report(step: str) -> None:
        nonlocal step_began
        rss, peak = memory(process.pid)
        print(
            f"  {step:<28} RSS {rss:6.0f} MB   peak {peak:6.0f} MB   "
            f"{time.perf_counter() - step_began:7.1f} s"
        )
        step_began = time.perf_counter()

    try:
        await asyncio.wait_for(answers.webhook_set.wait(), timeout=120)
        await asyncio.sleep(2)
        report("started")
        async with ClientSession() as client:

            async def send(update: dict[str, Any]) -> None:
                async with client.post(hook, json=update, headers=headers) as response:
                    await response.read()

            await send(message_update(next(ids), member, "/events"))
            await answers.wait("sendMessage", member)
            report("/events")
            await send(message_update(next(ids), admin, "/members"))
            await answers.wait("sendDocument", admin)
            report("/members CSV")
            await send(message_update(next(ids), admin, "/stats 1.1.2026 31.12.2026"))
            await answers.wait("sendMessage", admin)
            await send(press_update(next(ids), admin, "st:r:20260101-20261231:all"))
            await answers.wait("sendDocument", admin)
            report("/stats 2026, all regions")
        async with db.engine.begin() as connection:
            await connection.execute(
                update(SchedulerRun)
                .where(SchedulerRun.name == "digest_weekly")
                .values(locked_until=None)
            )
        await digest_finished(db)
        async with db.reader() as uow:
            queued = await uow.session.scalar(
                text("SELECT count(*) FROM outbox WHERE key LIKE 'digest:%'")
            )
        report(f"digest run ({queued:,} queued)")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
        await api.cleanup()
        await db.dispose()


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = arguments.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        await run(
            url,
            folder,
            arguments.members,
            arguments.events,
            arguments.rsvps,
            verbose=arguments.verbose,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rsvps", type=int, default=500_000)
    parser.add_argument("--database-url", default=None, help="postgresql+asyncpg://... (wiped)")
    parser.add_argument("--verbose", action="store_true", help="show the log of samvirke run")
    asyncio.run(main(parser.parse_args()))
