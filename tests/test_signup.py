"""Sign-up through the real Application, step by step, as a member would do it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from botkit import BotHarness, Clock, start_bot, stop_bot
from sqlalchemy import func, select

from samvirke.storage.models import Member, OutboxMessage
from samvirke.storage.uow import Database

KAREN = 1001


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    yield harness
    await stop_bot(harness)


async def sign_up(bot: BotHarness, user: int = KAREN, email: str = "karen@example.dk") -> None:
    chat = bot.chat
    replies = await chat.send(user, "/start")
    await chat.press(user, replies[-1], "su:name")
    await chat.send(user, email)
    replies = await chat.send(user, "Sociale Entreprenører i Danmark")
    replies = await chat.press(user, replies[-1], "su:sector:civil_society")
    replies = await chat.press(user, replies[-1], "Region Midtjylland")
    await chat.press(user, replies[-1], "su:consent:yes")


async def test_danish_member_signs_up_step_by_step(bot: BotHarness, db: Database) -> None:
    chat = bot.chat
    chat.user(KAREN, "Karen", "Ærø", language_code="en")
    replies = await chat.send(KAREN, "/start")
    assert "Welcome" in replies[0].text
    assert replies[-1].button_texts == ["Use “Karen Ærø”"]
    replies = await chat.press(KAREN, replies[-1], "su:name")
    assert "e-mail" in replies[-1].text
    replies = await chat.send(KAREN, "karen@example.dk")
    assert "organisation" in replies[-1].text
    replies = await chat.send(KAREN, "Teknologisk Institut")
    assert len(replies[-1].buttons) == 5
    replies = await chat.press(KAREN, replies[-1], "su:sector:academia")
    assert "Region Skåne" in replies[-1].button_texts
    replies = await chat.press(KAREN, replies[-1], "Region Midtjylland")
    assert "Region Midtjylland" in replies[-1].text and "karen@example.dk" in replies[-1].text
    replies = await chat.press(KAREN, replies[-1], "su:consent:yes")
    assert "karen@example.dk" in replies[-1].text
    async with db.unit_of_work() as uow:
        member = await uow.session.scalar(select(Member))
        assert member is not None
        assert (member.name, member.email, member.sector, member.language) == (
            "Karen Ærø", "karen@example.dk", "academia", "en"
        )
        assert member.consent_at is not None and member.email_verified_at is None
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
