"""/report through the real Application: period and region buttons, the PDF sent as a document,
its figures equal to those /stats shows, a one-region organiser, forged presses, members."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.events import attendance as event_attendance
from storage.uow import Database
from tests.support.botkit import (
    BotHarness,
    Clock,
    SentMessage,
    record_filenames,
    start_bot,
    stop_bot,
)
from tests.support.events_kit import (
    NOW,
    START,
    add_member,
    add_organiser,
    going,
    publish,
    region_id,
)
from tests.support.pdf import figure, text_of

ORGANISER = 6100
LOCAL = 6200
MEMBER = 6300


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(NOW))
    yield harness
    await stop_bot(harness)


async def _meeting_with_people(db: Database) -> None:
    event = await publish(db)
    await publish(db, title="Skåne", region_id=await region_id(db, "skane"))
    members = [
        await add_member(db, 6400 + i, sector=sector)
        for i, sector in enumerate(["academia", "public", "civil_society", "business"])
    ]
    for member in members:
        await going(db, member, event.id)
    for member in members[:3]:
        await event_attendance.check_in_by_code(
            db.unit_of_work(), member, event.checkin_code, now=START.astimezone(dt.UTC)
        )


async def test_the_report_equals_stats(bot: BotHarness, db: Database, tmp_path: Path) -> None:
    await add_organiser(db, ORGANISER, name="Olga Organiser")
    await _meeting_with_people(db)
    bot.clock.now = START.astimezone(dt.UTC) + dt.timedelta(days=1)

    [periods] = await bot.chat.send(ORGANISER, "/report")
    assert periods.button_texts == [
        "This month", "Last month", "This year", "Last year", "The last 12 months",
    ]  # fmt: skip
    [regions] = await bot.chat.press(ORGANISER, periods, "This year")
    assert regions.button_texts[:2] == ["All regions", "Region Hovedstaden"]
    names = record_filenames(bot.request)
    [document] = await bot.chat.press(ORGANISER, regions, "Region Midtjylland")
    assert names == ["report-20270101-20280101.pdf"]
    assert document.text == "The report for funders: 1 meeting, 3 participants."
    assert document.document is not None
    pages = text_of(document.document, tmp_path)
    assert "Region Midtjylland" in pages[0]
    assert "1 January 2027 – 31 December 2027" in pages[0]

    [stats_periods] = await bot.chat.send(ORGANISER, "/stats")
    [stats_regions] = await bot.chat.press(ORGANISER, stats_periods, "This year")
    [stats, _] = await bot.chat.press(ORGANISER, stats_regions, "Region Midtjylland")
    shown = stats.text
    assert f"Events held: {figure(pages, 'Meetings held')}" in shown
    assert f"Registered (going): {figure(pages, 'Registrations (going)')}" in shown
    attended = figure(pages, "Participations (checked in)")
    people = figure(pages, "Unique participants")
    assert f"Attended (checked in): {attended} ({people} different people)" in shown
    assert figure(pages, "Attendance rate") == "75 %"  # 3 of 4 going were checked in
    assert "University or research: 1" in shown
    assert "University or research" in "\n".join(pages)


async def test_a_one_region_organiser_gets_their_region(
    bot: BotHarness, db: Database, tmp_path: Path
) -> None:
    await add_organiser(db, LOCAL, organiser_region="skane", language="sv")
    await _meeting_with_people(db)
    bot.clock.now = START.astimezone(dt.UTC) + dt.timedelta(days=1)
    [reply] = await bot.chat.send(LOCAL, "/report 1.1.2027 31.3.2027")
    assert reply.document is not None
    pages = text_of(reply.document, tmp_path)
    assert "Region Skåne" in pages[0]
    assert "1 januari 2027 – 31 mars 2027" in " ".join(pages[0].split())
    assert figure(pages, "Hållna möten") == "1"


async def test_an_empty_period_is_a_short_report(
    bot: BotHarness, db: Database, tmp_path: Path
) -> None:
    await add_organiser(db, ORGANISER)
    replies = await bot.chat.send(ORGANISER, "/report 1.1.2020 31.1.2020")
    [document] = await bot.chat.press(ORGANISER, replies[-1], "All regions")
    assert document.text == "Nothing to report for this period."
    assert document.document is not None
    assert "Nothing to report for this period" in " ".join(text_of(document.document, tmp_path))


def _forged(message: SentMessage, data: str) -> SentMessage:
    return dataclasses.replace(message, buttons=[{"text": "x", "callback_data": data}])


async def test_forged_presses_and_members(bot: BotHarness, db: Database) -> None:
    await add_member(db, MEMBER)
    await add_organiser(db, LOCAL, organiser_region="skane")
    [reply] = await bot.chat.send(MEMBER, "/report")
    assert reply.text == "Sorry, that is for the network's organisers."
    [refused] = await bot.chat.press(MEMBER, _forged(reply, "rp:r:20270101-20280101:all"), "x")
    assert refused.text == "Sorry, that is for the network's organisers."
    [periods] = await bot.chat.send(LOCAL, "/report")
    for data in ["rp:r:20271399-20280101:all", "rp:r:20280101-20270101:all", "rp:p:20270101-2027"]:
        assert await bot.chat.press(LOCAL, _forged(periods, data), "x") == []
    other = _forged(periods, f"rp:r:20270101-20280101:{await region_id(db)}")
    [refused] = await bot.chat.press(LOCAL, other, "x")
    assert refused.document is None
    assert refused.text == "Sorry, you organise events for another region."
