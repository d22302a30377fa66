"""Issue 16: the bot's persistence writes a member's conversation data only when it changed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.persistence import DatabasePersistence
from storage.models import BotUserData
from storage.uow import Database

T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


async def _rows(db: Database) -> dict[int, tuple[dict[str, object], dt.datetime]]:
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(BotUserData))).all()
        return {r.telegram_user_id: (dict(r.data), r.updated_at) for r in rows}


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def test_only_changed_user_data_is_written(db: Database) -> None:
    clock = [T0]
    persistence = DatabasePersistence(db, clock=lambda: clock[0])
    assert await persistence.get_user_data() == {}

    # Someone who only pressed buttons: nothing to store, no row.
    await persistence.update_user_data(501, {})
    assert await _rows(db) == {}

    draft: dict[str, object] = {"name": "Karen Holm"}
    await persistence.update_user_data(502, draft)
    clock[0] = T0 + dt.timedelta(minutes=5)
    await persistence.update_user_data(502, draft)  # offered again, unchanged
    data, written = (await _rows(db))[502]
    assert data == {"name": "Karen Holm"}
    assert _utc(written) == T0

    draft["email"] = "karen@example.dk"  # the live dict changes in place
    await persistence.update_user_data(502, draft)
    data, written = (await _rows(db))[502]
    assert data == {"name": "Karen Holm", "email": "karen@example.dk"}
    assert _utc(written) == T0 + dt.timedelta(minutes=5)

    draft.clear()  # the sign-up finished: the draft goes
    await persistence.update_user_data(502, draft)
    assert await _rows(db) == {}


async def test_data_loaded_at_start_is_not_written_back_unchanged(db: Database) -> None:
    first = DatabasePersistence(db, clock=lambda: T0)
    await first.get_user_data()
    await first.update_user_data(503, {"name": "Lars"})

    later = T0 + dt.timedelta(hours=1)
    restarted = DatabasePersistence(db, clock=lambda: later)
    loaded = await restarted.get_user_data()
    assert loaded == {503: {"name": "Lars"}}
    await restarted.update_user_data(503, loaded[503])
    assert _utc((await _rows(db))[503][1]) == T0
    await restarted.update_user_data(503, {})
    assert await _rows(db) == {}
    await restarted.drop_user_data(503)
    await restarted.update_user_data(503, {"name": "Lars"})
    assert (await _rows(db))[503][0] == {"name": "Lars"}
