"""Storage for python-telegram-bot's conversation states and per-user drafts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from storage.models import BotConversation, BotUserData, Member
from storage.uow import UnitOfWork

# A sign-up left unfinished (a name and an address typed, no consent given) is kept this long.
UNFINISHED_KEPT = dt.timedelta(days=1)


def conversation_key(key: Sequence[int | str]) -> str:
    return json.dumps(list(key))


def private_chat_keys(telegram_user_id: int) -> list[str]:
    """The conversation keys a private chat with this user can have (per user, per chat+user)."""
    return [conversation_key([telegram_user_id]), conversation_key([telegram_user_id] * 2)]


async def load_conversations(uow: UnitOfWork, name: str) -> dict[tuple[int | str, ...], object]:
    async with uow:
        rows = (
            await uow.session.scalars(select(BotConversation).where(BotConversation.name == name))
        ).all()
        return {tuple(json.loads(r.key)): r.state["state"] for r in rows}


async def save_conversation(
    uow: UnitOfWork, name: str, key: Sequence[int | str], state: object | None, now: dt.datetime
) -> None:
    encoded = conversation_key(key)
    async with uow:
        row = await uow.session.scalar(
            select(BotConversation).where(
                BotConversation.name == name, BotConversation.key == encoded
            )
        )
        if state is None:
            if row is not None:
                await uow.session.delete(row)
        elif row is None:
            uow.session.add(
                BotConversation(name=name, key=encoded, state={"state": state}, updated_at=now)
            )
        else:
            row.state = {"state": state}
            row.updated_at = now
        await uow.commit()


async def load_user_data(uow: UnitOfWork) -> dict[int, dict[str, Any]]:
    async with uow:
        rows = (await uow.session.scalars(select(BotUserData))).all()
        return {r.telegram_user_id: dict(r.data) for r in rows}


async def save_user_data(
    uow: UnitOfWork, telegram_user_id: int, data: dict[str, Any], now: dt.datetime
) -> None:
    async with uow:
        row = await uow.session.get(BotUserData, telegram_user_id)
        if not data:
            if row is not None:
                await uow.session.delete(row)
        elif row is None:
            uow.session.add(
                BotUserData(telegram_user_id=telegram_user_id, data=data, updated_at=now)
            )
        else:
            row.data = data
            row.updated_at = now
        await uow.commit()


async def drop_user_data(uow: UnitOfWork, telegram_user_id: int) -> None:
    async with uow:
        await uow.session.execute(
            delete(BotUserData).where(BotUserData.telegram_user_id == telegram_user_id)
        )
        await uow.commit()


@dataclass(frozen=True)
class Forgotten:
    """What ``forget_unfinished`` dropped: whose drafts, and which conversation states (name and
    key, as python-telegram-bot keys them), so that the running bot can drop its copies too."""

    users: list[int] = field(default_factory=list)
    conversations: list[tuple[str, tuple[int | str, ...]]] = field(default_factory=list)


async def forget_unfinished(uow: UnitOfWork, *, now: dt.datetime) -> Forgotten:
    """Drop what people who are not members typed into a conversation (a sign-up draft: name,
    e-mail) once it has been left for UNFINISHED_KEPT, with their conversation states."""
    members = select(Member.telegram_user_id).where(
        Member.telegram_user_id.is_not(None), Member.deleted_at.is_(None)
    )
    async with uow:
        session = uow.session
        stale = list(
            (
                await session.scalars(
                    select(BotUserData.telegram_user_id)
                    .where(
                        BotUserData.updated_at < now - UNFINISHED_KEPT,
                        BotUserData.telegram_user_id.not_in(members),
                    )
                    .order_by(BotUserData.telegram_user_id)
                )
            ).all()
        )
        if not stale:
            return Forgotten()
        keys = [key for user_id in stale for key in private_chat_keys(user_id)]
        states = (
            await session.execute(
                select(BotConversation.id, BotConversation.name, BotConversation.key).where(
                    BotConversation.key.in_(keys),
                    BotConversation.updated_at < now - UNFINISHED_KEPT,
                )
            )
        ).all()
        await session.execute(delete(BotUserData).where(BotUserData.telegram_user_id.in_(stale)))
        if states:
            await session.execute(
                delete(BotConversation).where(BotConversation.id.in_([row.id for row in states]))
            )
        await uow.commit()
        return Forgotten(
            users=stale,
            conversations=[(row.name, tuple(json.loads(row.key))) for row in states],
        )
