"""Timebank speed: confirmations under concurrency, and the reports over a large ledger.

Run: ``cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/tests/benchmarks/bench_timebank.py
[--database-url URL] [--exchanges N] [--concurrency C] [--entries E]``. Without a URL it uses a
fresh SQLite file; a PostgreSQL URL's database is wiped first. Prints the figures; asserts only
that the ledger is sound afterwards.

1. ``spread``: N pending exchanges between 50 members, confirmed by C concurrent workers, each
   confirmation its own transaction (``timebank_exchanges.confirm``: exchange row lock, two
   account locks, limit check, entry, cached balances, audit row, outbox notice).
2. ``hot``: N volunteers' exchanges all with one organisation account (every confirmation
   waits for the same account row), same concurrency.
3. A ledger of E entries (bulk-inserted, 500 accounts): ``stats`` (12 months, per month/region/
   sector), ``history`` of the busiest account, ``check_ledger`` (derives every balance).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text, update

from storage.migrate import upgrade_engine
from storage.models import Member, Region, TimebankAccount, TimebankEntry
from storage.permissions import Actor
from storage.timebank import accounts as timebank_accounts
from storage.timebank import admin as timebank_admin
from storage.timebank import exchanges as timebank_exchanges
from storage.timebank import stats as timebank_stats
from storage.timebank.ledger import Limits, Policy
from storage.uow import Database

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)
# Wide limits: the benchmark measures throughput, not refusals.
POLICY = Policy(
    member_limits=Limits.hours(-100_000, 100_000),
    organisation_limits=Limits.hours(-100_000, 100_000),
)


async def fresh_database(url: str) -> Database:
    if url.startswith("postgresql"):
        reset = Database(url)
        async with reset.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
    db = Database(url)
    await upgrade_engine(db.engine)
    return db


async def add_members(db: Database, count: int, first_telegram_id: int) -> list[int]:
    async with db.unit_of_work() as uow:
        regions = list((await uow.session.scalars(select(Region.id))).all())
        sectors = ["civil_society", "public", "business", "foundation", "academia"]
        rows = [
            {
                "telegram_user_id": first_telegram_id + i,
                "name": f"Member {i}",
                "email": f"m{first_telegram_id + i}@example.dk",
                "sector": sectors[i % len(sectors)],
                "region_id": regions[i % len(regions)],
                "language": "en",
                "digest_frequency": "off",
                "role": "member",
                "consent_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(count)
        ]
        ids = (await uow.session.scalars(insert(Member).returning(Member.id), rows)).all()
        await uow.commit()
        return list(ids)


async def confirm_all(
    db: Database, work: list[tuple[int, int]], concurrency: int
) -> tuple[float, list[float]]:
    """Confirm (member, exchange) pairs with ``concurrency`` workers; wall time, latencies."""
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            member_id, exchange_id = queue.get_nowait()
            started = time.perf_counter()
            await timebank_exchanges.confirm(
                db.unit_of_work(), member_id, exchange_id, policy=POLICY, now=NOW
            )
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def report(label: str, wall: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(
        f"{label:<8} {len(latencies):>6} confirmations in {wall:6.2f} s = "
        f"{len(latencies) / wall:7.1f}/s; latency median {statistics.median(ordered) * 1000:6.1f}"
        f" ms, p95 {p95 * 1000:6.1f} ms"
    )


async def bench_confirmations(db: Database, exchanges: int, concurrency: int) -> None:
    rng = random.Random(1)
    people = await add_members(db, 51, 10_000)
    pending: list[tuple[int, int]] = []
    for _ in range(exchanges):
        giver, receiver = rng.sample(people[:50], 2)
        view = await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            giver,
            other=f"m{receiver}",
            direction="gave",
            minutes=60,
            description="help",
            policy=POLICY,
            now=NOW,
        )
        pending.append((receiver, view.id))
    wall, latencies = await confirm_all(db, pending, concurrency)
    report("spread", wall, latencies)

    organisation = await timebank_admin.create_organisation_account(
        db.unit_of_work(), ADMIN, "Festival", policy=POLICY, now=NOW
    )
    coordinator = people[50]
    await timebank_admin.set_coordinator(
        db.unit_of_work(), ADMIN, organisation.id, coordinator, coordinator=True, now=NOW
    )
    hot: list[tuple[int, int]] = []
    for i in range(exchanges):
        view = await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            people[i % 50],
            other=f"a{organisation.id}",
            direction="gave",
            minutes=60,
            description="stewarding",
            policy=POLICY,
            now=NOW,
        )
        hot.append((coordinator, view.id))
    wall, latencies = await confirm_all(db, hot, concurrency)
    report("hot", wall, latencies)


async def bench_reports(db: Database, entries: int) -> None:
    people = await add_members(db, 500, 50_000)
    accounts = [
        await timebank_admin.account_of_member(db.unit_of_work(), member_id, now=NOW)
        for member_id in people
    ]
    rng = random.Random(2)
    balances = dict.fromkeys(accounts, 0)
    rows = []
    for i in range(entries):
        # The first account is in every tenth entry: the "busiest" history.
        debit, credit = rng.sample(accounts, 2) if i % 10 else (accounts[1], accounts[0])
        minutes = rng.randint(1, 16) * 15
        balances[debit] -= minutes
        balances[credit] += minutes
        rows.append(
            {
                "kind": "exchange" if i % 20 else "adjustment",
                "debit_account_id": debit,
                "credit_account_id": credit,
                "minutes": minutes,
                "created_at": NOW - dt.timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
            }
        )
    async with db.unit_of_work() as uow:
        for start in range(0, len(rows), 5000):
            await uow.session.execute(insert(TimebankEntry), rows[start : start + 5000])
        for account_id, value in balances.items():
            await uow.session.execute(
                update(TimebankAccount)
                .where(TimebankAccount.id == account_id)
                .values(balance_minutes=TimebankAccount.balance_minutes + value)
            )
        await uow.commit()

    organiser = Actor(
        telegram_user_id=50_000, member_id=people[0], role="organiser", organiser_all_regions=True
    )
    timings = {}
    for label, call in (
        (
            "stats (12 months)",
            lambda: timebank_stats.stats(
                db.unit_of_work(), organiser, tz=ZoneInfo("Europe/Copenhagen"), now=NOW
            ),
        ),
        (
            "history (busiest)",
            lambda: timebank_accounts.history(db.unit_of_work(), organiser, policy=POLICY),
        ),
        ("check_ledger", lambda: timebank_admin.check_ledger(db.unit_of_work(), policy=POLICY)),
    ):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            result = await call()
            runs.append(time.perf_counter() - started)
        timings[label] = min(runs)
        if label == "history (busiest)":
            print(f"history lines: {len(result.lines)}")  # type: ignore[union-attr]
    for label, seconds in timings.items():
        print(f"{label:<18} {seconds * 1000:8.1f} ms (best of 3, {entries} entries in the ledger)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--exchanges", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--entries", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        db = await fresh_database(url)
        try:
            print(f"backend: {db.engine.dialect.name}, concurrency {args.concurrency}")
            await bench_confirmations(db, args.exchanges, args.concurrency)
            await bench_reports(db, args.entries)
            check = await timebank_admin.check_ledger(db.unit_of_work(), policy=POLICY)
            assert check.ok, check
            print(f"ledger sound: {check.entries} entries, sum of balances {check.sum_of_balances}")
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
