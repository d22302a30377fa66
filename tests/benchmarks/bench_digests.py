"""Digest delivery speed: 10,000 digests through the real pipeline to a local SMTP server,
beside the floor: one pre-built message sent 10,000 times over one aiosmtplib connection.

Run: ``cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/tests/benchmarks/bench_digests.py
[--count N] [--database-url URL] [--connections N] [--build-only]``. The SMTP server (aiosmtpd
with a sink handler) runs in a separate process on loopback, the same for both measurements.
Building the digests is timed on its own, with the SQL statements it sends (counted with
SQLAlchemy's ``before_cursor_execute`` on the engine); ``--build-only`` stops there (no SMTP,
no delivery). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import event, insert, select

from samvirke.settings import Settings
from scheduler.digests import build_digests
from scheduler.mail.delivery import DeliveryOptions, MailDelivery
from storage.migrate import upgrade_engine
from storage.models import Member, Region
from storage.models.events import Event
from storage.models.timebank import TimebankCategory, TimebankListing
from storage.uow import Database

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_smtp_sink(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


async def floor_rate(port: int, count: int) -> float:
    message = EmailMessage()
    message["From"] = "samvirke@example.org"
    message["To"] = "member@example.org"
    message["Subject"] = "Samvirke: 3 kommende møder"
    message.set_content("Hej\n" * 200)
    message.add_alternative("<p>Hej</p>" * 200, subtype="html")
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    started = time.perf_counter()
    for _ in range(count):
        await client.send_message(message)
    elapsed = time.perf_counter() - started
    await client.quit()
    return count / elapsed


async def make_members(db: Database, count: int) -> None:
    async with db.unit_of_work() as uow:
        region_id = (await uow.session.scalars(select(Region.id))).first()
        rows: list[dict[str, Any]] = [
            {
                "telegram_user_id": 10_000_000 + i,
                "name": f"Medlem {i} Ærø",
                "email": f"medlem{i}@example.dk",
                "email_verified_at": NOW,
                "sector": "civil_society",
                "region_id": region_id,
                "language": ("da", "sv", "en")[i % 3],
                "digest_frequency": "weekly",
                "role": "member",
                "consent_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(count)
        ]
        await uow.session.execute(insert(Member), rows)
        # Something to say: a meeting in their region and a new offer in the timebank.
        start = NOW + dt.timedelta(days=3)
        uow.session.add(
            Event(
                uid="bench@samvirke",
                title="Innovation på det sociale område – aktører i Region Midt",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=4),
                timezone="Europe/Copenhagen",
                location="Kongsvang Allé 29, 8000 Aarhus C",
                region_id=region_id,
                checkin_code="BENCH1",
            )
        )
        category = TimebankCategory(code="bench", name="Fundraising")
        uow.session.add(category)
        await uow.session.flush()
        uow.session.add(
            TimebankListing(
                member_id=(await uow.session.scalars(select(Member.id))).first(),
                kind="offer",
                title="Hjælp til fondsansøgning",
                description="",
                category_id=category.id,
                region_id=region_id,
                created_at=NOW,
            )
        )
        await uow.commit()


@dataclass
class Figures:
    build_seconds: float
    statements: int
    delivery_rate: float | None  # digests sent a second; None: not delivered (--build-only)


async def our_rate(
    database_url: str, port: int, count: int, folder: Path, connections: int, *, deliver: bool
) -> Figures:
    db = Database(database_url)
    await upgrade_engine(db.engine)
    await make_members(db, count)
    settings = Settings(
        _env_file=None,
        secret_key="bench",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        mail_dir=folder / "mail",
        public_url="https://samvirke.example",
    )
    statements = 0

    def executed(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", executed)
    started = time.perf_counter()
    runs = await build_digests(db, settings, now=NOW, frequencies=["weekly"])
    build_seconds = time.perf_counter() - started
    event.remove(db.engine.sync_engine, "before_cursor_execute", executed)
    assert runs[0].queued == count, runs
    if not deliver:
        await db.dispose()
        return Figures(build_seconds, statements, None)
    delivery = MailDelivery(
        db,
        settings,
        options=DeliveryOptions(batch_size=500, connections=connections),
        clock=lambda: NOW,
    )
    sent = 0
    started = time.perf_counter()
    while sent < count:
        report = await delivery.run_once()
        if report.claimed == 0:
            break
        sent += report.sent
    elapsed = time.perf_counter() - started
    await db.dispose()
    assert sent == count, f"only {sent} of {count} sent"
    return Figures(build_seconds, statements, count / elapsed)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="an empty database")
    parser.add_argument("--connections", type=int, default=DeliveryOptions().connections)
    parser.add_argument("--build-only", action="store_true", help="no SMTP, no delivery")
    args = parser.parse_args()
    port = free_port()
    server = None if args.build_only else start_smtp_sink(port)
    floor = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
            if server is not None:
                floor = await floor_rate(port, args.count)
            figures = await our_rate(
                url, port, args.count, Path(tmp), args.connections, deliver=server is not None
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    backend = url.split(":", 1)[0]
    built = args.count / figures.build_seconds
    sink = "" if args.build_only else " to a local aiosmtpd sink (separate process)"
    print(f"digests: {args.count}{sink}, {backend}")
    if floor is not None and figures.delivery_rate is not None:
        ours = figures.delivery_rate
        print(f"  floor (one pre-built message over one aiosmtplib connection): {floor:8.0f} /s")
        print(
            f"  Samvirke delivery, {args.connections} SMTP connection(s):"
            f"                      {ours:8.0f} /s"
            f"  = {100 * ours / floor:.0f} % of the floor"
        )
    print(
        f"  building and queueing the digests:                           {built:8.0f} /s"
        f"  ({figures.build_seconds:.1f} s)"
    )
    print(
        f"  SQL statements while building:                               {figures.statements:8d}"
        f"  = {figures.statements / args.count:.2f} a member"
    )


if __name__ == "__main__":
    asyncio.run(main())
