"""RSVP speed: members press Going 10,000 times through the real Application, next to a bare
echo handler measured in the same run.

Run: ``cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/tests/benchmarks/bench_rsvp.py
[--presses N] [--postgres URL]`` or ``pytest tests/benchmarks/bench_rsvp.py -s`` (SQLite, and
PostgreSQL when ``SAMVIRKE_TEST_POSTGRES_URL`` is set; that database is wiped).

How it is measured:

- **RSVP**: 1,000 members (confirmed e-mail addresses) and 10 events (four of them with 50 seats,
  so the waiting list is used too); every member presses Going on every event once: 10,000
  first answers, each one a real change (an RSVP row, a calendar invite in the outbox, a place
  on the waiting list when full). Each press is a callback query, parsed with
  ``Update.de_json`` and handled by ``Application.process_update`` of the application
  ``samvirke run`` builds (viewer lookup, ``storage.event_rsvps.respond`` under the event's lock,
  answerCallbackQuery with a toast, editMessageText with the redrawn card).
- **Echo**: a bare ``Application`` with one handler that sends the text back, 10,000 messages.
  Also shown: the same echo inside Samvirke's application, i.e. with the member lookup every
  update gets (what any Samvirke handler costs before it does anything): once with the member
  looked up in the database (their first update in a while), once remembered from an update a
  moment before (storage.members.recent). Going presses are measured with the member looked up,
  as after a broadcast.
- Both answer Bot API calls with the same local recording ``BaseRequest`` (tests/support/botkit.py):
  no network. Presses are sequential, one at a time, on one event loop; latency is the time of
  one ``process_update``; throughput is presses divided by the wall time of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, text
from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.support

from bot.app import build_application
from bot.context import Services
from samvirke.settings import load_settings
from storage.events import publishing as event_publishing
from storage.events import views as events
from storage.migrate import upgrade_engine
from storage.models import Member, Region
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botkit import BOT_ID, TOKEN, RecordingRequest

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
MEMBERS = 1000
EVENTS = 10
FIRST_USER = 100_000
ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)


class Lean(RecordingRequest):
    """botkit's recording request, forgetting what it recorded (10,000 cards add up)."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        result = await super().do_request(*args, **kwargs)
        self.calls.clear()
        return result


def stats(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    figures = {
        "per_second": len(latencies) / wall,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
    }
    print(
        f"  {name:<34} {figures['per_second']:8.0f}/s   p50 {figures['p50_ms']:6.2f} ms   "
        f"p99 {figures['p99_ms']:6.2f} ms"
    )
    return figures


class Statements:
    """Counts the SQL statements the engine sends (``before_cursor_execute``: every SELECT,
    INSERT, UPDATE and, on SQLite, the BEGIN; not COMMIT/ROLLBACK, which are not cursor calls)."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        self.seen: list[str] = []
        self.keep = False
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._executed)

    def _executed(self, *args: Any) -> None:
        self.count += 1
        if self.keep:
            self.seen.append(" ".join(str(args[2]).split())[:150])

    def show(self, what: str) -> None:
        print(f"  statements of {what}:")
        for statement in self.seen:
            print(f"    {statement}")
        self.seen.clear()


async def timed(
    updates: list[dict[str, Any]], app: Any, *, cold: bool = False
) -> tuple[list[float], float]:
    """``cold``: the process remembers no member (storage.members.recent) when each update
    arrives, as for a member's first update in a while; the forgetting is not timed."""
    latencies = []
    wall = 0.0
    for data in updates:
        if cold:
            app.bot_data["services"].members.forget_all()
        began = time.perf_counter()
        await app.process_update(Update.de_json(data, app.bot))
        latencies.append(time.perf_counter() - began)
        wall += latencies[-1]
    return latencies, wall


def message_update(update_id: int, user_id: int, text_: str) -> dict[str, Any]:
    """A typed message; a command carries its ``bot_command`` entity, as Telegram sends it (a
    CommandHandler ignores "/events" without one)."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(NOW.timestamp()),
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Karen", "language_code": "da"},
        "text": text_,
    }
    if text_.startswith("/"):
        name = text_.split(" ")[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(name)}]
    return {"update_id": update_id, "message": message}


def press_update(update_id: int, user_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": {"id": user_id, "is_bot": False, "first_name": "Karen", "language_code": "da"},
            "chat_instance": str(user_id),
            "data": data,
            "message": {
                "message_id": update_id,
                "date": int(NOW.timestamp()),
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Samvirke"},
                "text": "card",
            },
        },
    }


async def prepare(db: Database) -> list[int]:
    """Members and events; returns the event ids."""
    await upgrade_engine(db.engine)
    async with db.unit_of_work() as uow:
        region = await uow.session.scalar(select(Region.id).where(Region.code == "midtjylland"))
        await uow.session.execute(
            insert(Member),
            [
                {
                    "telegram_user_id": FIRST_USER + i,
                    "name": f"Medlem {i}",
                    "email": f"medlem{i}@example.dk",
                    "email_verified_at": NOW,
                    "organisation": "Aarhus Kommune",
                    "sector": ("civil_society", "public", "business", "foundation", "academia")[
                        i % 5
                    ],
                    "region_id": region,
                    "language": ("da", "sv", "en")[i % 3],
                    "digest_frequency": "weekly",
                    "role": "member",
                    "consent_at": NOW,
                    "consent_version": "bench",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(MEMBERS)
            ],
        )
        await uow.commit()
    ids = []
    start = dt.datetime(2027, 2, 20, 12, 0, tzinfo=dt.UTC)
    for n in range(EVENTS):
        view = await event_publishing.create(
            db.unit_of_work(),
            ADMIN,
            event_publishing.EventDraft(
                title=f"Innovation på det sociale område – møde {n}",
                description="Korte oplæg, derefter workshop.",
                starts_at=start + dt.timedelta(days=n),
                ends_at=start + dt.timedelta(days=n, hours=4),
                location="Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C",
                online_url=None,
                region_id=region,
                capacity=50 if n % 3 == 0 else None,
            ),
            now=NOW,
            timezone="Europe/Copenhagen",
        )
        ids.append(view.id)
    return ids


async def echo(update: Update, _context: Any) -> None:
    assert update.message is not None
    await update.message.reply_text(update.message.text or "")


def echo_application(request: RecordingRequest) -> Any:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(request)
        .get_updates_request(RecordingRequest())
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def run(
    url: str, presses: int, *, show_statements: bool = False
) -> dict[str, dict[str, float]]:
    db = Database(url)
    if url.startswith("postgresql"):
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    try:
        event_ids = await prepare(db)
        settings = load_settings(_env_file=None, telegram_token=TOKEN, database_url=url)
        samvirke = build_application(
            Services(settings=settings, db=db, clock=lambda: NOW),
            request=Lean(),
            get_updates_request=RecordingRequest(),
        )
        bare = echo_application(Lean())
        await samvirke.initialize()
        await bare.initialize()
        # The same echo inside Samvirke's application, first in its handler group: it runs
        # after the member lookup every update gets.
        samvirke.handlers[0].insert(0, MessageHandler(filters.Regex("^echo "), echo))
        ids = itertools.count(1)
        pairs = [(m, e) for e in event_ids for m in range(MEMBERS)][:presses]
        rsvps = [press_update(next(ids), FIRST_USER + m, f"ev:rsvp:{e}:g") for m, e in pairs]
        echoes = [
            message_update(next(ids), FIRST_USER + i % MEMBERS, f"echo {i}") for i in range(presses)
        ]
        # Warm up both (imports, statement caches, connection pools).
        await timed(echoes[:200], bare)
        await timed(echoes[:200], samvirke)
        statements = Statements(db)
        if show_statements:  # one press and one echo, each of a member who has not answered yet
            statements.keep = True
            await timed(echoes[-1:], samvirke, cold=True)
            statements.show("an echo after the member lookup")
            await timed(rsvps[-1:], samvirke, cold=True)
            statements.show("a Going press")
            statements.keep = False
            rsvps = rsvps[:-1]

        results: dict[str, dict[str, float]] = {}
        print(f"{url.split(':')[0]}: {len(rsvps)} presses, {len(echoes)} echoes")
        latencies, wall = await timed(echoes, bare)
        results["echo"] = stats("bare echo handler", latencies, wall)
        statements.count = 0
        latencies, wall = await timed(rsvps, samvirke, cold=True)
        results["rsvp"] = stats("Going (RSVP), member looked up", latencies, wall)
        per_press = statements.count / len(rsvps)
        statements.count = 0
        latencies, wall = await timed(echoes, samvirke, cold=True)
        results["viewer_echo"] = stats("echo after the member lookup", latencies, wall)
        per_echo = statements.count / len(echoes)
        statements.count = 0
        await timed(echoes[:MEMBERS], samvirke)  # every member's view remembered
        latencies, wall = await timed(echoes, samvirke)
        results["recent_echo"] = stats("echo, member remembered", latencies, wall)
        base = results["echo"]
        for name, key in (
            ("before a handler, member looked up", "viewer_echo"),
            ("before a handler, member remembered", "recent_echo"),
            ("a Going press", "rsvp"),
        ):
            print(
                f"  {name}: {results[key]['p50_ms'] / base['p50_ms']:.1f}x a bare echo at p50, "
                f"{results[key]['p99_ms'] / base['p99_ms']:.1f}x at p99"
            )
        print(
            f"  SQL statements: {per_press:.2f} per Going press, {per_echo:.2f} per update "
            "before its handler (member looked up)"
        )
        views = [await events.get(db.unit_of_work(), e) for e in event_ids]
        going = sum(v.going for v in views)
        waiting = sum(v.waitlist for v in views)
        print(f"  afterwards: {going} going, {waiting} waiting, {len(event_ids)} events")
        assert going + waiting == len(rsvps) + show_statements
        await samvirke.shutdown()
        await bare.shutdown()
        return results
    finally:
        await db.dispose()


async def main(presses: int, postgres: str | None, *, show_statements: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        await run(
            f"sqlite+aiosqlite:///{folder}/bench.db", presses, show_statements=show_statements
        )
    if postgres:
        await run(postgres, presses, show_statements=show_statements)


async def test_rsvp_benchmark() -> None:
    await main(
        int(os.environ.get("SAMVIRKE_BENCH_PRESSES", "10000")),
        os.environ.get("SAMVIRKE_TEST_POSTGRES_URL"),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=10_000)
    parser.add_argument("--postgres", help="postgresql+asyncpg://... (wiped)", default=None)
    parser.add_argument(
        "--show-statements", action="store_true", help="print the SQL of one press and one echo"
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.presses, arguments.postgres, show_statements=arguments.show_statements)
    )
