"""Helpers shared by the timebank tests (no tests here): members, exchanges, what the ledger
and the outbox hold."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from storage.members import profiles as members
from storage.models import (
    OutboxMessage,
    TimebankAccount,
    TimebankCategory,
    TimebankEntry,
    TimebankExchange,
)
from storage.permissions import Actor
from storage.timebank import admin as timebank_admin
from storage.timebank import common as timebank
from storage.timebank import exchanges as timebank_exchanges
from storage.timebank.ledger import Limits, Policy
from storage.uow import Database
from tests.support.regions import region_id as region_id

POLICY = Policy()
HOUR = 60
ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)


def policy(
    min_hours: int = -20, max_hours: int = 100, *, expiry_days: int = 14, org: int = 1000
) -> Policy:
    return Policy(
        member_limits=Limits.hours(min_hours, max_hours),
        organisation_limits=Limits.hours(-org, org),
        expiry=dt.timedelta(days=expiry_days),
    )


async def category_id(db: Database, code: str = "funding") -> int:
    async with db.unit_of_work() as uow:
        found = await uow.session.scalar(
            select(TimebankCategory.id).where(TimebankCategory.code == code)
        )
        assert found is not None
        return int(found)


@dataclass(frozen=True)
class Person:
    id: int
    telegram_user_id: int
    name: str

    @property
    def ref(self) -> str:
        return f"m{self.id}"


async def person(
    db: Database,
    now: dt.datetime,
    telegram_user_id: int,
    name: str,
    *,
    username: str | None = None,
    language: str = "en",
    sector: str = "civil_society",
    region: str = "midtjylland",
) -> Person:
    registration = await members.register(
        db.unit_of_work(),
        telegram_user_id=telegram_user_id,
        telegram_username=username,
        name=name,
        email=f"{telegram_user_id}@example.dk",
        organisation=None,
        sector=sector,
        region_id=await region_id(db, region),
        language=language,
        now=now,
    )
    return Person(registration.member.id, telegram_user_id, name)


async def exchange(
    db: Database,
    now: dt.datetime,
    giver: Person,
    receiver: Person,
    hours: float,
    *,
    description: str = "Grant-writing help for the food co-op",
    confirm: bool = True,
    rules: Policy = POLICY,
) -> timebank.ExchangeView:
    """The giver logs "I helped", the receiver confirms (unless ``confirm`` is False)."""
    view = await timebank_exchanges.start_exchange(
        db.unit_of_work(),
        giver.id,
        other=receiver.ref,
        direction="gave",
        minutes=int(hours * HOUR),
        description=description,
        policy=rules,
        now=now,
    )
    if confirm:
        await timebank_exchanges.confirm(
            db.unit_of_work(), receiver.id, view.id, policy=rules, now=now
        )
    return view


async def balance(db: Database, who: Person) -> int:
    async with db.unit_of_work() as uow:
        value = await uow.session.scalar(
            select(TimebankAccount.balance_minutes).where(TimebankAccount.member_id == who.id)
        )
        return int(value or 0)


async def entries(db: Database) -> list[TimebankEntry]:
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(TimebankEntry).order_by(TimebankEntry.id))).all()
        uow.session.expunge_all()
        return list(rows)


async def exchange_row(db: Database, exchange_id: int) -> TimebankExchange:
    async with db.unit_of_work() as uow:
        row = await uow.session.get(TimebankExchange, exchange_id)
        assert row is not None
        uow.session.expunge_all()
        return row


async def telegram_rows(db: Database, prefix: str = "tb:") -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.key.startswith(prefix))
                .order_by(OutboxMessage.id)
            )
        ).all()
        uow.session.expunge_all()
        return list(rows)


async def count(db: Database, model: Any) -> int:
    async with db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def assert_ledger_sound(db: Database, rules: Policy = POLICY) -> timebank_admin.LedgerCheck:
    check = await timebank_admin.check_ledger(db.unit_of_work(), policy=rules)
    assert check.sum_of_balances == 0
    assert check.mismatched == {}
    assert check.outside_limits == []
    return check
