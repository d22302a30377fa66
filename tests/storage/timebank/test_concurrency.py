"""Many exchanges confirmed at the same moment, on PostgreSQL (row locks) and on SQLite
(``BEGIN IMMEDIATE``): the zero sum and the limits hold, nothing is lost, nothing counted twice.

Each confirmation runs in its own unit of work (its own connection), all started together
with ``asyncio.gather``; on PostgreSQL they really run in parallel and wait for each other's
row locks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Coroutine, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from samvirke.settings import load_settings
from scheduler.timebank_expiry import expire_pending_exchanges
from storage.errors import DomainError, InvalidInput
from storage.models import TimebankEntry, TimebankExchange
from storage.timebank import admin as timebank_admin
from storage.timebank import common as timebank
from storage.timebank import corrections as timebank_corrections
from storage.timebank import exchanges as timebank_exchanges
from storage.timebank.ledger import LimitExceeded
from storage.uow import Database
from tests.support.timebank_kit import (
    ADMIN,
    HOUR,
    POLICY,
    Person,
    assert_ledger_sound,
    balance,
    count,
    entries,
    exchange,
    person,
    telegram_rows,
)


async def people(db: Database, now: dt.datetime, n: int, first_id: int = 900) -> list[Person]:
    return [await person(db, now, first_id + i, f"Member {i}") for i in range(n)]


async def test_many_exchanges_confirmed_at_once_all_land(db: Database, now: dt.datetime) -> None:
    """60 exchanges around a ring of 6 members, confirmed all at once: every one moves its
    hours exactly once, in whatever order the database lets them through."""
    ring = await people(db, now, 6)
    pending = []
    for round_ in range(10):
        for i, giver in enumerate(ring):
            receiver = ring[(i + 1) % len(ring)]
            view = await exchange(
                db, now, giver, receiver, 1, description=f"round {round_}", confirm=False
            )
            pending.append((view, receiver))
    random.Random(5).shuffle(pending)

    decisions = await asyncio.gather(
        *(
            timebank_exchanges.confirm(
                db.unit_of_work(), receiver.id, view.id, policy=POLICY, now=now
            )
            for view, receiver in pending
        )
    )

    assert all(d.changed for d in decisions)
    assert len(await entries(db)) == 60
    assert {e.exchange_id for e in await entries(db)} == {v.id for v, _ in pending}
    for member in ring:
        assert await balance(db, member) == 0
    assert len(await telegram_rows(db, "tb:confirmed:")) == 60
    check = await assert_ledger_sound(db)
    assert check.entries == 60


async def test_confirmations_racing_for_the_last_hours_stop_exactly_at_the_limit(
    db: Database, now: dt.datetime
) -> None:
    """30 one-hour exchanges all debiting one member (minimum -20 h), confirmed at once:
    exactly 20 go through, 10 are refused and stay pending, the balance ends at -20 h."""
    receiver, *givers = await people(db, now, 11)
    pending = [
        await exchange(db, now, giver, receiver, 1, confirm=False)
        for giver in givers
        for _ in range(3)
    ]

    results = await asyncio.gather(
        *(
            timebank_exchanges.confirm(
                db.unit_of_work(), receiver.id, view.id, policy=POLICY, now=now
            )
            for view in pending
        ),
        return_exceptions=True,
    )

    confirmed = [r for r in results if isinstance(r, timebank_exchanges.Decision)]
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert (len(confirmed), len(refused)) == (20, 10), results
    assert all(r.code == "balance_below_minimum" for r in refused)
    assert await balance(db, receiver) == -20 * HOUR
    assert len(await entries(db)) == 20
    async with db.unit_of_work() as uow:
        statuses = dict(
            (
                await uow.session.execute(
                    select(TimebankExchange.status, func.count()).group_by(TimebankExchange.status)
                )
            ).all()
        )
    assert statuses == {"confirmed": 20, "pending": 10}
    await assert_ledger_sound(db)


async def test_a_confirm_pressed_many_times_at_once_moves_the_hours_once(
    db: Database, now: dt.datetime
) -> None:
    karen, lars = await people(db, now, 2)
    view = await exchange(db, now, karen, lars, 2.5, confirm=False)

    decisions = await asyncio.gather(
        *(
            timebank_exchanges.confirm(db.unit_of_work(), lars.id, view.id, policy=POLICY, now=now)
            for _ in range(10)
        )
    )

    assert sorted(d.changed for d in decisions) == [False] * 9 + [True]
    assert await count(db, TimebankEntry) == 1
    assert await balance(db, karen) == 150
    assert len(await telegram_rows(db, "tb:confirmed:")) == 1
    await assert_ledger_sound(db)


async def test_confirm_decline_and_expiry_racing_for_one_exchange_one_wins(
    db: Database, now: dt.datetime
) -> None:
    karen, lars = await people(db, now, 2)
    settings = load_settings(_env_file=None)
    late = now + dt.timedelta(days=13, hours=23)
    views = [await exchange(db, now, karen, lars, 1, confirm=False) for _ in range(8)]

    async def race(view: timebank.ExchangeView) -> Sequence[object]:
        results: Sequence[object] = await asyncio.gather(
            timebank_exchanges.confirm(
                db.unit_of_work(), lars.id, view.id, policy=POLICY, now=late
            ),
            timebank_exchanges.decline(db.unit_of_work(), lars.id, view.id, now=late),
            timebank_exchanges.cancel(db.unit_of_work(), karen.id, view.id, now=late),
            return_exceptions=True,
        )
        return results

    outcomes = await asyncio.gather(*(race(v) for v in views))
    for results in outcomes:
        winners = [r for r in results if isinstance(r, timebank_exchanges.Decision) and r.changed]
        losers = [r for r in results if isinstance(r, InvalidInput)]
        assert len(winners) == 1, results
        assert len(losers) == 2, results
    async with db.unit_of_work() as uow:
        statuses = (await uow.session.scalars(select(TimebankExchange.status))).all()
    confirmed = statuses.count("confirmed")
    assert len(await entries(db)) == confirmed
    assert await balance(db, karen) == confirmed * HOUR
    # Whatever is still pending expires once, however many workers run the job at once.
    expired = await asyncio.gather(
        *(expire_pending_exchanges(db, settings, now + dt.timedelta(days=15)) for _ in range(4))
    )
    assert sum(expired) == statuses.count("pending")
    await assert_ledger_sound(db)


@pytest.mark.parametrize("rounds", [3])
async def test_simultaneous_adjustments_reversals_and_confirmations(
    db: Database, now: dt.datetime, rounds: int
) -> None:
    """A mixed crowd: confirmations, reversals of earlier entries and adjustments between the
    same accounts, all at once, on every backend."""
    group = await people(db, now, 4)
    accounts = [
        await timebank_admin.account_of_member(db.unit_of_work(), m.id, now=now) for m in group
    ]
    rng = random.Random(11)
    for _ in range(rounds):
        earlier = [e.id for e in await entries(db) if e.kind != "reversal"]
        work: list[Coroutine[Any, Any, object]] = []
        for _ in range(12):
            giver, receiver = rng.sample(group, 2)
            view = await exchange(db, now, giver, receiver, 0.5, confirm=False)
            work.append(
                timebank_exchanges.confirm(
                    db.unit_of_work(), receiver.id, view.id, policy=POLICY, now=now
                )
            )
        for entry_id in earlier[:4]:
            work.append(
                timebank_corrections.reverse(
                    db.unit_of_work(), ADMIN, entry_id, reason="test", policy=POLICY, now=now
                )
            )
        for _ in range(6):
            debit, credit = rng.sample(accounts, 2)
            work.append(
                timebank_corrections.adjust(
                    db.unit_of_work(),
                    ADMIN,
                    debit_account_id=debit,
                    credit_account_id=credit,
                    minutes=45,
                    reason="test",
                    policy=POLICY,
                    now=now,
                )
            )
        rng.shuffle(work)
        results = await asyncio.gather(*work, return_exceptions=True)
        unexpected = [
            r
            for r in results
            if isinstance(r, BaseException) and not isinstance(r, LimitExceeded | InvalidInput)
        ]
        assert unexpected == []
        await assert_ledger_sound(db)
    assert await count(db, TimebankEntry) == len(await entries(db))


# --- issue 17, item 23: no deadlock or serialisation failure reaches a caller -------------------


async def test_hundreds_of_mixed_ledger_operations_at_once_reach_no_caller_as_an_error(
    db: Database, now: dt.datetime
) -> None:
    """Exchanges logged, confirmed (some twice at once), declined, withdrawn, raced, and
    administrators' adjustments and reversals, all at the same moment across 10 members and an
    organisation account: on PostgreSQL the exchange inserts' foreign-key checks and the
    ledger's row locks used to cross into deadlocks that reached the member as an error. Only
    domain answers (limits, already decided) may come back; the ledger stays exact."""
    if not db.url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): nothing can deadlock")
    rng = random.Random(23)
    crowd = await people(db, now, 10, first_id=2300)
    org = await timebank_admin.create_organisation_account(
        db.unit_of_work(), ADMIN, "Food co-op", policy=POLICY, now=now
    )
    accounts = [
        await timebank_admin.account_of_member(db.unit_of_work(), p.id, now=now) for p in crowd
    ] + [org.id]
    confirmed = [
        await exchange(db, now, crowd[i], crowd[(i + 3) % 10], 1, description=f"done {i}")
        for i in range(10)
    ]
    pending = [
        (await exchange(db, now, giver, receiver, 0.5, confirm=False), giver, receiver)
        for giver, receiver in (rng.sample(crowd, 2) for _ in range(80))
    ]
    done_entries = [e.id for e in await entries(db)]

    def operations() -> list[Coroutine[Any, Any, Any]]:
        ops: list[Coroutine[Any, Any, Any]] = []
        for view, giver, receiver in pending:
            choice = rng.random()
            confirm = timebank_exchanges.confirm
            if choice < 0.35:
                ops.append(confirm(db.unit_of_work(), receiver.id, view.id, policy=POLICY, now=now))
            elif choice < 0.5:  # a double confirm
                ops += [
                    confirm(db.unit_of_work(), receiver.id, view.id, policy=POLICY, now=now)
                    for _ in range(2)
                ]
            elif choice < 0.65:
                ops.append(
                    timebank_exchanges.decline(db.unit_of_work(), receiver.id, view.id, now=now)
                )
            elif choice < 0.8:
                ops.append(timebank_exchanges.cancel(db.unit_of_work(), giver.id, view.id, now=now))
            else:  # a race: confirm and withdraw at once
                ops += [
                    confirm(db.unit_of_work(), receiver.id, view.id, policy=POLICY, now=now),
                    timebank_exchanges.cancel(db.unit_of_work(), giver.id, view.id, now=now),
                ]
        for i in range(80):
            giver, receiver = rng.sample(crowd, 2)
            ops.append(
                timebank_exchanges.start_exchange(
                    db.unit_of_work(),
                    giver.id,
                    other=receiver.ref if i % 4 else f"a{org.id}",
                    direction="gave",
                    minutes=30,
                    description=f"new {i}",
                    policy=POLICY,
                    now=now,
                )
            )
        for i in range(80):
            debit, credit = rng.sample(accounts, 2)
            ops.append(
                timebank_corrections.adjust(
                    db.unit_of_work(),
                    ADMIN,
                    debit_account_id=debit,
                    credit_account_id=credit,
                    minutes=15,
                    reason=f"correction {i}",
                    policy=POLICY,
                    now=now,
                )
            )
        for entry_id in done_entries:
            ops.append(
                timebank_corrections.reverse(
                    db.unit_of_work(), ADMIN, entry_id, reason="mistake", policy=POLICY, now=now
                )
            )
        rng.shuffle(ops)
        return ops

    ops = operations()
    assert len(ops) >= 250
    results = await asyncio.gather(*ops, return_exceptions=True)

    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)]
    assert errors == []
    assert len(confirmed) == 10
    await assert_ledger_sound(db)
