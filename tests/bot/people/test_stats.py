"""/stats → Connections: introductions by status, region and sector pair, the cross-sector
share, invitations and approvals, as text and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator

import pytest

from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    Clock,
    sign_up_member,
    snapshot,
    start_bot,
    stop_bot,
)
from tests.support.people_kit import Person, delivered, forged, member, rows

KAREN = 7601
LARS = 7602
INGRID = 7603
OLE = 7604


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    yield harness
    await stop_bot(harness)


async def ask(bot: BotHarness, asker: Person, target: Person) -> None:
    [found] = await bot.chat.send(asker.telegram_id, f"/people {target.name}")
    await bot.chat.press(asker.telegram_id, found, f"pp:ask:{target.id}")
    await bot.chat.send(asker.telegram_id, "Hello")


async def answer(bot: BotHarness, db: Database, target: Person, button: str) -> None:
    row = (await rows(db, "pp:ask:", target.id))[-1]
    await bot.chat.press(target.telegram_id, delivered(row), button)


async def test_connection_figures_with_csv(bot: BotHarness, db: Database) -> None:
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    karen = await member(bot, db, KAREN, "Karen", "Jensen")  # civil society, Midtjylland
    lars = await member(bot, db, LARS, "Lars", "Holm", sector="public")
    ingrid = await member(
        bot, db, INGRID, "Ingrid", "Berg", sector="academia", region="Region Skåne"
    )
    ole = await member(bot, db, OLE, "Ole", "Dahl")  # civil society too
    await ask(bot, karen, lars)
    await answer(bot, db, lars, "Accept")  # civil society → public: across sectors
    await ask(bot, karen, ole)
    await answer(bot, db, ole, "Accept")  # civil society → civil society
    await ask(bot, ingrid, lars)
    await answer(bot, db, lars, "Decline")
    await ask(bot, ingrid, karen)  # left open

    [plain] = await bot.chat.press(KAREN, forged(KAREN, "pp:st"), "x")
    assert plain.text == "Sorry, that is for the network's organisers."
    [periods] = await bot.chat.send(ADMIN_ID, "/stats")
    [choose] = await bot.chat.press(ADMIN_ID, periods, "Connections: introductions and invitations")
    periods_shown = snapshot(choose)
    [regions] = await bot.chat.press(ADMIN_ID, choose, "This month")
    text, document = await bot.chat.press(ADMIN_ID, regions, "All regions")
    lines = text.text.splitlines()
    assert lines[0].startswith("Connections ")
    assert "Introductions asked: 4" in lines
    assert "accepted: 2" in lines
    assert "declined: 1" in lines
    assert "expired: 0" in lines
    assert "Across sectors: 1 of 2 accepted introductions (50%)" in lines
    assert "  C    1   1   0   0   0" in lines
    assert "  Region Midtjylland: 2 / 2" in lines
    assert "  Region Skåne: 2 / 0" in lines
    assert document.document is not None
    table = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"))))
    values = {(r[0], r[1]): r[2] for r in table if len(r) == 3}
    assert values[("introductions_asked", "all")] == "4"
    assert values[("introductions_accepted", "Region Midtjylland")] == "2"
    assert values[("cross_sector_share", "all")] == "0.500"
    matrix = {r[0]: r[1:] for r in table if r and r[0] in ("civil_society", "academia")}
    assert matrix["civil_society"] == ["1", "1", "0", "0", "0"]
    assert matrix["academia"] == ["0", "0", "0", "0", "0"]  # declined and open are not in it
    # One region only.
    [regions] = await bot.chat.press(ADMIN_ID, periods_shown, "This month")
    text, _document = await bot.chat.press(ADMIN_ID, regions, "Region Skåne")
    assert "Introductions asked: 2" in text.text.splitlines()


async def test_forged_figures_buttons_change_nothing(bot: BotHarness, db: Database) -> None:
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    for data, answer in [
        ("pp:str:20261399-20270101:all", "Please choose one of the buttons."),
        ("pp:str:20260101-20270101:424242", "Please choose one of the regions."),
    ]:
        [reply] = await bot.chat.press(ADMIN_ID, forged(ADMIN_ID, data), "x")
        assert reply.text == answer, data
    beyond = forged(ADMIN_ID, "pp:str:20260101-20270101:9999999999")  # beyond any region id
    assert await bot.chat.press(ADMIN_ID, beyond, "x") == []
    toast = bot.request.calls_of("answerCallbackQuery")[-1].params
    assert toast.get("text") == "This button is no longer active."
