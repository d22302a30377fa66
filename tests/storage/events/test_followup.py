"""The follow-up goes once per member and event also when organisers' presses and scheduled
runs on several workers meet: each on its own engine, at the same moment (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.errors import NotAllowed
from storage.events import attendance as event_attendance
from storage.events import followup
from storage.models import EventFollowUp, OutboxMessage
from storage.uow import Database
from tests.support.events_kit import END, START, add_member, add_organiser, going, publish

WORKERS = 6


async def test_presses_and_workers_at_once_queue_each_member_once(db: Database) -> None:
    organiser = await add_organiser(db, 7100)
    event = await publish(db)
    members = [await add_member(db, 7200 + n) for n in range(5)]
    started = START.astimezone(dt.UTC)
    for member in members:
        await going(db, member, event.id)
        await event_attendance.check_in_by_code(
            db.unit_of_work(), member, event.checkin_code, now=started
        )
    due = END.astimezone(dt.UTC) + dt.timedelta(hours=2)
    engines = [Database(db.url) for _ in range(WORKERS)]
    try:
        presses = [
            followup.send_now(e.unit_of_work(), organiser, event.id, now=due) for e in engines[:3]
        ]
        runs = [
            followup.queue_due(e.unit_of_work(), delay=dt.timedelta(hours=2), now=due)
            for e in engines[3:]
        ]
        outcomes = await asyncio.gather(*presses, *runs, return_exceptions=True)
    finally:
        for engine in engines:
            await engine.dispose()
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    async with db.unit_of_work() as uow:
        keys = (
            await uow.session.scalars(
                select(OutboxMessage.key).where(OutboxMessage.key.startswith("followup:"))
            )
        ).all()
        records = await uow.session.scalar(select(func.count()).select_from(EventFollowUp))
    assert sorted(keys) == sorted(followup.key(event.id, m) for m in members)
    assert records == 1
    queued = [o.queued for o in outcomes if isinstance(o, followup.SendOutcome)]
    queued += [o for o in outcomes if isinstance(o, int)]
    assert sum(queued) == len(members)


async def test_only_organisers_of_the_region_send(db: Database) -> None:
    event = await publish(db)
    other = await add_organiser(db, 7300, organiser_region="skane")
    with pytest.raises(NotAllowed) as refused:
        await followup.send_now(db.unit_of_work(), other, event.id, now=END)
    assert refused.value.code == "event_other_region"
