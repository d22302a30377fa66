"""Robustness: a restart in the middle of a conversation, and failures inside a handler."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from telegram.ext import PicklePersistence

from bot.persistence import DatabasePersistence
from storage.members import privacy
from storage.members import profiles as members
from storage.models import BotConversation, BotUserData
from storage.uow import Database
from templates.i18n import translator
from tests.support.botkit import (
    BotHarness,
    Clock,
    find_member,
    sign_up_member,
    snapshot,
    start_bot,
    stop_bot,
    verify_member,
)

KAREN = 7001

ASK_ORGANISATION = "Which organisation are you part of? Type its name, or press Skip."
ASK_SECTOR = "Which sector do you work in?"
ASK_REGION = "Which region are you in?"
SORRY = "Sorry, something went wrong on our side. Please try again in a moment."


async def saved_conversations(db: Database) -> dict[tuple[str, str], Any]:
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(BotConversation))).all()
        return {(r.name, r.key): r.state for r in rows}


async def saved_user_data(db: Database) -> dict[int, dict[str, Any]]:
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(BotUserData))).all()
        return {r.telegram_user_id: dict(r.data) for r in rows}


# --- a restart in the middle of a conversation -------------------------------------------


async def test_sign_up_continues_where_it_was_after_a_restart(
    db: Database, now: dt.datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = await start_bot(db, Clock(now))
    before.chat.user(KAREN, "Karen", "Jensen", language_code="en")
    replies = await before.chat.send(KAREN, "/start")
    await before.chat.press(KAREN, replies[-1], "su:name")
    replies = await before.chat.send(KAREN, "karen@example.dk")
    assert replies[-1].text == ASK_ORGANISATION
    await stop_bot(before)

    # The state is in the database, not in a file.
    key = f"[{KAREN}, {KAREN}]"
    assert await saved_conversations(db) == {("signup", key): {"state": "organisation"}}
    draft = (await saved_user_data(db))[KAREN]["signup"]
    assert (draft["name"], draft["email"]) == ("Karen Jensen", "karen@example.dk")

    after = await start_bot(db, Clock(now + dt.timedelta(minutes=5)))
    try:
        assert isinstance(after.app.persistence, DatabasePersistence)
        assert not isinstance(after.app.persistence, PicklePersistence)
        after.chat.user(KAREN, "Karen", "Jensen", language_code="en")

        replies = await after.chat.send(KAREN, "Teknologisk Institut")

        assert [m.text for m in replies] == [ASK_SECTOR]
        replies = await after.chat.press(KAREN, replies[-1], "su:sector:academia")
        replies = await after.chat.press(KAREN, replies[-1], "Region Midtjylland")
        summary = replies[-1].text
        assert "Name: Karen Jensen" in summary
        assert "E-mail: karen@example.dk" in summary
        assert "Organisation: Teknologisk Institut" in summary
        await after.chat.press(KAREN, replies[-1], "su:consent:yes")
    finally:
        await stop_bot(after)

    member = await find_member(db, KAREN)
    assert (member.name, member.email, member.organisation, member.sector) == (
        "Karen Jensen",
        "karen@example.dk",
        "Teknologisk Institut",
        "academia",
    )
    assert member.region.name == "Region Midtjylland"
    # The finished conversation and the draft are gone from the database.
    assert await saved_conversations(db) == {}
    assert "signup" not in (await saved_user_data(db)).get(KAREN, {})
    # No pickle file (or any other state file) beside the database.
    leftovers = {p.name for p in await asyncio.to_thread(lambda: list(tmp_path.rglob("*")))} - {
        "samvirke.db",
        "samvirke.db-wal",
        "samvirke.db-shm",
    }
    assert leftovers == set()


async def test_a_button_sent_before_the_restart_still_works(db: Database, now: dt.datetime) -> None:
    before = await start_bot(db, Clock(now))
    before.chat.user(KAREN, "Åsa", "Öberg", language_code="sv")
    replies = await before.chat.send(KAREN, "/start")
    await before.chat.press(KAREN, replies[-1], "su:name")
    await before.chat.send(KAREN, "asa@example.se")
    replies = await before.chat.send(KAREN, "Social Innovation Skåne")
    sector_question = snapshot(replies[-1])
    await stop_bot(before)

    after = await start_bot(db, Clock(now))
    try:
        after.chat.user(KAREN, "Åsa", "Öberg", language_code="sv")
        replies = await after.chat.press(KAREN, sector_question, "su:sector:public")
        assert [m.text for m in replies] == [translator("sv")(ASK_REGION)]
    finally:
        await stop_bot(after)


async def test_a_profile_change_continues_after_a_restart(db: Database, now: dt.datetime) -> None:
    before = await start_bot(db, Clock(now))
    await sign_up_member(before, KAREN, email="karen@example.dk")
    profile = (await before.chat.send(KAREN, "/profile"))[-1]
    await before.chat.press(KAREN, profile, "pf:edit:name")
    await stop_bot(before)

    after = await start_bot(db, Clock(now))
    try:
        after.chat.user(KAREN, "Karen", "Jensen", language_code="en")
        replies = await after.chat.send(KAREN, "Karen Ærø")
        assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    finally:
        await stop_bot(after)
    assert (await find_member(db, KAREN)).name == "Karen Ærø"


async def test_a_cancelled_sign_up_stays_cancelled_after_a_restart(
    db: Database, now: dt.datetime
) -> None:
    before = await start_bot(db, Clock(now))
    before.chat.user(KAREN, language_code="en")
    await before.chat.send(KAREN, "/start")
    await before.chat.send(KAREN, "/cancel")
    await stop_bot(before)
    assert await saved_conversations(db) == {}

    after = await start_bot(db, Clock(now))
    try:
        after.chat.user(KAREN, language_code="en")
        replies = await after.chat.send(KAREN, "Karen Jensen")
        assert [m.text for m in replies] == ["Hello! Send /start to sign up."]
    finally:
        await stop_bot(after)


# --- an unexpected failure inside a handler -----------------------------------------------


async def fails(*args: object, **kwargs: object) -> None:
    raise RuntimeError("unexpected")


@pytest.mark.parametrize("language", ["da", "sv", "en"])
async def test_an_unexpected_error_gives_a_localised_apology(
    bot: BotHarness,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    language: str,
) -> None:
    await sign_up_member(bot, KAREN, language_code=language)
    monkeypatch.setattr(privacy, "export", fails)
    screen = (await bot.chat.send(KAREN, "/privacy"))[-1]

    with caplog.at_level(logging.ERROR, logger="samvirke"):
        replies = await bot.chat.press(KAREN, screen, "pv:export")  # does not raise

    assert [m.text for m in replies] == [translator(language)(SORRY)]
    assert bot.request.calls_of("sendDocument") == []
    [record] = [r for r in caplog.records if r.name.startswith("samvirke")]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    # The bot goes on working.
    monkeypatch.undo()
    [reply] = await bot.chat.send(KAREN, "/profile")
    assert reply.text.splitlines()[0] == translator(language)("Your profile")


async def test_an_error_while_saving_a_profile_change(
    bot: BotHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sign_up_member(bot, KAREN)
    profile = (await bot.chat.send(KAREN, "/profile"))[-1]
    await bot.chat.press(KAREN, profile, "pf:edit:name")
    monkeypatch.setattr(members, "update_profile", fails)

    replies = await bot.chat.send(KAREN, "Karen Ærø")

    assert [m.text for m in replies] == [SORRY]
    assert (await find_member(db, KAREN)).name == "Karen Jensen"


async def test_an_error_during_sign_up_keeps_the_answers_so_far(
    bot: BotHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member can press "I agree" again once the failure is over."""
    bot.chat.user(KAREN, language_code="en")
    replies = await bot.chat.send(KAREN, "/start")
    await bot.chat.press(KAREN, replies[-1], "su:name")
    await bot.chat.send(KAREN, "karen@example.dk")
    replies = await bot.chat.press(KAREN, bot.chat.last(KAREN), "su:org:skip")
    replies = await bot.chat.press(KAREN, replies[-1], "su:sector:business")
    replies = await bot.chat.press(KAREN, replies[-1], "Region Skåne")
    consent = snapshot(replies[-1])
    monkeypatch.setattr(members, "register", fails)

    replies = await bot.chat.press(KAREN, consent, "su:consent:yes")

    assert [m.text for m in replies] == [SORRY]
    assert await find_member(db, KAREN) is None
    monkeypatch.undo()
    replies = await bot.chat.press(KAREN, consent, "su:consent:yes")
    assert replies[-1].text.startswith("Thank you, Karen Jensen, you are signed up!")
    assert (await find_member(db, KAREN)).sector == "business"


def database_down(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unit of work, reading or writing, fails to connect from now on."""

    def unit_of_work() -> Any:
        raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))

    monkeypatch.setattr(bot.services.db, "unit_of_work", unit_of_work)
    monkeypatch.setattr(bot.services.db, "reader", unit_of_work)


async def test_a_database_failure_gives_an_apology_and_nothing_else(
    bot: BotHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sign_up_member(bot, KAREN, language_code="en")
    await verify_member(bot, db, KAREN)
    database_down(bot, monkeypatch)

    replies = await bot.chat.send(KAREN, "/settings")

    assert [m.text for m in replies] == [SORRY]


async def test_a_database_failure_does_not_offer_a_member_to_sign_up_again(
    bot: BotHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sign_up_member(bot, KAREN, language_code="en")
    database_down(bot, monkeypatch)

    replies = await bot.chat.send(KAREN, "/start")

    assert [m.text for m in replies] == [SORRY]


async def test_a_database_failure_apologises_in_the_telegram_language(
    bot: BotHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sign_up_member(bot, KAREN, language_code="da")
    database_down(bot, monkeypatch)

    replies = await bot.chat.send(KAREN, "/help")

    assert replies[0].text == translator("da")(SORRY)
