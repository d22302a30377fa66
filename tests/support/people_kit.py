"""Helpers for the /people tests: verified members who said yes (or no) to the directory,
outbox rows as delivered messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from storage.models import Introduction, OutboxMessage
from storage.uow import Database
from tests.support.botkit import (
    BotHarness,
    SentMessage,
    find_member,
    sign_up_member,
    verify_member,
)


@dataclass(frozen=True)
class Person:
    id: int
    telegram_id: int
    name: str


async def member(
    bot: BotHarness,
    db: Database,
    telegram_id: int,
    first: str,
    last: str,
    *,
    listed: bool | None = True,
    verified: bool = True,
    **kw: Any,
) -> Person:
    """A member who signed up (and confirmed their address), and answered the directory's
    question (``listed`` None: not asked yet)."""
    username = kw.pop("username", f"{first.lower()}{telegram_id}")
    await sign_up_member(
        bot,
        telegram_id,
        first_name=first,
        last_name=last,
        username=username,
        email=f"{username}@example.dk",
        **kw,
    )
    if verified:
        await verify_member(bot, db, telegram_id)
    found = await find_member(db, telegram_id)
    assert found is not None
    if listed is not None:
        [question] = await bot.chat.send(telegram_id, "/people")
        await bot.chat.press(telegram_id, question, f"pp:consent:{'yes' if listed else 'no'}")
    return Person(found.id, telegram_id, f"{first} {last}")


def delivered(row: OutboxMessage) -> SentMessage:
    """The Telegram message an outbox row becomes, as its recipient sees it."""
    payload = row.payload
    buttons = [b for line in payload.get("buttons") or [] for b in line]
    return SentMessage(900_000 + row.id, int(payload["chat_id"]), str(payload["text"]), buttons)


def forged(chat_id: int, data: str) -> SentMessage:
    """A message with one button carrying ``data``, as a forged or replayed press."""
    return SentMessage(1, chat_id, "", [{"text": "x", "callback_data": data}])


async def rows(db: Database, prefix: str, member_id: int | None = None) -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        found = (
            await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.key.startswith(prefix))
                .order_by(OutboxMessage.id)
            )
        ).all()
        uow.session.expunge_all()
    return [r for r in found if member_id is None or r.member_id == member_id]


async def introductions(db: Database) -> list[Introduction]:
    async with db.unit_of_work() as uow:
        found = (await uow.session.scalars(select(Introduction).order_by(Introduction.id))).all()
        uow.session.expunge_all()
    return list(found)
