"""The digest: who gets one, once per period, with working one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from samvirke.http import build_http_app
from samvirke.settings import Settings
from scheduler.digests import build_digests, describe
from scheduler.mail.compose import render
from scheduler.mail.delivery import DeliveryOptions, MailDelivery
from storage import regions
from storage.digests import periods, runs, unsubscribe
from storage.digests.sections import Recipient, Sections
from storage.members import profiles as members
from storage.members import verification
from storage.models import Member, OutboxMessage, Region
from storage.uow import Database
from tests.support.mailserver import RecordingHandler, SmtpServer

CPH = ZoneInfo("Europe/Copenhagen")
SECRET = "digest-test-secret"


def test_periods_are_iso_weeks_and_months_in_the_network_time_zone() -> None:
    # Sunday 23:30 UTC is already Monday in Copenhagen: a new week there.
    sunday_night = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    assert periods.period_of("weekly", sunday_night, CPH)[0] == "2026-W49"
    assert periods.period_of("weekly", sunday_night, ZoneInfo("UTC"))[0] == "2026-W48"
    period, start = periods.period_of("monthly", dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC), CPH)
    assert period == "2026-12"
    assert start == dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)


def test_unsubscribe_tokens_are_signed() -> None:
    token = unsubscribe.make_token(b"k", 42)
    assert unsubscribe.read_token(b"k", token) == 42
    assert unsubscribe.read_token(b"other key", token) is None
    assert unsubscribe.read_token(b"k", token.replace("42.", "43.")) is None
    assert unsubscribe.read_token(b"k", "42") is None
    assert unsubscribe.read_token(b"k", "") is None


CHOSEN: set[int] = set()


@pytest.fixture
def news_for() -> Iterator[set[int]]:
    """The members the test section ``TEST_SECTIONS`` has news for."""
    CHOSEN.clear()
    yield CHOSEN
    CHOSEN.clear()


async def _news(session: AsyncSession, recipients: Sequence[Recipient]) -> dict[int, Any]:
    return {
        r.member.id: [{"kind": "Tilbud", "title": f"Nyt i {r.span.period}"}]
        for r in recipients
        if r.member.id in CHOSEN
    }


async def _balance(session: AsyncSession, recipients: Sequence[Recipient]) -> dict[int, Any]:
    return {r.member.id: {"hours": "2,5"} for r in recipients}


TEST_SECTIONS: Sections = {"listings": (_news, True), "balance": (_balance, False)}


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "mail_dir": tmp_path / "mail",
        "mail_from": "nyhedsbrev@samvirke.example",
        "public_url": "https://samvirke.example/",
        **overrides,
    }
    return Settings(_env_file=None, **values)


async def member(
    db: Database,
    now: dt.datetime,
    telegram_id: int,
    *,
    frequency: str = "weekly",
    verified: bool = True,
    language: str = "da",
) -> int:
    region = (await regions.list_active(db.unit_of_work()))[3]
    registration = await members.register(
        db.unit_of_work(),
        telegram_user_id=telegram_id,
        telegram_username=None,
        name=f"Medlem Ø{telegram_id}",
        email=f"m{telegram_id}@example.dk",
        organisation=None,
        sector="foundation",
        region_id=region.id,
        language=language,
        now=now,
    )
    member_id = registration.member.id
    if verified:
        async with db.unit_of_work() as uow:
            row = await uow.session.get(Member, member_id)
            assert row is not None
            row.email_verified_at = now
            await verification.pending(uow.session, member_id)
            await uow.commit()
    await members.set_digest_frequency(db.unit_of_work(), member_id, frequency, now=now)
    return member_id


async def digest_rows(db: Database) -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        found = (
            await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.key.like("digest:%"))
                .order_by(OutboxMessage.id)
            )
        ).all()
        uow.session.expunge_all()
        return list(found)


async def test_due_members_with_news_get_one_digest_per_period(
    db: Database, now: dt.datetime, tmp_path: Path, news_for: set[int]
) -> None:
    settings = settings_for(tmp_path)
    weekly = await member(db, now, 1)
    quiet = await member(db, now, 2)
    monthly = await member(db, now, 3, frequency="monthly")
    unverified = await member(db, now, 4, verified=False)
    off = await member(db, now, 5, frequency="off")
    news_for.update({weekly, monthly, unverified, off})  # not `quiet`: nothing to say

    dry = await build_digests(db, settings, now=now, dry_run=True, sections=TEST_SECTIONS)
    assert await digest_rows(db) == []
    assert [(r.frequency, sum(r.by_language_and_region.values())) for r in dry] == [
        ("weekly", 1),
        ("monthly", 1),
    ]
    assert "da  Region Midtjylland: 1" in describe(dry, dry_run=True)

    runs = await build_digests(db, settings, now=now, sections=TEST_SECTIONS)
    assert [(r.queued, r.nothing_to_say) for r in runs] == [(1, 1), (1, 0)]
    keys = [r.key for r in await digest_rows(db)]
    assert keys == [f"digest:{weekly}:2026-W48", f"digest:{monthly}:2026-11"]

    again = await build_digests(
        db, settings, now=now + dt.timedelta(days=2), sections=TEST_SECTIONS
    )
    assert [(r.queued, r.already_queued) for r in again] == [(0, 1), (0, 1)]
    assert len(await digest_rows(db)) == 2

    next_week = await build_digests(
        db, settings, now=now + dt.timedelta(days=5), sections=TEST_SECTIONS
    )
    assert [r.queued for r in next_week] == [1, 0]
    assert quiet not in {int(r.key.split(":")[1]) for r in await digest_rows(db)}


async def test_a_run_goes_batch_by_batch_and_a_rerun_queues_only_what_is_missing(
    db: Database, now: dt.datetime, news_for: set[int]
) -> None:
    due = [await member(db, now, n) for n in range(21, 26)]
    news_for.update(due[:4])  # the last one has nothing to say

    async def run(batch: int, *, dry_run: bool = False) -> runs.DigestRun:
        return await runs.build(
            db.unit_of_work,
            frequency="weekly",
            now=now,
            tz=CPH,
            unsubscribe_token=lambda member_id: unsubscribe.make_token(b"k", member_id),
            dry_run=dry_run,
            sections=TEST_SECTIONS,
            batch=batch,
        )

    dry = await run(2, dry_run=True)
    assert (dry.queued, dry.nothing_to_say, sum(dry.by_language_and_region.values())) == (0, 1, 4)
    assert await digest_rows(db) == []
    # One member's digest queued before (as by a run that stopped after its first batch).
    news_for.difference_update(due[1:])
    assert (await run(1)).queued == 1
    news_for.update(due[:4])
    second = await run(2)
    assert (second.queued, second.already_queued, second.nothing_to_say) == (3, 1, 1)
    assert [r.key for r in await digest_rows(db)] == [f"digest:{m}:2026-W48" for m in due[:4]]


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[RecordingHandler, SmtpServer]]:
    handler = RecordingHandler()
    server = await SmtpServer(handler).start()
    yield handler, server
    await server.stop()


async def test_digest_mail_has_one_click_unsubscribe_that_works(
    db: Database,
    now: dt.datetime,
    tmp_path: Path,
    news_for: set[int],
    smtp: tuple[RecordingHandler, SmtpServer],
) -> None:
    handler, server = smtp
    settings = settings_for(
        tmp_path, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none"
    )
    karen = await member(db, now, 11, language="da")
    news_for.add(karen)
    await build_digests(db, settings, now=now, frequencies=["weekly"], sections=TEST_SECTIONS)
    delivery = MailDelivery(db, settings, options=DeliveryOptions(), clock=lambda: now)
    assert (await delivery.run_once()).sent == 2  # the sign-up code and the digest
    (message,) = [m.message() for m in handler.received if b"List-Unsubscribe" in m.data]
    assert message["Subject"] == "Samvirke: 1 nyt i tidsbanken"
    links = [part.strip(" <>") for part in str(message["List-Unsubscribe"]).split(",")]
    https = next(link for link in links if link.startswith("https://samvirke.example/"))
    assert any(link.startswith("mailto:nyhedsbrev@samvirke.example?subject=") for link in links)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Nyt i 2026-W48" in text
    assert "2,5" in text
    assert https in text.replace("=\n", "")

    path = https.removeprefix("https://samvirke.example")
    app = build_http_app(db, None, secret=None, settings=settings, clock=lambda: now)
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as client:
        page = await client.get(http.make_url(path))
        assert page.status == 200
        assert "Afmeld" in await page.text()
        assert (await members.get(db.unit_of_work(), karen)).digest_frequency == "weekly"
        # What Gmail and Yahoo send for one click (RFC 8058).
        done = await client.post(http.make_url(path), data={"List-Unsubscribe": "One-Click"})
        assert done.status == 200
        assert (await members.get(db.unit_of_work(), karen)).digest_frequency == "off"
        forged = await client.post(http.make_url(path.replace(f"/{karen}.", f"/{karen + 1}.")))
        assert forged.status == 404

    later = await build_digests(
        db, settings, now=now + dt.timedelta(days=7), sections=TEST_SECTIONS
    )
    assert later[0].queued == 0


def test_the_plain_text_digest_keeps_a_blank_line_between_meetings_and_sections() -> None:
    meeting = {"when": "fredag den 18. december 2026, 13:00–17:00", "place": "Dokk1, Aarhus"}
    sections = {
        "events": [{**meeting, "title": "Netværksmøde"}, {**meeting, "title": "Workshop"}],
        "listings": [{"kind": "Tilbud", "title": "Hjælp med fondsansøgninger", "region": ""}],
    }
    context = {"name": "Karen", "frequency": "weekly", "period": "2026-W49", "sections": sections}
    text = render("digest", "da", context).text
    assert (
        "Kommende møder\n"
        "* Netværksmøde\n  fredag den 18. december 2026, 13:00–17:00, Dokk1, Aarhus\n\n"
        "* Workshop\n  fredag den 18. december 2026, 13:00–17:00, Dokk1, Aarhus\n\n"
        "Nyt i tidsbanken\n* Tilbud: Hjælp med fondsansøgninger\n\n-- \n"
    ) in text


def test_send_digests_command_dry_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env["SAMVIRKE_SECRET_KEY"] = SECRET
    samvirke = str(Path(sys.executable).with_name("samvirke"))
    result = subprocess.run(
        [samvirke, "send-digests", "--dry-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "weekly digest for" in result.stdout
    assert "would go" in result.stdout


async def test_sections_show_upcoming_meetings_new_listings_and_the_balance(
    db: Database, now: dt.datetime, tmp_path: Path
) -> None:
    from storage.models.events import Event, Rsvp
    from storage.models.timebank import TimebankAccount, TimebankCategory, TimebankListing

    settings = settings_for(tmp_path)
    karen = await member(db, now, 21, language="da")  # Region Midtjylland
    other = await member(db, now, 22, language="sv")
    async with db.unit_of_work() as uow:
        session = uow.session
        karen_row = await session.get(Member, karen)
        assert karen_row is not None
        midt = karen_row.region_id
        skane = await session.scalar(select(Region.id).where(Region.code == "skane"))

        def event(title: str, days: int, region: int | None, **extra: Any) -> Event:
            start = now + dt.timedelta(days=days)
            extra.setdefault("created_at", now - dt.timedelta(days=30))  # not news
            return Event(
                uid=f"{title}@test",
                title=title,
                starts_at=start,
                ends_at=start + dt.timedelta(hours=4),
                timezone="Europe/Copenhagen",
                location="Kongsvang Allé 29, 8000 Aarhus C",
                region_id=region,
                checkin_code=title[:8],
                **extra,
            )

        meeting = event("Innovation på det sociale område", 3, midt)
        session.add_all(
            [
                meeting,
                event("Netværksdag for hele landet", 10, None),
                event("Skåne-træf", 4, skane),
                event("Alt for langt ude", 60, midt),  # after the 8 weeks, and not new
                event("Aflyst møde", 5, midt, status="cancelled"),
            ]
        )
        category = TimebankCategory(code="fund", name="Fundraising")
        session.add(category)
        await session.flush()
        session.add(Rsvp(event_id=meeting.id, member_id=karen, status="going"))
        session.add(
            TimebankListing(
                member_id=other,
                kind="offer",
                title="Hjælp til fondsansøgning",
                description="2 timer",
                category_id=category.id,
                region_id=midt,
                created_at=now,
            )
        )
        session.add(TimebankAccount(kind="member", member_id=karen, balance_minutes=150))
        await uow.commit()

    await build_digests(db, settings, now=now, frequencies=["weekly"], bot_username="samvirke_bot")
    (row,) = [r for r in await digest_rows(db) if r.member_id == karen]
    sections = row.payload["context"]["sections"]
    assert [e["title"] for e in sections["events"]] == [
        "Innovation på det sociale område",
        "Netværksdag for hele landet",
    ]
    first = sections["events"][0]
    assert first["status"] == "Du deltager."
    assert first["link"] == f"https://t.me/samvirke_bot?start=event_{meeting.id}"
    # 12:00 UTC is 13:00 in Copenhagen.
    assert first["when"] == "lørdag den 28. november 2026, 13:00–17:00"
    assert sections["listings"] == [
        {"kind": "Tilbud", "title": "Hjælp til fondsansøgning", "region": "Region Midtjylland"}
    ]
    assert sections["balance"] == {"hours": "2,5 t"}
    assert [e["new"] for e in sections["events"]] == ["", ""]


async def _meetings_in_digest(
    db: Database,
    tmp_path: Path,
    now: dt.datetime,
    frequency: str,
    events: list[tuple[str, int, int]],
) -> list[tuple[str, str]]:
    """Build a digest at ``now`` for a member whose previous digest was queued a period ago;
    ``events`` are (title, days ahead, days since published). Returns (title, new mark)."""
    from storage.models.events import Event

    settings = settings_for(tmp_path)
    karen = await member(db, now, 31, language="da", frequency=frequency)
    period = dt.timedelta(days=31 if frequency == "monthly" else 7)
    # The previous digest, a period ago (something to say: a meeting that has happened since).
    async with db.unit_of_work() as uow:
        start = now - period + dt.timedelta(days=1)
        uow.session.add(
            Event(
                uid="past@test",
                title="Forrige møde",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=2),
                timezone="Europe/Copenhagen",
                checkin_code="past",
                created_at=now - period - dt.timedelta(days=30),
            )
        )
        await uow.commit()
    await build_digests(db, settings, now=now - period, frequencies=[frequency])
    async with db.unit_of_work() as uow:
        for number, (title, ahead, published) in enumerate(events):
            start = now + dt.timedelta(days=ahead)
            uow.session.add(
                Event(
                    uid=f"{number}@test",
                    title=title,
                    starts_at=start,
                    ends_at=start + dt.timedelta(hours=2),
                    timezone="Europe/Copenhagen",
                    checkin_code=f"code{number}",
                    created_at=now - dt.timedelta(days=published),
                )
            )
        await uow.commit()
    await build_digests(db, settings, now=now, frequencies=[frequency])
    rows = [r for r in await digest_rows(db) if r.member_id == karen]
    assert len(rows) == 2
    return [(e["title"], e["new"]) for e in rows[-1].payload["context"]["sections"]["events"]]


async def test_a_weekly_digest_lists_8_weeks_and_every_meeting_published_since_the_last_one(
    db: Database, now: dt.datetime, tmp_path: Path
) -> None:
    meetings = await _meetings_in_digest(
        db,
        tmp_path,
        now,
        "weekly",
        [
            ("Om syv uger", 7 * 7, 60),  # within 8 weeks, published long ago
            ("Om ni uger, gammel", 9 * 7, 60),  # after 8 weeks, already announced before
            ("Om tolv uger, ny", 12 * 7, 1),  # announced since the previous digest
            ("I morgen, ny", 1, 2),
        ],
    )
    assert meetings == [
        ("I morgen, ny", "Nyt"),
        ("Om syv uger", ""),
        ("Om tolv uger, ny", "Nyt"),
    ]


async def test_a_monthly_digest_lists_3_months_and_the_new_ones(
    db: Database, now: dt.datetime, tmp_path: Path
) -> None:
    meetings = await _meetings_in_digest(
        db,
        tmp_path,
        now,
        "monthly",
        [
            ("Om 80 dage", 80, 90),  # within 3 months
            ("Om 100 dage, gammel", 100, 90),
            ("Om et halvt år, ny", 180, 20),  # published after the previous digest (31 days)
        ],
    )
    assert meetings == [("Om 80 dage", ""), ("Om et halvt år, ny", "Nyt")]
