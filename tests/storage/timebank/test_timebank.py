"""Timebank services on SQLite and PostgreSQL: exchanges and their confirmation, limits,
expiry, corrections, history, statistics, listings, contact requests, erasure."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from samvirke.settings import load_settings
from scheduler.timebank_expiry import expire_pending_exchanges
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.members import privacy
from storage.models import AuditEntry, TimebankContactRequest, TimebankEntry, TimebankExchange
from storage.permissions import Actor
from storage.timebank import accounts as timebank_accounts
from storage.timebank import admin as timebank_admin
from storage.timebank import common as timebank
from storage.timebank import contacts as timebank_contacts
from storage.timebank import corrections as timebank_corrections
from storage.timebank import exchanges as timebank_exchanges
from storage.timebank import listings as timebank_listings
from storage.timebank import privacy as timebank_privacy
from storage.timebank import stats as timebank_stats
from storage.timebank.ledger import LimitExceeded, Policy
from storage.uow import Database
from tests.support.timebank_kit import (
    ADMIN,
    HOUR,
    POLICY,
    Person,
    assert_ledger_sound,
    balance,
    category_id,
    count,
    entries,
    exchange,
    exchange_row,
    person,
    policy,
    region_id,
    telegram_rows,
)


@pytest.fixture
async def karen(db: Database, now: dt.datetime) -> Person:
    return await person(db, now, 101, "Karen Jensen", username="karenj")


@pytest.fixture
async def lars(db: Database, now: dt.datetime) -> Person:
    return await person(db, now, 102, "Lars Holm", username="LarsH", sector="public")


@pytest.fixture
async def soeren(db: Database, now: dt.datetime) -> Person:
    return await person(
        db, now, 103, "Søren Ærbø", language="da", sector="foundation", region="hovedstaden"
    )


# --- exchanges ------------------------------------------------------------------------------


async def test_confirmed_exchange_moves_the_hours_once_and_tells_both(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    view = await timebank_exchanges.start_exchange(
        db.unit_of_work(),
        karen.id,
        other=lars.ref,
        direction="gave",
        minutes=2 * HOUR,
        description="  Grant-writing help\nfor the food co-op ",
        policy=POLICY,
        now=now,
    )
    assert view.description == "Grant-writing help for the food co-op"
    assert view.giver.name == "Karen Jensen"
    assert view.receiver.name == "Lars Holm"
    assert view.status == "pending"
    assert await entries(db) == []

    [request] = await telegram_rows(db)
    assert request.key == f"tb:confirm:{view.id}:{lars.id}"
    assert request.member_id == lars.id
    assert request.payload["chat_id"] == lars.telegram_user_id
    assert request.payload["text"] == (
        "Karen Jensen says they helped you: 2 h, “Grant-writing help for the food co-op”.\n\n"
        "The hours move only when you confirm."
    )
    assert request.payload["buttons"] == [
        [
            {"text": "Confirm", "callback_data": f"tb:ok:{view.id}"},
            {"text": "Decline", "callback_data": f"tb:no:{view.id}"},
        ]
    ]

    later = now + dt.timedelta(hours=3)
    decision = await timebank_exchanges.confirm(
        db.unit_of_work(), lars.id, view.id, policy=POLICY, now=later
    )
    assert decision.changed
    assert decision.exchange.status == "confirmed"
    assert await balance(db, karen) == 2 * HOUR
    assert await balance(db, lars) == -2 * HOUR
    [entry] = await entries(db)
    assert (entry.kind, entry.minutes, entry.exchange_id) == ("exchange", 120, view.id)
    assert entry.created_at == later

    again = await timebank_exchanges.confirm(
        db.unit_of_work(), lars.id, view.id, policy=POLICY, now=later
    )
    assert not again.changed
    assert len(await entries(db)) == 1
    assert await balance(db, karen) == 2 * HOUR

    notices = await telegram_rows(db, "tb:confirmed:")
    assert [(n.key, n.payload["text"]) for n in notices] == [
        (
            f"tb:confirmed:{view.id}:{karen.id}",
            "Lars Holm confirmed the exchange: 2 h, “Grant-writing help for the food co-op”.\n"
            "Your balance is now 2 h.",
        )
    ]
    await assert_ledger_sound(db)


async def test_the_receiver_can_log_it_and_the_giver_confirms(
    db: Database, now: dt.datetime, karen: Person, soeren: Person
) -> None:
    view = await timebank_exchanges.start_exchange(
        db.unit_of_work(),
        karen.id,
        other=soeren.ref,
        direction="received",
        minutes=90,
        description="Hjælp med budgettet",
        policy=POLICY,
        now=now,
    )
    assert view.giver.member_id == soeren.id
    [request] = await telegram_rows(db)
    # Rendered in Søren's language (Danish); the texts here are not translated yet, so only
    # the number format shows it.
    assert "1,5" in request.payload["text"]
    with pytest.raises(NotAllowed):
        await timebank_exchanges.confirm(
            db.unit_of_work(), karen.id, view.id, policy=POLICY, now=now
        )
    await timebank_exchanges.confirm(db.unit_of_work(), soeren.id, view.id, policy=POLICY, now=now)
    assert await balance(db, soeren) == 90
    assert await balance(db, karen) == -90


async def test_decline_and_withdraw_move_nothing_and_tell_the_other_side(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    first = await exchange(db, now, karen, lars, 1, confirm=False)
    decision = await timebank_exchanges.decline(db.unit_of_work(), lars.id, first.id, now=now)
    assert decision.changed
    assert decision.exchange.status == "declined"
    assert not (
        await timebank_exchanges.decline(db.unit_of_work(), lars.id, first.id, now=now)
    ).changed
    with pytest.raises(InvalidInput) as caught:
        await timebank_exchanges.confirm(
            db.unit_of_work(), lars.id, first.id, policy=POLICY, now=now
        )
    assert caught.value.code == "exchange_declined"
    [declined] = await telegram_rows(db, "tb:declined:")
    assert declined.member_id == karen.id
    assert declined.payload["text"] == (
        "Lars Holm declined the exchange: 1 h, “Grant-writing help for the food co-op”. "
        "No hours were moved."
    )

    second = await exchange(db, now, karen, lars, 1, confirm=False)
    with pytest.raises(NotAllowed):
        await timebank_exchanges.cancel(db.unit_of_work(), lars.id, second.id, now=now)
    await timebank_exchanges.cancel(db.unit_of_work(), karen.id, second.id, now=now)
    [cancelled] = await telegram_rows(db, "tb:cancelled:")
    assert cancelled.member_id == lars.id
    with pytest.raises(InvalidInput) as caught:
        await timebank_exchanges.confirm(
            db.unit_of_work(), lars.id, second.id, policy=POLICY, now=now
        )
    assert caught.value.code == "exchange_cancelled"
    assert await entries(db) == []
    assert await balance(db, karen) == 0


async def test_a_member_cannot_exchange_with_themselves(
    db: Database, now: dt.datetime, karen: Person
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await exchange(db, now, karen, karen, 1, confirm=False)
    assert caught.value.code == "self_exchange"
    assert await count(db, TimebankExchange) == 0


@pytest.mark.parametrize(
    ("minutes", "code"),
    [
        (0, "hours_not_positive"),
        (-60, "hours_not_positive"),
        (50, "hours_not_quarter"),
        (24 * 60 + 15, "hours_too_many"),
    ],
)
async def test_hours_are_quarter_hours_above_zero_and_at_most_24(
    db: Database, now: dt.datetime, karen: Person, lars: Person, minutes: int, code: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            karen.id,
            other=lars.ref,
            direction="gave",
            minutes=minutes,
            description="help",
            policy=POLICY,
            now=now,
        )
    assert caught.value.code == code


async def test_24_hours_is_allowed_and_a_description_is_required(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    await exchange(db, now, karen, lars, 24, confirm=False, rules=policy(min_hours=-30))
    with pytest.raises(InvalidInput) as caught:
        await exchange(db, now, karen, lars, 1, description="  \n ", confirm=False)
    assert caught.value.code == "description_empty"


async def test_a_double_tapped_send_makes_one_exchange(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    async def send() -> timebank.ExchangeView:
        return await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            karen.id,
            other=lars.ref,
            direction="gave",
            minutes=60,
            description="help",
            policy=POLICY,
            now=now,
            request_key=f"{karen.id}:abc123",
        )

    views = await asyncio.gather(send(), send(), send())
    assert len({v.id for v in views}) == 1
    assert await count(db, TimebankExchange) == 1
    assert len(await telegram_rows(db, "tb:confirm:")) == 1


# --- limits ---------------------------------------------------------------------------------


async def test_an_exchange_below_the_minimum_is_refused_saying_why(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    await exchange(db, now, karen, lars, 19)
    with pytest.raises(LimitExceeded) as caught:
        await exchange(db, now, karen, lars, 2, confirm=False)
    error = caught.value
    assert error.code == "balance_below_minimum"
    assert error.params["account_name"] == "Lars Holm"
    assert error.params["account_member_id"] == lars.id
    assert error.params["balance"] == -19 * HOUR
    assert error.params["after"] == -21 * HOUR
    assert error.params["limit"] == -20 * HOUR
    assert error.params["debit_name"] == "Lars Holm"
    assert error.params["debit_balance"] == -19 * HOUR
    assert error.params["credit_name"] == "Karen Jensen"
    assert error.params["credit_balance"] == 19 * HOUR
    # Exactly down to the minimum is fine.
    await exchange(db, now, karen, lars, 1)
    assert await balance(db, lars) == -20 * HOUR
    await assert_ledger_sound(db)


async def test_limits_are_checked_again_when_confirming(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    """Two pending exchanges that each fit, but not both: the second confirmation is refused
    and stays pending; it can be confirmed once the balance allows it."""
    first = await exchange(db, now, karen, lars, 12, confirm=False)
    second = await exchange(db, now, soeren, lars, 12, confirm=False)
    await timebank_exchanges.confirm(db.unit_of_work(), lars.id, first.id, policy=POLICY, now=now)
    with pytest.raises(LimitExceeded) as caught:
        await timebank_exchanges.confirm(
            db.unit_of_work(), lars.id, second.id, policy=POLICY, now=now
        )
    assert caught.value.params["after"] == -24 * HOUR
    assert (await exchange_row(db, second.id)).status == "pending"
    assert len(await entries(db)) == 1

    await exchange(db, now, lars, soeren, 4)
    await timebank_exchanges.confirm(db.unit_of_work(), lars.id, second.id, policy=POLICY, now=now)
    assert await balance(db, lars) == -20 * HOUR
    await assert_ledger_sound(db)


async def test_an_exchange_above_the_maximum_is_refused(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    rules = policy(min_hours=-20, max_hours=10)
    await exchange(db, now, karen, lars, 8, rules=rules)
    with pytest.raises(LimitExceeded) as caught:
        await exchange(db, now, karen, soeren, 3, rules=rules, confirm=False)
    assert caught.value.code == "balance_above_maximum"
    assert caught.value.params["account_member_id"] == karen.id
    assert caught.value.params["limit"] == 10 * HOUR
    await assert_ledger_sound(db, rules)


async def test_limits_come_from_the_settings(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    settings = load_settings(
        _env_file=None,
        timebank_min_balance_hours="-2",
        timebank_max_balance_hours="3",
        timebank_expiry_days="5",
    )
    rules = Policy.from_settings(settings)
    assert rules.member_limits.min_minutes == -120
    assert rules.member_limits.max_minutes == 180
    assert rules.expiry == dt.timedelta(days=5)
    with pytest.raises(LimitExceeded):
        await exchange(db, now, karen, lars, 3, rules=rules, confirm=False)


# --- expiry ---------------------------------------------------------------------------------


async def test_pending_exchanges_expire_after_the_configured_days_telling_both(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    settings = load_settings(_env_file=None, timebank_expiry_days="14")
    old = await exchange(db, now, karen, lars, 1, confirm=False)
    newer = await exchange(db, now + dt.timedelta(days=1), karen, lars, 2, confirm=False)
    confirmed = await exchange(db, now, karen, lars, 3)

    due = now + dt.timedelta(days=14)
    assert await expire_pending_exchanges(db, settings, due - dt.timedelta(seconds=1)) == 0
    assert await expire_pending_exchanges(db, settings, due) == 1
    assert await expire_pending_exchanges(db, settings, due) == 0
    assert (await exchange_row(db, old.id)).status == "expired"
    assert (await exchange_row(db, newer.id)).status == "pending"
    assert (await exchange_row(db, confirmed.id)).status == "confirmed"
    notices = await telegram_rows(db, "tb:expired:")
    assert sorted(n.member_id or 0 for n in notices) == sorted([karen.id, lars.id])
    assert notices[0].payload["text"] == (
        "The exchange of 1 h between Karen Jensen and Lars Holm, “Grant-writing help for the "
        "food co-op”, was not confirmed within 14 days and has expired. No hours were moved."
    )
    with pytest.raises(InvalidInput) as caught:
        await timebank_exchanges.confirm(db.unit_of_work(), lars.id, old.id, policy=POLICY, now=due)
    assert caught.value.code == "exchange_expired"
    assert await balance(db, karen) == 3 * HOUR


async def test_confirming_after_the_deadline_expires_it_even_before_the_job_ran(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    view = await exchange(db, now, karen, lars, 1, confirm=False)
    late = now + dt.timedelta(days=14, minutes=1)
    with pytest.raises(InvalidInput) as caught:
        await timebank_exchanges.confirm(
            db.unit_of_work(), lars.id, view.id, policy=POLICY, now=late
        )
    assert caught.value.code == "exchange_expired"
    assert (await exchange_row(db, view.id)).status == "expired"
    assert len(await telegram_rows(db, "tb:expired:")) == 2
    assert await entries(db) == []


# --- corrections ----------------------------------------------------------------------------


async def test_reversal_is_a_new_entry_and_happens_once(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    view = await exchange(db, now, karen, lars, 3)
    [entry] = await entries(db)
    member = Actor(telegram_user_id=101, member_id=karen.id)
    with pytest.raises(NotAllowed):
        await timebank_corrections.reverse(
            db.unit_of_work(), member, entry.id, reason="typo", policy=POLICY, now=now
        )
    with pytest.raises(InvalidInput) as caught:
        await timebank_corrections.reverse(
            db.unit_of_work(), ADMIN, entry.id, reason="", policy=POLICY, now=now
        )
    assert caught.value.code == "reason_missing"

    reversal = await timebank_corrections.reverse(
        db.unit_of_work(), ADMIN, entry.id, reason="Logged twice", policy=POLICY, now=now
    )
    assert reversal.kind == "reversal"
    assert reversal.reverses_entry_id == entry.id
    assert (reversal.debit.member_id, reversal.credit.member_id) == (karen.id, lars.id)
    assert await balance(db, karen) == 0
    assert await balance(db, lars) == 0
    with pytest.raises(InvalidInput) as caught:
        await timebank_corrections.reverse(
            db.unit_of_work(), ADMIN, entry.id, reason="again", policy=POLICY, now=now
        )
    assert caught.value.code == "already_reversed"
    with pytest.raises(InvalidInput) as caught:
        await timebank_corrections.reverse(
            db.unit_of_work(), ADMIN, reversal.id, reason="undo undo", policy=POLICY, now=now
        )
    assert caught.value.code == "cannot_reverse_reversal"
    # The original entry is untouched: two entries now.
    stored = await entries(db)
    assert [(e.kind, e.minutes) for e in stored] == [("exchange", 180), ("reversal", 180)]
    assert (await exchange_row(db, view.id)).status == "confirmed"
    notices = await telegram_rows(db, "tb:corrected:")
    assert sorted(n.member_id or 0 for n in notices) == sorted([karen.id, lars.id])
    karen_notice = next(n for n in notices if n.member_id == karen.id)
    assert karen_notice.payload["text"] == (
        "An administrator corrected the timebank account of Karen Jensen: -3 h.\n"
        "Reason: Logged twice\nYour balance is now 0 h."
    )
    async with db.unit_of_work() as uow:
        audit = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "timebank.reversed")
        )
        assert audit is not None
        assert audit.details["reason"] == "Logged twice"
        assert audit.details["reverses_entry_id"] == entry.id
    await assert_ledger_sound(db)


async def test_a_reversal_that_would_cross_a_limit_is_refused(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    await exchange(db, now, karen, lars, 10)
    [entry] = await entries(db)
    await exchange(db, now, soeren, karen, 12)
    await exchange(db, now, soeren, karen, 12)  # Karen spent 24 h: now at -14 h
    with pytest.raises(LimitExceeded) as caught:
        await timebank_corrections.reverse(
            db.unit_of_work(), ADMIN, entry.id, reason="mistake", policy=POLICY, now=now
        )
    assert caught.value.code == "balance_below_minimum"
    assert caught.value.params["account_member_id"] == karen.id
    await assert_ledger_sound(db)


async def test_administrators_name_accounts_as_they_write_them_in_one_transaction(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    """ "@username" and "org:NUMBER" are resolved inside the service's own transaction: a member
    without an account gets one there, and an unknown name changes nothing at all."""
    food_coop = await timebank_admin.create_organisation_account(
        db.unit_of_work(), ADMIN, "Fødevarefællesskabet", policy=POLICY, now=now
    )
    with pytest.raises(NotFound) as caught:
        await timebank_corrections.adjust(
            db.unit_of_work(),
            ADMIN,
            debit_account_id="@karenj",
            credit_account_id="@nobody_here",
            minutes=60,
            reason="Workshop hours",
            policy=POLICY,
            now=now,
        )
    assert caught.value.code == "username_unknown"
    async with db.unit_of_work() as uow:
        assert await timebank.existing_member_account(uow.session, karen.id) is None
    view = await timebank_corrections.adjust(
        db.unit_of_work(),
        ADMIN,
        debit_account_id=f"ORG:{food_coop.id}",
        credit_account_id="@KarenJ",
        minutes=90,
        reason="Workshop hours",
        policy=POLICY,
        now=now,
    )
    async with db.unit_of_work() as uow:
        karen_account = await timebank.existing_member_account(uow.session, karen.id)
    assert view.balances == {food_coop.id: -90, karen_account: 90}
    history = await timebank_admin.member_history(
        db.unit_of_work(), ADMIN, "@karenj", policy=POLICY, now=now
    )
    assert (history.account.id, [line.minutes for line in history.lines]) == (karen_account, [90])
    lars_history = await timebank_admin.member_history(
        db.unit_of_work(), ADMIN, "LarsH", policy=POLICY, now=now
    )
    assert (lars_history.account.member_id, lars_history.lines) == (lars.id, [])
    coordinator = await timebank_admin.set_coordinator(
        db.unit_of_work(), ADMIN, food_coop.id, "@larsh", coordinator=True, now=now
    )
    assert (coordinator.member_id, coordinator.name) == (lars.id, "Lars Holm")
    with pytest.raises(NotAllowed):
        await timebank_admin.member_history(
            db.unit_of_work(), Actor(101, karen.id), "@larsh", policy=POLICY, now=now
        )
    await assert_ledger_sound(db)


async def test_adjustments_need_an_administrator_and_a_reason_and_are_audited(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    karen_account = await timebank_admin.account_of_member(db.unit_of_work(), karen.id, now=now)
    lars_account = await timebank_admin.account_of_member(db.unit_of_work(), lars.id, now=now)
    organiser = Actor(
        telegram_user_id=101, member_id=karen.id, role="organiser", organiser_all_regions=True
    )
    with pytest.raises(NotAllowed):
        await timebank_corrections.adjust(
            db.unit_of_work(),
            organiser,
            debit_account_id=lars_account,
            credit_account_id=karen_account,
            minutes=60,
            reason="why not",
            policy=POLICY,
            now=now,
        )
    with pytest.raises(InvalidInput) as caught:
        await timebank_corrections.adjust(
            db.unit_of_work(),
            ADMIN,
            debit_account_id=lars_account,
            credit_account_id=karen_account,
            minutes=60,
            reason=" ",
            policy=POLICY,
            now=now,
        )
    assert caught.value.code == "reason_missing"
    view = await timebank_corrections.adjust(
        db.unit_of_work(),
        ADMIN,
        debit_account_id=lars_account,
        credit_account_id=karen_account,
        minutes=90,
        reason="Workshop hours logged on paper",
        policy=POLICY,
        now=now,
    )
    assert view.balances == {lars_account: -90, karen_account: 90}
    async with db.unit_of_work() as uow:
        audit = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "timebank.adjusted")
        )
        assert audit is not None
        assert audit.at == now
        assert audit.details == {
            "actor_telegram_user_id": 1,
            "entry_id": view.id,
            "debit_account_id": lars_account,
            "credit_account_id": karen_account,
            "minutes": 90,
            "reason": "Workshop hours logged on paper",
        }
    with pytest.raises(InvalidInput) as caught:
        await timebank_corrections.adjust(
            db.unit_of_work(),
            ADMIN,
            debit_account_id=karen_account,
            credit_account_id=karen_account,
            minutes=60,
            reason="self",
            policy=POLICY,
            now=now,
        )
    assert caught.value.code == "self_exchange"
    await assert_ledger_sound(db)


async def test_ledger_entries_cannot_be_changed_or_deleted(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    await exchange(db, now, karen, lars, 1)
    for statement in (
        update(TimebankEntry).values(minutes=600),
        delete(TimebankEntry),
    ):
        async with db.unit_of_work() as uow:
            with pytest.raises(DBAPIError, match="immutable"):
                await uow.session.execute(statement)
    [entry] = await entries(db)
    assert entry.minutes == 60


async def test_the_database_refuses_a_second_entry_for_an_exchange(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    """The last line of defence behind the status check (a unique index)."""
    view = await exchange(db, now, karen, lars, 1)
    [entry] = await entries(db)
    async with db.unit_of_work() as uow:
        uow.session.add(
            TimebankEntry(
                kind="exchange",
                debit_account_id=entry.debit_account_id,
                credit_account_id=entry.credit_account_id,
                minutes=60,
                exchange_id=view.id,
                created_at=now,
            )
        )
        with pytest.raises(DBAPIError):
            await uow.session.flush()


# --- history and statistics -----------------------------------------------------------------


async def test_history_lists_every_entry_with_the_running_balance(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    await exchange(db, now, karen, lars, 2, description="Budget")
    await exchange(db, now + dt.timedelta(hours=1), soeren, karen, 0.5, description="Translation")
    await exchange(db, now, karen, soeren, 1, confirm=False)  # pending: not in the history
    [first, _second] = await entries(db)
    await timebank_corrections.reverse(
        db.unit_of_work(),
        ADMIN,
        first.id,
        reason="Never happened",
        policy=POLICY,
        now=now + dt.timedelta(hours=2),
    )
    actor = Actor(telegram_user_id=101, member_id=karen.id)
    result = await timebank_accounts.history(db.unit_of_work(), actor, policy=POLICY)
    assert result.account.balance == -30
    assert [
        (line.kind, line.minutes, line.counterpart.name, line.text, line.balance_after)
        for line in result.lines
    ] == [
        ("reversal", -120, "Lars Holm", "Never happened", -30),
        ("exchange", -30, "Søren Ærbø", "Translation", 90),
        ("exchange", 120, "Lars Holm", "Budget", 120),
    ]
    assert [line.reversed for line in result.lines] == [False, False, True]

    other = Actor(telegram_user_id=102, member_id=lars.id)
    with pytest.raises(NotAllowed):
        await timebank_accounts.history(
            db.unit_of_work(), other, policy=POLICY, account_id=result.account.id
        )


async def test_statistics_per_month_region_and_sector(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    tz = ZoneInfo("Europe/Copenhagen")
    october = now - dt.timedelta(days=40)
    await exchange(db, october, karen, lars, 2)  # Midtjylland, civil society
    await exchange(db, now, soeren, karen, 1.5)  # Hovedstaden, foundation
    await exchange(db, now, lars, soeren, 1)  # Midtjylland, public
    await exchange(db, now, karen, soeren, 4, confirm=False)  # pending: not counted
    mistake = await exchange(db, now, karen, soeren, 3)
    async with db.unit_of_work() as uow:
        entry_id = await uow.session.scalar(
            select(TimebankEntry.id).where(TimebankEntry.exchange_id == mistake.id)
        )
    assert entry_id is not None
    await timebank_corrections.reverse(
        db.unit_of_work(), ADMIN, entry_id, reason="wrong", policy=POLICY, now=now
    )
    accounts = [
        await timebank_admin.account_of_member(db.unit_of_work(), p.id, now=now)
        for p in (karen, lars)
    ]
    await timebank_corrections.adjust(
        db.unit_of_work(),
        ADMIN,
        debit_account_id=accounts[1],
        credit_account_id=accounts[0],
        minutes=600,
        reason="opening balance",
        policy=POLICY,
        now=now,
    )

    organiser = Actor(
        telegram_user_id=101, member_id=karen.id, role="organiser", organiser_all_regions=True
    )
    report = await timebank_stats.stats(db.unit_of_work(), organiser, tz=tz, now=now)
    assert report.total_minutes == 270
    assert report.total_exchanges == 3
    assert report.active_members == 3
    assert (report.first_month, report.last_month) == ("2025-12", "2026-11")
    assert len(report.by_month) == 12
    assert report.by_month[-2:] == [("2026-10", 120, 1, 2), ("2026-11", 150, 2, 3)]
    assert report.by_region == [("Region Midtjylland", 180), ("Region Hovedstaden", 90)]
    assert report.by_sector == [("civil_society", 120), ("foundation", 90), ("public", 60)]
    assert [(r.month, r.region, r.sector, r.exchanges, r.minutes) for r in report.rows] == [
        ("2026-10", "Region Midtjylland", "civil_society", 1, 120),
        ("2026-11", "Region Hovedstaden", "foundation", 1, 90),
        ("2026-11", "Region Midtjylland", "public", 1, 60),
    ]

    regional = Actor(
        telegram_user_id=101,
        member_id=karen.id,
        role="organiser",
        organiser_region_id=await region_id(db, "hovedstaden"),
    )
    limited = await timebank_stats.stats(db.unit_of_work(), regional, tz=tz, now=now)
    assert limited.region_limited == "Region Hovedstaden"
    assert limited.total_minutes == 90
    with pytest.raises(NotAllowed):
        await timebank_stats.stats(
            db.unit_of_work(), Actor(telegram_user_id=102, member_id=lars.id), tz=tz, now=now
        )


# --- organisation accounts ------------------------------------------------------------------


async def test_volunteers_log_hours_given_to_an_organisation_its_coordinator_confirms(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    festival = await timebank_admin.create_organisation_account(
        db.unit_of_work(), ADMIN, "Aarhus Festuge", policy=POLICY, now=now, sector="business"
    )
    with pytest.raises(InvalidInput):
        await timebank_admin.create_organisation_account(
            db.unit_of_work(), ADMIN, "aarhus festuge", policy=POLICY, now=now
        )
    await timebank_admin.set_coordinator(
        db.unit_of_work(), ADMIN, festival.id, soeren.id, coordinator=True, now=now
    )
    # 30 hours: more than a member may owe, fine for an organisation account.
    views = []
    for volunteer in (karen, lars):
        for _ in range(2):
            views.append(
                await timebank_exchanges.start_exchange(
                    db.unit_of_work(),
                    volunteer.id,
                    other=f"a{festival.id}",
                    direction="gave",
                    minutes=15 * 30,
                    description="Stewarding",
                    policy=POLICY,
                    now=now,
                )
            )
    requests = await telegram_rows(db, "tb:confirm:")
    assert {r.member_id for r in requests} == {soeren.id}
    assert (
        requests[0]
        .payload["text"]
        .startswith("Karen Jensen oplyser at have hjulpet Aarhus Festuge: 7,5 t")
    )
    with pytest.raises(NotAllowed):
        await timebank_exchanges.confirm(
            db.unit_of_work(), lars.id, views[0].id, policy=POLICY, now=now
        )
    for view in views:
        await timebank_exchanges.confirm(
            db.unit_of_work(), soeren.id, view.id, policy=POLICY, now=now
        )
    summary = await timebank_accounts.overview(db.unit_of_work(), soeren.id, policy=POLICY)
    [org] = summary.organisations
    assert org.balance == -30 * HOUR
    assert summary.account.balance == 0
    # The coordinator cannot log hours between themselves and their organisation.
    with pytest.raises(InvalidInput) as caught:
        await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            soeren.id,
            other=f"a{festival.id}",
            direction="gave",
            minutes=60,
            description="x",
            policy=POLICY,
            now=now,
        )
    assert caught.value.code == "self_exchange"
    with pytest.raises(InvalidInput):
        await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            soeren.id,
            as_account_id=festival.id,
            other=f"m{soeren.id}",
            direction="gave",
            minutes=60,
            description="x",
            policy=POLICY,
            now=now,
        )
    # Logging for the organisation: Lars is asked to confirm.
    paid = await timebank_exchanges.start_exchange(
        db.unit_of_work(),
        soeren.id,
        as_account_id=festival.id,
        other=lars.ref,
        direction="gave",
        minutes=60,
        description="Festival tickets for the volunteers",
        policy=POLICY,
        now=now,
    )
    assert paid.initiator.name == "Aarhus Festuge"
    with pytest.raises(NotAllowed):
        await timebank_exchanges.start_exchange(
            db.unit_of_work(),
            karen.id,
            as_account_id=festival.id,
            other=lars.ref,
            direction="gave",
            minutes=60,
            description="x",
            policy=POLICY,
            now=now,
        )
    await assert_ledger_sound(db)


# --- listings and contact requests ----------------------------------------------------------


async def test_listings_browse_newest_first_paged_and_filtered(
    db: Database, now: dt.datetime, karen: Person, lars: Person
) -> None:
    funding = await category_id(db, "funding")
    digital = await category_id(db, "digital")
    midt = await region_id(db, "midtjylland")
    skane = await region_id(db, "skane")
    made = []
    for i in range(7):
        made.append(
            await timebank_listings.create_listing(
                db.unit_of_work(),
                karen.id if i % 2 else lars.id,
                kind="offer" if i % 3 else "request",
                title=f"Listing {i}",
                description=f"Line one\n\n\n\nLine two {i}",
                category_id=funding if i < 5 else digital,
                region_id=midt if i != 3 else skane,
                now=now + dt.timedelta(minutes=i),
            )
        )
    assert made[0].description == "Line one\n\nLine two 0"
    page = await timebank_listings.browse(db.unit_of_work(), page_size=3)
    assert (page.total, page.pages, page.page) == (7, 3, 0)
    assert [v.title for v in page.listings] == ["Listing 6", "Listing 5", "Listing 4"]
    last = await timebank_listings.browse(db.unit_of_work(), page=9, page_size=3)
    assert last.page == 2
    assert [v.title for v in last.listings] == ["Listing 0"]
    filtered = await timebank_listings.browse(
        db.unit_of_work(), category_id=funding, region_id=midt
    )
    assert [v.title for v in filtered.listings] == [
        "Listing 4",
        "Listing 2",
        "Listing 1",
        "Listing 0",
    ]
    requests = await timebank_listings.browse(db.unit_of_work(), kind="request")
    assert [v.title for v in requests.listings] == ["Listing 6", "Listing 3", "Listing 0"]

    with pytest.raises(NotAllowed):
        await timebank_listings.set_listing_status(
            db.unit_of_work(), karen.id, made[0].id, "paused", now=now
        )
    await timebank_listings.set_listing_status(
        db.unit_of_work(), lars.id, made[6].id, "paused", now=now
    )
    await timebank_listings.set_listing_status(
        db.unit_of_work(), lars.id, made[4].id, "deleted", now=now
    )
    edited = await timebank_listings.update_listing(
        db.unit_of_work(), karen.id, made[5].id, "title", "  Website help ", now=now
    )
    assert edited.title == "Website help"
    with pytest.raises(InvalidInput) as caught:
        await timebank_listings.update_listing(
            db.unit_of_work(), karen.id, made[5].id, "title", "", now=now
        )
    assert caught.value.code == "title_empty"
    page = await timebank_listings.browse(db.unit_of_work(), page_size=3)
    assert [v.title for v in page.listings] == ["Website help", "Listing 3", "Listing 2"]
    mine = await timebank_listings.my_listings(db.unit_of_work(), lars.id)
    assert [(v.title, v.status) for v in mine] == [
        ("Listing 6", "paused"),
        ("Listing 2", "active"),
        ("Listing 0", "active"),
    ]


async def test_contact_introduces_both_only_when_the_poster_accepts(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    listing = await timebank_listings.create_listing(
        db.unit_of_work(),
        karen.id,
        kind="offer",
        title="Grant applications <EU>",
        description="I have written ten ESF+ applications.",
        category_id=await category_id(db),
        region_id=None,
        now=now,
    )
    with pytest.raises(InvalidInput) as caught:
        await timebank_contacts.request_contact(db.unit_of_work(), karen.id, listing.id, now=now)
    assert caught.value.code == "own_listing"

    first = await timebank_contacts.request_contact(db.unit_of_work(), lars.id, listing.id, now=now)
    again = await timebank_contacts.request_contact(db.unit_of_work(), lars.id, listing.id, now=now)
    assert first.changed
    assert not again.changed
    assert first.id == again.id
    [ask] = await telegram_rows(db)
    assert ask.member_id == karen.id
    assert ask.payload["text"].startswith(
        "Lars Holm would like to get in touch about your offer “Grant applications <EU>”."
    )
    assert "larsh" not in ask.payload["text"].lower()
    assert ask.payload["buttons"] == [
        [
            {"text": "Accept", "callback_data": f"tb:cra:{first.id}"},
            {"text": "Decline", "callback_data": f"tb:crd:{first.id}"},
        ]
    ]
    with pytest.raises(NotAllowed):
        await timebank_contacts.answer_contact(
            db.unit_of_work(), lars.id, first.id, accept=True, now=now
        )

    accepted = await timebank_contacts.answer_contact(
        db.unit_of_work(), karen.id, first.id, accept=True, now=now
    )
    assert accepted.changed
    assert not (
        await timebank_contacts.answer_contact(
            db.unit_of_work(), karen.id, first.id, accept=True, now=now
        )
    ).changed
    with pytest.raises(InvalidInput):
        await timebank_contacts.answer_contact(
            db.unit_of_work(), karen.id, first.id, accept=False, now=now
        )
    intros = {r.member_id: r for r in await telegram_rows(db, "tb:intro:")}
    assert set(intros) == {karen.id, lars.id}
    assert intros[lars.id].payload["parse_mode"] == "HTML"
    assert (
        intros[lars.id]
        .payload["text"]
        .startswith(
            'You are now in touch with <a href="tg://user?id=101">Karen Jensen</a> (@karenj) '
            "about “Grant applications &lt;EU&gt;”."
        )
    )
    assert '<a href="tg://user?id=102">Lars Holm</a> (@LarsH)' in intros[karen.id].payload["text"]
    assert intros[lars.id].payload["buttons"] == [
        [{"text": "Log hours", "callback_data": f"tb:log:m{karen.id}"}]
    ]
    contacts = await timebank_accounts.recent_contacts(db.unit_of_work(), lars.id)
    assert [c.name for c in contacts] == ["Karen Jensen"]

    declined = await timebank_contacts.request_contact(
        db.unit_of_work(), soeren.id, listing.id, now=now
    )
    await timebank_contacts.answer_contact(
        db.unit_of_work(), karen.id, declined.id, accept=False, now=now
    )
    [told] = await telegram_rows(db, "tb:contact-declined:")
    assert told.member_id == soeren.id
    assert "Karen" not in told.payload["text"]
    assert len(await telegram_rows(db, "tb:intro:")) == 2


async def test_recent_contacts_and_username_lookup(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    await exchange(db, now, karen, lars, 1)
    await exchange(db, now + dt.timedelta(hours=1), soeren, karen, 1, confirm=False)
    await exchange(db, now + dt.timedelta(hours=2), karen, soeren, 1, confirm=False)
    contacts = await timebank_accounts.recent_contacts(db.unit_of_work(), karen.id)
    assert [c.name for c in contacts] == ["Søren Ærbø", "Lars Holm"]
    assert (
        await timebank_accounts.choosable(db.unit_of_work(), karen.id, lars.ref)
    ).name == "Lars Holm"
    stranger = await person(db, now, 104, "Nina Stranger")
    with pytest.raises(NotFound) as caught:
        await timebank_accounts.choosable(db.unit_of_work(), karen.id, stranger.ref)
    assert caught.value.code == "not_a_contact"
    organisation = await timebank_admin.create_organisation_account(
        db.unit_of_work(), ADMIN, "Foodsharing Aarhus", policy=POLICY, now=now
    )
    chosen = await timebank_accounts.choosable(db.unit_of_work(), karen.id, f"a{organisation.id}")
    assert chosen.is_organisation
    own_account = await timebank_admin.account_of_member(db.unit_of_work(), lars.id, now=now)
    with pytest.raises(NotFound):
        await timebank_accounts.choosable(db.unit_of_work(), karen.id, f"a{own_account}")
    found = await timebank_accounts.find_member(db.unit_of_work(), "@larsh")
    assert found.member_id == lars.id
    with pytest.raises(NotFound) as caught:
        await timebank_accounts.find_member(db.unit_of_work(), "@nobody")
    assert caught.value.code == "username_unknown"


# --- data protection ------------------------------------------------------------------------


async def test_erasure_keeps_the_anonymous_account_and_its_entries(
    db: Database, now: dt.datetime, karen: Person, lars: Person, soeren: Person
) -> None:
    await exchange(db, now, karen, lars, 2)
    pending = await exchange(db, now, lars, karen, 1, confirm=False)
    listing = await timebank_listings.create_listing(
        db.unit_of_work(),
        lars.id,
        kind="offer",
        title="Lars's help",
        description="Call me",
        category_id=await category_id(db),
        region_id=None,
        now=now,
    )
    await timebank_contacts.request_contact(db.unit_of_work(), soeren.id, listing.id, now=now)

    async with db.unit_of_work() as uow:
        exported = await timebank_privacy.export_member(uow.session, lars.id)
    assert exported["balance_minutes"] == -2 * HOUR
    assert [(e["role"], e["minutes"], e["status"]) for e in exported["exchanges"]] == [
        ("received", 120, "confirmed"),
        ("gave", 60, "pending"),
    ]
    assert [item["title"] for item in exported["listings"]] == ["Lars's help"]

    await privacy.erase(db.unit_of_work(), lars.id, now=now)
    async with db.unit_of_work() as uow:
        await timebank_privacy.forget_member(uow.session, lars.id, now=now)
        await uow.commit()

    assert await balance(db, lars) == -2 * HOUR
    await assert_ledger_sound(db)
    assert (await exchange_row(db, pending.id)).status == "cancelled"
    assert (await timebank_listings.browse(db.unit_of_work())).total == 0
    async with db.unit_of_work() as uow:
        statuses = (await uow.session.scalars(select(TimebankContactRequest.status))).all()
        assert statuses == ["declined"]
    actor = Actor(telegram_user_id=101, member_id=karen.id)
    [line] = (await timebank_accounts.history(db.unit_of_work(), actor, policy=POLICY)).lines
    assert line.counterpart.name == ""
    assert await timebank_accounts.recent_contacts(db.unit_of_work(), karen.id) == []
    with pytest.raises(NotFound):
        await exchange(db, now, karen, lars, 1, confirm=False)


async def test_the_migration_seeds_the_default_categories(db: Database) -> None:
    names = [c.name for c in await timebank_listings.categories(db.unit_of_work())]
    assert names[0] == "Funding and grant writing"
    assert names[-1] == "Other"
    added = await timebank_admin.add_category(
        db.unit_of_work(), ADMIN, "Urban gardening", now=dt.datetime.now(dt.UTC)
    )
    assert added.code == "urban-gardening"
    with pytest.raises(InvalidInput):
        await timebank_admin.add_category(
            db.unit_of_work(), ADMIN, "urban gardening", now=dt.datetime.now(dt.UTC)
        )
    await timebank_admin.remove_category(
        db.unit_of_work(), ADMIN, added.id, now=dt.datetime.now(dt.UTC)
    )
    assert "Urban gardening" not in [
        c.name for c in await timebank_listings.categories(db.unit_of_work())
    ]
