"""Introductions at the same moment (each in its own unit of work, started together with
``asyncio.gather``): the limits and the first answer hold on PostgreSQL (row locks) and on
SQLite (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select, update

from storage.errors import DomainError
from storage.models import Introduction, Member, OutboxMessage
from storage.people import directory, introductions
from storage.people.introductions import Limits, Outcome
from storage.uow import Database
from tests.support.timebank_kit import Person, person


async def listed(db: Database, now: dt.datetime, telegram_id: int, name: str) -> Person:
    who = await person(db, now, telegram_id, name)
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Member).where(Member.id == who.id).values(email_verified_at=now)
        )
        await uow.commit()
    await directory.set_listed(db.unit_of_work(), who.id, listed=True, now=now)
    return who


async def count(db: Database, model: type[Introduction] | type[OutboxMessage]) -> int:
    async with db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_simultaneous_requests_respect_the_pending_limit(
    db: Database, now: dt.datetime
) -> None:
    asker = await listed(db, now, 801, "Asker")
    targets = [await listed(db, now, 810 + i, f"Target {i}") for i in range(6)]
    limits = Limits(max_pending=2, max_per_week=10)
    results = await asyncio.gather(
        *(
            introductions.ask(
                db.unit_of_work(), asker.id, target.id, "Hello", limits=limits, now=now
            )
            for target in targets
        ),
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, Outcome)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(made) == 2, results
    assert {r.code for r in refused} == {"introduction_too_many_pending"}
    assert await count(db, Introduction) == 2


async def test_simultaneous_answers_decide_once(db: Database, now: dt.datetime) -> None:
    asker = await listed(db, now, 801, "Asker")
    target = await listed(db, now, 802, "Target")
    made = await introductions.ask(
        db.unit_of_work(), asker.id, target.id, "Hello", limits=Limits(), now=now
    )
    results = await asyncio.gather(
        *(
            introductions.answer(db.unit_of_work(), target.id, made.id, action, admins=(), now=now)
            for action in ["accept", "decline", "accept", "block"]
        ),
        return_exceptions=True,
    )
    changed = [r for r in results if isinstance(r, Outcome) and r.changed]
    assert len(changed) == 1, results
    async with db.unit_of_work() as uow:
        intro = await uow.session.get(Introduction, made.id)
        assert intro is not None
        assert intro.status == changed[0].status
        keys = (await uow.session.scalars(select(OutboxMessage.key))).all()
    connected = [k for k in keys if k.startswith("pp:connected:")]
    declined = [k for k in keys if k.startswith("pp:declined:")]
    assert (len(connected), len(declined)) in [(2, 0), (0, 1)]
