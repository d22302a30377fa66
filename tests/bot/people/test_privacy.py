"""/privacy and /profile for the directory: the choice can be changed there, the export holds
the directory and introductions, and erasure removes the member from the directory at once
and anonymises their introductions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest

from storage.uow import Database
from tests.support.botkit import BotHarness, Clock, start_bot, stop_bot
from tests.support.people_kit import delivered, introductions, member, rows

KAREN = 7401
LARS = 7402


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    yield harness
    await stop_bot(harness)


async def test_profile_and_privacy_open_the_directory_choice(bot: BotHarness, db: Database) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    await member(bot, db, LARS, "Lars", "Holm", listed=None)
    profile = (await bot.chat.send(LARS, "/profile"))[-1]
    [card] = await bot.chat.press(LARS, profile, "Member directory")
    assert card.text.startswith("You are not listed in the directory")
    await bot.chat.press(LARS, card, "List me in the directory")
    [found] = await bot.chat.send(KAREN, "/people Lars")
    assert "Lars Holm" in found.text
    privacy = (await bot.chat.send(LARS, "/privacy"))[-1]
    [card] = await bot.chat.press(LARS, privacy, "Member directory")
    await bot.chat.press(LARS, card, "Hide me from the directory")
    [found] = await bot.chat.send(KAREN, "/people Lars")
    assert found.text == "Nobody in the directory matches that yet."


async def test_export_and_erasure(bot: BotHarness, db: Database) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    lars = await member(bot, db, LARS, "Lars", "Holm")
    card = (
        await bot.chat.press(
            KAREN, (await bot.chat.send(KAREN, "/people"))[-1], "My directory card"
        )
    )[-1]
    await bot.chat.press(KAREN, card, "Change “I can help with”")
    await bot.chat.send(KAREN, "Evaluation")
    [found] = await bot.chat.send(KAREN, "/people Lars")
    await bot.chat.press(KAREN, found, f"pp:ask:{lars.id}")
    await bot.chat.send(KAREN, "Could we talk about housing?")
    [request] = await rows(db, "pp:ask:", lars.id)
    await bot.chat.press(LARS, delivered(request), "Block")

    privacy = (await bot.chat.send(LARS, "/privacy"))[-1]
    [file] = await bot.chat.press(LARS, privacy, "Export my data")
    assert file.document is not None
    exported = json.loads(file.document.decode("utf-8"))["directory"]
    assert exported["listed"] is True
    assert exported["introductions_asked"] == []
    [received] = exported["introductions_received"]
    assert received["with"] == "Karen Jensen"
    assert received["note"] == "Could we talk about housing?"
    assert received["status"] == "declined"
    assert exported["blocked"][0]["member"] == "Karen Jensen"
    assert "karen" not in json.dumps(exported).replace("Karen Jensen", "")

    privacy = (await bot.chat.send(KAREN, "/privacy"))[-1]
    [file] = await bot.chat.press(KAREN, privacy, "Export my data")
    assert file.document is not None
    mine = json.loads(file.document.decode("utf-8"))["directory"]
    assert mine["can_help"] == "Evaluation"
    assert mine["introductions_asked"][0]["with"] == "Lars Holm"
    assert mine["blocked"] == []  # who blocked her is Lars's data, not hers

    # Karen erases her data: gone from the directory at once, her introduction anonymised.
    privacy = (await bot.chat.send(KAREN, "/privacy"))[-1]
    confirm = (await bot.chat.press(KAREN, privacy, "Delete my data"))[-1]
    await bot.chat.press(KAREN, confirm, "Yes, delete everything")
    [found] = await bot.chat.send(LARS, "/people Karen")
    assert found.text == "Nobody in the directory matches that yet."
    [intro] = await introductions(db)
    assert intro.from_member_id is None
    assert intro.note is None
    assert intro.from_sector == "civil_society"  # the figures keep their totals
