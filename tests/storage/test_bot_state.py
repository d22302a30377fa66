"""Issue 17, item 19: what people typed before they agreed is dropped after a day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storage import bot_state
from storage.models import BotConversation, BotUserData
from storage.uow import Database
from tests.support.events_kit import add_member


async def _user_ids(db: Database) -> set[int]:
    async with db.unit_of_work() as uow:
        return set((await uow.session.scalars(select(BotUserData.telegram_user_id))).all())


async def _conversation_keys(db: Database) -> set[str]:
    async with db.unit_of_work() as uow:
        return set((await uow.session.scalars(select(BotConversation.key))).all())


async def test_unfinished_sign_ups_are_dropped_after_a_day(db: Database, now: dt.datetime) -> None:
    draft = {"signup": {"name": "Søren Ærø", "email": "soren@example.dk"}}
    day = dt.timedelta(days=1)
    await bot_state.save_user_data(
        db.unit_of_work(), 501, draft, now - day - dt.timedelta(minutes=1)
    )
    await bot_state.save_conversation(db.unit_of_work(), "signup", [501, 501], 2, now - 2 * day)
    await bot_state.save_user_data(db.unit_of_work(), 502, draft, now - dt.timedelta(hours=23))
    await bot_state.save_conversation(db.unit_of_work(), "signup", [502, 502], 2, now)
    await add_member(db, 503)  # a member's drafts (an event being created) are theirs to keep
    await bot_state.save_user_data(db.unit_of_work(), 503, {"event": {}}, now - 3 * day)

    forgotten = await bot_state.forget_unfinished(db.unit_of_work(), now=now)
    assert forgotten.users == [501]
    assert forgotten.conversations == [("signup", (501, 501))]  # as python-telegram-bot keys it

    assert await _user_ids(db) == {502, 503}
    assert await _conversation_keys(db) == {bot_state.conversation_key([502, 502])}
