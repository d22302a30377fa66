"""The ledger's rules: pure functions, and a property-based test (hypothesis) that drives the
real services on SQLite and PostgreSQL with random sequences of exchanges, confirmations,
declines, expiries, reversals and adjustments, comparing them with a model after every step.

Invariants checked after each step: the balances sum to zero; every cached balance equals the
balance derived from the entries; no balance is outside its limits; the database agrees with
the model about every balance and every entry (nothing lost, nothing counted twice); a service
refused exactly what the model says it must refuse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text

from storage.errors import InvalidInput
from storage.members import profiles as members
from storage.migrate import upgrade_engine
from storage.models import Region, TimebankAccount, TimebankEntry, TimebankExchange
from storage.permissions import Actor
from storage.timebank import admin as timebank_admin
from storage.timebank import common as timebank
from storage.timebank import corrections as timebank_corrections
from storage.timebank import exchanges as timebank_exchanges
from storage.timebank import expiry as timebank_expiry
from storage.timebank.ledger import (
    LimitExceeded,
    Limits,
    Movement,
    Policy,
    balances,
    check_entry,
    hours_decimal,
    parse_hours,
    reversal,
    sum_is_zero,
    validate_minutes,
)
from storage.uow import Database

# --- pure rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("2", 120),
        ("1.5", 90),
        ("1,5", 90),
        (",75", 45),
        ("1½", 90),
        ("¾", 45),
        ("1:45", 105),
        ("2 h", 120),
        ("2h", 120),
        ("3 timer", 180),
        ("1 time", 60),
        ("2 timmar", 120),
        ("0.25 hours", 15),
        ("90 min", 90),
        ("45 minutter", 45),
        (" 24 ", 1440),
    ],
)
def test_hours_typed_in_the_usual_ways(typed: str, minutes: int) -> None:
    assert parse_hours(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "hours_invalid"),
        ("two", "hours_invalid"),
        ("1.2.3", "hours_invalid"),
        ("-2", "hours_invalid"),
        ("1e3", "hours_invalid"),
        ("0.33", "hours_not_quarter"),
        ("1:61", "hours_invalid"),
    ],
)
def test_hours_that_cannot_be_read(typed: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_hours(typed)
    assert caught.value.code == code


def test_validate_minutes() -> None:
    assert validate_minutes(15) == 15
    assert validate_minutes(1440) == 1440
    for minutes, code in ((0, "hours_not_positive"), (20, "hours_not_quarter")):
        with pytest.raises(InvalidInput) as caught:
            validate_minutes(minutes)
        assert caught.value.code == code
    with pytest.raises(InvalidInput) as caught:
        validate_minutes(1455)
    assert caught.value.code == "hours_too_many"
    assert caught.value.params == {"max": 24}


def test_hours_are_exact_decimals() -> None:
    assert hours_decimal(90) == Decimal("1.5")
    assert hours_decimal(-15) == Decimal("-0.25")
    assert hours_decimal(1440) == Decimal("24")
    assert [str(hours_decimal(m)) for m in (600, 6000, 0, 630, -1200)] == [
        "10",
        "100",
        "0",
        "10.5",
        "-20",
    ]


LIMITS = Limits.hours(-20, 100)


def test_check_entry_refuses_crossing_either_limit() -> None:
    check_entry(
        debit_account_id=1,
        credit_account_id=2,
        minutes=60,
        debit_balance=-19 * 60,
        credit_balance=99 * 60,
        debit_limits=LIMITS,
        credit_limits=LIMITS,
    )
    with pytest.raises(LimitExceeded) as caught:
        check_entry(
            debit_account_id=1,
            credit_account_id=2,
            minutes=75,
            debit_balance=-19 * 60,
            credit_balance=0,
            debit_limits=LIMITS,
            credit_limits=LIMITS,
        )
    assert caught.value.code == "balance_below_minimum"
    assert caught.value.params == {
        "account_id": 1,
        "balance": -1140,
        "after": -1215,
        "limit": -1200,
    }
    with pytest.raises(LimitExceeded) as caught:
        check_entry(
            debit_account_id=1,
            credit_account_id=2,
            minutes=75,
            debit_balance=0,
            credit_balance=99 * 60,
            debit_limits=LIMITS,
            credit_limits=LIMITS,
        )
    assert caught.value.code == "balance_above_maximum"
    assert caught.value.account_id == 2
    with pytest.raises(InvalidInput) as caught_self:
        check_entry(
            debit_account_id=3,
            credit_account_id=3,
            minutes=60,
            debit_balance=0,
            credit_balance=0,
            debit_limits=LIMITS,
            credit_limits=LIMITS,
        )
    assert caught_self.value.code == "self_exchange"


def test_an_account_outside_new_limits_may_move_back_towards_them() -> None:
    check_entry(
        debit_account_id=1,
        credit_account_id=2,
        minutes=60,
        debit_balance=500 * 60,  # above a maximum lowered since
        credit_balance=-30 * 60,  # below a minimum raised since
        debit_limits=LIMITS,
        credit_limits=LIMITS,
    )


def test_limits_must_include_zero() -> None:
    with pytest.raises(ValueError, match="min <= 0 <= max"):
        Limits(60, 120)


movements = st.lists(
    st.builds(
        Movement,
        debit_account_id=st.integers(1, 6),
        credit_account_id=st.integers(1, 6),
        minutes=st.integers(1, 24 * 4).map(lambda q: q * 15),
    ),
    max_size=60,
)


@given(movements)
def test_any_sequence_of_entries_sums_to_zero(entries: list[Movement]) -> None:
    assert sum_is_zero(balances(entries))


@given(movements)
def test_reversing_every_entry_brings_every_balance_back_to_zero(entries: list[Movement]) -> None:
    undone = balances([*entries, *map(reversal, reversed(entries))])
    assert all(value == 0 for value in undone.values())


# --- the services against a model, on both databases ----------------------------------------


MEMBER_LIMITS = Limits.hours(-5, 8)
ORGANISATION_LIMITS = Limits.hours(-20, 20)
RULES = Policy(
    member_limits=MEMBER_LIMITS,
    organisation_limits=ORGANISATION_LIMITS,
    expiry=dt.timedelta(days=14),
)
ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)
START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
T = TypeVar("T")


@dataclass
class World:
    """The database (kept across examples) and the accounts of the current example."""

    runner: asyncio.Runner
    db: Database
    region_id: int = 0
    examples: int = 0
    accounts: list[int] = field(default_factory=list)  # account ids
    actor_of: dict[int, tuple[int, int | None]] = field(default_factory=dict)  # member, as
    ref_of: dict[int, str] = field(default_factory=dict)
    limits_of: dict[int, Limits] = field(default_factory=dict)
    now: dt.datetime = START

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    async def new_accounts(self) -> None:
        """Three members' accounts and an organisation account run by a fourth member, all
        new (so every example starts from the same state), and the clock back at START."""
        self.examples += 1
        self.accounts, self.actor_of, self.ref_of, self.limits_of = [], {}, {}, {}
        self.now = START
        people = []
        for n in range(4):
            registration = await members.register(
                self.db.unit_of_work(),
                telegram_user_id=self.examples * 10 + n,
                telegram_username=None,
                name=f"Member {n}",
                # One address per member: code mails are throttled per address.
                email=f"m{self.examples}-{n}@example.dk",
                organisation=None,
                sector="civil_society",
                region_id=self.region_id,
                language="en",
                now=START,
            )
            people.append(registration.member.id)
        for member_id in people[:3]:
            account = await timebank_admin.account_of_member(
                self.db.unit_of_work(), member_id, now=START
            )
            self.accounts.append(account)
            self.actor_of[account] = (member_id, None)
            self.ref_of[account] = f"m{member_id}"
            self.limits_of[account] = MEMBER_LIMITS
        organisation = await timebank_admin.create_organisation_account(
            self.db.unit_of_work(),
            ADMIN,
            f"Volunteer centre {self.examples}",
            policy=RULES,
            now=START,
        )
        await timebank_admin.set_coordinator(
            self.db.unit_of_work(), ADMIN, organisation.id, people[3], coordinator=True, now=START
        )
        self.accounts.append(organisation.id)
        self.actor_of[organisation.id] = (people[3], organisation.id)
        self.ref_of[organisation.id] = f"a{organisation.id}"
        self.limits_of[organisation.id] = ORGANISATION_LIMITS


async def _build_world(url: str, runner: asyncio.Runner) -> World:
    if url.startswith("postgresql"):
        reset = Database(url)
        async with reset.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
    db = Database(url)
    await upgrade_engine(db.engine)
    async with db.unit_of_work() as uow:
        region = await uow.session.scalar(select(Region.id).limit(1))
    assert region is not None
    return World(runner, db, region_id=region)


@dataclass
class Pending:
    id: int
    giver: int
    receiver: int
    initiator: int
    minutes: int
    created_at: dt.datetime


@dataclass
class Posted:
    id: int
    debit: int
    credit: int
    minutes: int
    kind: str
    reversed: bool = False


class LedgerMachine(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        world.run(world.new_accounts())
        self.balances: dict[int, int] = world.run(self._db_balances())
        self.entry_count: int = world.run(self._db_entry_count())
        self.pending: list[Pending] = []
        self.posted: list[Posted] = []

    # -- helpers ---------------------------------------------------------------------------

    async def _db_balances(self) -> dict[int, int]:
        async with self.world.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(TimebankAccount.id, TimebankAccount.balance_minutes).where(
                    TimebankAccount.id.in_(self.world.accounts)
                )
            )
            return {account: value for account, value in rows.all()}

    async def _db_entry_count(self) -> int:
        async with self.world.db.unit_of_work() as uow:
            return int(await uow.session.scalar(select(func.count(TimebankEntry.id))) or 0)

    def _allowed(self, debit: int, credit: int, minutes: int) -> bool:
        return (
            self.balances[debit] - minutes >= self.world.limits_of[debit].min_minutes
            and self.balances[credit] + minutes <= self.world.limits_of[credit].max_minutes
        )

    def _move(self, debit: int, credit: int, minutes: int) -> None:
        self.balances[debit] -= minutes
        self.balances[credit] += minutes
        self.entry_count += 1

    def _confirmer(self, item: Pending) -> int:
        counterpart = item.receiver if item.initiator == item.giver else item.giver
        return self.world.actor_of[counterpart][0]

    # -- rules -----------------------------------------------------------------------------

    @rule(
        giver=st.integers(0, 3),
        receiver=st.integers(0, 3),
        quarters=st.integers(1, 6 * 4),
        giver_logs=st.booleans(),
    )
    def log_exchange(self, giver: int, receiver: int, quarters: int, giver_logs: bool) -> None:
        world = self.world
        g, r = world.accounts[giver], world.accounts[receiver]
        minutes = quarters * 15
        initiator, other = (g, r) if giver_logs else (r, g)
        member_id, as_account = world.actor_of[initiator]
        call = timebank_exchanges.start_exchange(
            world.db.unit_of_work(),
            member_id,
            other=world.ref_of[other],
            direction="gave" if giver_logs else "received",
            minutes=minutes,
            description="help",
            policy=RULES,
            now=world.now,
            as_account_id=as_account,
        )
        if g == r:
            with pytest.raises(InvalidInput):
                world.run(call)
            return
        if not self._allowed(r, g, minutes):
            with pytest.raises(LimitExceeded):
                world.run(call)
            return
        view: timebank.ExchangeView = world.run(call)
        self.pending.append(Pending(view.id, g, r, initiator, minutes, world.now))

    @precondition(lambda self: self.pending)
    @rule(index=st.integers(0, 1000), twice=st.booleans())
    def confirm(self, index: int, twice: bool) -> None:
        world = self.world
        item = self.pending[index % len(self.pending)]

        def call() -> Coroutine[Any, Any, timebank_exchanges.Decision]:
            return timebank_exchanges.confirm(
                world.db.unit_of_work(),
                self._confirmer(item),
                item.id,
                policy=RULES,
                now=world.now,
            )

        if world.now >= item.created_at + RULES.expiry:
            with pytest.raises(InvalidInput):
                world.run(call())
            self.pending.remove(item)
            return
        if not self._allowed(item.receiver, item.giver, item.minutes):
            with pytest.raises(LimitExceeded):
                world.run(call())
            return  # stays pending
        decision: timebank_exchanges.Decision = world.run(call())
        assert decision.changed
        self._move(item.receiver, item.giver, item.minutes)
        assert decision.balances == {
            item.receiver: self.balances[item.receiver],
            item.giver: self.balances[item.giver],
        }
        self.pending.remove(item)
        entry_id = world.run(self._entry_of(item.id))
        self.posted.append(Posted(entry_id, item.receiver, item.giver, item.minutes, "exchange"))
        if twice:
            again: timebank_exchanges.Decision = world.run(call())
            assert not again.changed

    async def _entry_of(self, exchange_id: int) -> int:
        async with self.world.db.unit_of_work() as uow:
            found = await uow.session.scalar(
                select(TimebankEntry.id).where(TimebankEntry.exchange_id == exchange_id)
            )
            assert found is not None
            return int(found)

    @precondition(lambda self: self.pending)
    @rule(index=st.integers(0, 1000))
    def decline(self, index: int) -> None:
        item = self.pending.pop(index % len(self.pending))
        call = timebank_exchanges.decline(
            self.world.db.unit_of_work(), self._confirmer(item), item.id, now=self.world.now
        )
        decision: timebank_exchanges.Decision = self.world.run(call)
        assert decision.exchange.status == "declined"

    @rule(days=st.integers(1, 10))
    def time_passes_and_the_expiry_job_runs(self, days: int) -> None:
        world = self.world
        world.now += dt.timedelta(days=days)
        due = [p for p in self.pending if p.created_at + RULES.expiry <= world.now]
        while world.run(
            timebank_expiry.expire_due(world.db.unit_of_work(), policy=RULES, now=world.now)
        ):
            pass
        statuses = world.run(self._statuses())
        for item in self.pending:
            assert statuses[item.id] == ("expired" if item in due else "pending")
        for item in due:
            self.pending.remove(item)

    async def _statuses(self) -> dict[int, str]:
        async with self.world.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(TimebankExchange.id, TimebankExchange.status).where(
                    TimebankExchange.id.in_([p.id for p in self.pending])
                )
            )
            return {exchange_id: status for exchange_id, status in rows.all()}

    @precondition(lambda self: self.posted)
    @rule(index=st.integers(0, 1000))
    def reverse(self, index: int) -> None:
        world = self.world
        item = self.posted[index % len(self.posted)]
        call = timebank_corrections.reverse(
            world.db.unit_of_work(),
            ADMIN,
            item.id,
            reason="correction",
            policy=RULES,
            now=world.now,
        )
        if item.kind == "reversal" or item.reversed:
            with pytest.raises(InvalidInput):
                world.run(call)
            return
        if not self._allowed(item.credit, item.debit, item.minutes):
            with pytest.raises(LimitExceeded):
                world.run(call)
            return
        view: timebank_corrections.EntryView = world.run(call)
        item.reversed = True
        self._move(item.credit, item.debit, item.minutes)
        self.posted.append(Posted(view.id, item.credit, item.debit, item.minutes, "reversal"))

    @rule(
        debit=st.integers(0, 3),
        credit=st.integers(0, 3),
        quarters=st.integers(1, 40 * 4),
    )
    def adjust(self, debit: int, credit: int, quarters: int) -> None:
        world = self.world
        d, c = world.accounts[debit], world.accounts[credit]
        minutes = quarters * 15
        call = timebank_corrections.adjust(
            world.db.unit_of_work(),
            ADMIN,
            debit_account_id=d,
            credit_account_id=c,
            minutes=minutes,
            reason="adjustment",
            policy=RULES,
            now=world.now,
        )
        if d == c:
            with pytest.raises(InvalidInput):
                world.run(call)
            return
        if not self._allowed(d, c, minutes):
            with pytest.raises(LimitExceeded):
                world.run(call)
            return
        view: timebank_corrections.EntryView = world.run(call)
        self._move(d, c, minutes)
        self.posted.append(Posted(view.id, d, c, minutes, "adjustment"))

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def the_ledger_is_sound(self) -> None:
        world = self.world
        check: timebank_admin.LedgerCheck = world.run(
            timebank_admin.check_ledger(world.db.unit_of_work(), policy=RULES)
        )
        assert check.sum_of_balances == 0
        assert check.mismatched == {}
        assert check.outside_limits == []
        assert check.entries == self.entry_count
        assert world.run(self._db_balances()) == self.balances
        for account, value in self.balances.items():
            limits = world.limits_of[account]
            assert limits.min_minutes <= value <= limits.max_minutes


def test_random_sequences_never_break_the_ledger(database_url: str) -> None:
    """Runs once per backend (``database_url`` is SQLite, then PostgreSQL when configured)."""
    with asyncio.Runner() as runner:
        world = runner.run(_build_world(database_url, runner))
        try:
            machine = type("Machine", (LedgerMachine,), {"world": world})
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=30,
                    stateful_step_count=30,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            runner.run(world.db.dispose())
