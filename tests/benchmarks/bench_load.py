"""Sustained mixed load against one ``samvirke run`` in webhook mode on loopback (issue 16).

Run: ``cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/tests/benchmarks/bench_load.py
[--rate 200] [--duration 60] [--database-url URL] [--verbose]`` (SQLite in a temporary folder
unless a URL is given; a PostgreSQL database given is wiped). Prints figures, asserts nothing.
The environment reaches ``samvirke run``: ``SAMVIRKE_CONCURRENT_UPDATES=1`` measures the bot
handling one update at a time (as before bot.ordering). Replies keep to Telegram's limits (about
30 messages a second, one a second per chat), which then decide the figures at 200 updates/s;
``--no-telegram-limits`` opens the limiter of ``samvirke run`` wide to measure the bot itself.

How it is measured:

- The database gets bench_rsvp's 1,000 members and 10 events. ``samvirke run`` (the console
  script beside this Python) starts as its own process in webhook mode, with
  ``SAMVIRKE_TELEGRAM_API_URL`` pointing at a local fake Bot API (this process, aiohttp), which
  answers every method and notes the time of each answer the bot gives.
- Updates are POSTed to ``/telegram/webhook`` at a fixed rate (open loop: the schedule does not
  wait for answers), mixed 60 % RSVP presses (Going / Maybe / Can't go on a random event),
  20 % ``/events`` from members, 20 % text typed into the sign-up conversation by 300 people
  who are not members yet (each sent ``/start`` first: a name, then e-mail addresses).
  A person has at most one update waiting for its answer at a time (chosen from those idle),
  so an answer belongs to one update.
- Latency: from the POST to the bot's first answer for that update (answerCallbackQuery for a
  press, the first sendMessage/editMessageText to that chat for a message). Lost: no answer
  10 s after the run. Answered twice: a press answered more than once. Also the RSS of the
  ``samvirke run`` process at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.support

from samvirke.http import WEBHOOK_PATH, webhook_secret
from storage.uow import Database
from tests.benchmarks.bench_rsvp import (
    FIRST_USER,
    MEMBERS,
    message_update,
    prepare,
    press_update,
)
from tests.support.botkit import BOT_ID, BOT_USERNAME, TOKEN

# --no-telegram-limits: ``samvirke run`` with its rate limiter opened wide, to measure what the
# bot itself can handle. Telegram allows about 30 messages a second (and one per chat): there,
# every reply and card redraw waits its turn, and that limit, not the bot, decides (issue 16).
UNLIMITED_RUN = """
import sys

import samvirke.runtime
from samvirke.cli import main
from scheduler.telegram.ratelimit import RateLimiter


class Unlimited(RateLimiter):
    def __init__(self, **_kwargs):
        super().__init__(rate=1_000_000, chat_interval=0.0, group_rate=1_000_000)


samvirke.runtime.RateLimiter = Unlimited
sys.exit(main(["run"]))
"""
FIRST_STRANGER = 900_000
STRANGERS = 300
GRACE = 10.0  # seconds to wait for the last answers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    waiting: dict[str, tuple[float, str, int]] = field(default_factory=dict)  # key: sent, kind
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"press": [], "events": [], "text": []}
    )
    answered_presses: Counter[str] = field(default_factory=Counter)
    idle: dict[str, list[int]] = field(default_factory=dict)
    webhook_set: asyncio.Event = field(default_factory=asyncio.Event)
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    message_ids: int = 1

    async def all_answered(self, seconds: float) -> None:
        self.drained.clear()
        if self.waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), seconds)

    def answered(self, key: str) -> None:
        entry = self.waiting.pop(key, None)
        if entry is None:
            return
        if not self.waiting:
            self.drained.set()
        sent, kind, user = entry
        self.latencies[kind].append(time.perf_counter() - sent)
        pool = "strangers" if kind == "text" else "members"
        # Freed a moment later: the rest of this update's calls are not the next one's answer.
        asyncio.get_running_loop().call_later(0.5, self.idle[pool].append, user)


def fake_bot_api(tally: Tally) -> web.Application:
    async def method(request: web.Request) -> web.Response:
        name = request.match_info["method"]
        form = await request.post() if request.can_read_body else {}
        params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        result: Any = True
        if name == "getMe":
            result = {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Samvirke",
                "username": BOT_USERNAME,
            }
        elif name == "setWebhook":
            tally.webhook_set.set()
        elif name == "answerCallbackQuery":
            query = params.get("callback_query_id", "")
            tally.answered_presses[query] += 1
            tally.answered(f"q{query}")
        elif name in ("sendMessage", "editMessageText", "sendDocument", "sendPhoto"):
            chat = params.get("chat_id", "0")
            tally.answered(f"c{chat}")
            tally.message_ids += 1
            result = {
                "message_id": tally.message_ids,
                "date": int(time.time()),
                "chat": {"id": int(chat), "type": "private"},
                "text": params.get("text", ""),
            }
        elif name in ("getWebhookInfo",):
            result = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    return app


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def run(
    url: str, rate: float, duration: float, folder: str, *, verbose: bool, limits: bool = True
) -> None:
    db = Database(url)
    if url.startswith("postgresql"):
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    event_ids = await prepare(db)
    await db.dispose()

    tally = Tally()
    tally.idle = {
        "members": [FIRST_USER + i for i in range(MEMBERS)],
        "strangers": [FIRST_STRANGER + i for i in range(STRANGERS)],
    }
    api = web.AppRunner(fake_bot_api(tally))
    await api.setup()
    api_port = free_port()
    await web.TCPSite(api, "127.0.0.1", api_port).start()
    http_port = free_port()
    env = dict(os.environ)
    env.update(
        SAMVIRKE_TELEGRAM_TOKEN=TOKEN,
        SAMVIRKE_TELEGRAM_API_URL=f"http://127.0.0.1:{api_port}",
        SAMVIRKE_DATABASE_URL=url,
        SAMVIRKE_PUBLIC_URL="https://bench.example",
        SAMVIRKE_TELEGRAM_MODE="webhook",
        SAMVIRKE_HTTP_PORT=str(http_port),
        SAMVIRKE_MAIL_DIR=f"{folder}/mail",
    )
    command = (
        [str(Path(sys.executable).parent / "samvirke"), "run"]
        if limits
        else [sys.executable, "-c", UNLIMITED_RUN]
    )
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=folder,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=None if verbose else asyncio.subprocess.DEVNULL,
    )
    hook = f"http://127.0.0.1:{http_port}{WEBHOOK_PATH}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(TOKEN)}
    ids = iter(range(1, 10**9))
    randomly = random.Random(16)
    try:
        await asyncio.wait_for(tally.webhook_set.wait(), timeout=120)
        async with ClientSession() as client:

            async def post(update: dict[str, Any], key: str, kind: str, user: int) -> None:
                tally.waiting[key] = (time.perf_counter(), kind, user)
                async with client.post(hook, json=update, headers=headers) as response:
                    await response.read()

            # The strangers start signing up (not measured).
            for user in tally.idle["strangers"]:
                await client.post(
                    hook, json=message_update(next(ids), user, "/start"), headers=headers
                )
            await asyncio.sleep(3)
            tally.latencies = {"press": [], "events": [], "text": []}
            tally.waiting.clear()

            sent: Counter[str] = Counter()
            skipped = 0
            tasks = set()
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < duration:
                due = start + n / rate
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                n += 1
                roll = randomly.random()
                kind = "press" if roll < 0.6 else "events" if roll < 0.8 else "text"
                pool = tally.idle["strangers" if kind == "text" else "members"]
                if not pool:
                    skipped += 1
                    continue
                user = pool.pop(randomly.randrange(len(pool)))
                update_id = next(ids)
                if kind == "press":
                    event = randomly.choice(event_ids)
                    answer = randomly.choice("gmn")
                    update = press_update(update_id, user, f"ev:rsvp:{event}:{answer}")
                    key = f"q{update_id}"
                elif kind == "events":
                    update, key = message_update(update_id, user, "/events"), f"c{user}"
                else:
                    typed = "Karen Holm" if randomly.random() < 0.3 else "karen(at)example"
                    update, key = message_update(update_id, user, typed), f"c{user}"
                sent[kind] += 1
                task = asyncio.create_task(post(update, key, kind, user))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            wall = time.perf_counter() - start
            if tasks:  # every update handed over before the session closes
                await asyncio.wait(set(tasks))
            await tally.all_answered(GRACE)
        everything = [v for values in tally.latencies.values() for v in values]
        twice = sum(1 for count in tally.answered_presses.values() if count > 1)
        concurrency = env.get("SAMVIRKE_CONCURRENT_UPDATES", "128 (default)")
        print(
            f"{url.split(':')[0]}, SAMVIRKE_CONCURRENT_UPDATES={concurrency}"
            f"{'' if limits else ', no Telegram limits'}: "
            f"{sum(sent.values())} updates in {wall:.1f} s "
            f"({sum(sent.values()) / wall:.0f}/s asked {rate:.0f}/s; {skipped} not sent: "
            "nobody idle)"
        )
        for kind, values in [*tally.latencies.items(), ("all", everything)]:
            print(
                f"  {kind:<7} {len(values):6d} answered   p50 {percentile(values, 0.5):7.1f} ms"
                f"   p99 {percentile(values, 0.99):7.1f} ms"
            )
        print(
            f"  unanswered {GRACE:.0f} s after the run (lost or still queued): "
            f"{len(tally.waiting)}; "
            f"presses answered twice: {twice}; RSS of samvirke run {rss_mb(process.pid):.0f} MB"
        )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
        await api.cleanup()


async def main(
    rate: float, duration: float, database_url: str | None, *, verbose: bool, limits: bool = True
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        await run(url, rate, duration, folder, verbose=verbose, limits=limits)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="updates per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--database-url", default=None, help="postgresql+asyncpg://... (wiped)")
    parser.add_argument("--verbose", action="store_true", help="show the log of samvirke run")
    parser.add_argument(
        "--no-telegram-limits",
        action="store_true",
        help="open the bot's rate limiter wide: what the bot itself handles (Telegram would not)",
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.rate,
            arguments.duration,
            arguments.database_url,
            verbose=arguments.verbose,
            limits=not arguments.no_telegram_limits,
        )
    )
