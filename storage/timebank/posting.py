"""Posting to the ledger: the one way hours move between accounts (confirming an exchange, a
reversal, an administrator's adjustment), and the limit check every movement, and every
exchange logged, passes first.

``post_entry`` locks both accounts (in id order, so two movements never wait for each other
crosswise), reads their balances, checks the limits, writes one immutable entry and updates
both cached balances, in the caller's transaction. The rules themselves (amounts, limits, the
zero sum) are plain functions in ``storage.timebank.ledger``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotFound
from storage.models import EntryKind, TimebankAccount, TimebankEntry
from storage.timebank.common import account_limits, load_parties
from storage.timebank.ledger import LimitExceeded, Policy, check_entry


async def post_entry(
    session: AsyncSession,
    *,
    kind: EntryKind,
    debit_account_id: int,
    credit_account_id: int,
    minutes: int,
    policy: Policy,
    now: dt.datetime,
    exchange_id: int | None = None,
    reverses_entry_id: int | None = None,
    reason: str | None = None,
    created_by_member_id: int | None = None,
) -> tuple[TimebankEntry, dict[int, int]]:
    """Write one entry under row locks on both accounts; the new balances by account id.

    Raises ``LimitExceeded`` (with both accounts' names and balances) and changes nothing
    if the entry would take either account past its limit.
    """
    if debit_account_id == credit_account_id:
        raise InvalidInput("self_exchange")
    accounts = {
        a.id: a
        for a in (
            await session.scalars(
                select(TimebankAccount)
                .where(TimebankAccount.id.in_([debit_account_id, credit_account_id]))
                .order_by(TimebankAccount.id)
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE: no conflict with FK checks
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    if len(accounts) != 2:
        raise NotFound("account_not_found")
    debit, credit = accounts[debit_account_id], accounts[credit_account_id]
    await check_limits(session, debit, credit, minutes, policy)
    entry = TimebankEntry(
        kind=kind,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        minutes=minutes,
        exchange_id=exchange_id,
        reverses_entry_id=reverses_entry_id,
        reason=reason,
        created_by_member_id=created_by_member_id,
        created_at=now,
    )
    session.add(entry)
    debit.balance_minutes -= minutes
    credit.balance_minutes += minutes
    await session.flush()
    return entry, {debit.id: debit.balance_minutes, credit.id: credit.balance_minutes}


async def check_limits(
    session: AsyncSession,
    debit: TimebankAccount,
    credit: TimebankAccount,
    minutes: int,
    policy: Policy,
) -> None:
    """Refuse with ``LimitExceeded`` (naming whose balance, with both balances) if moving
    ``minutes`` from ``debit`` to ``credit`` would take either past its limit."""
    try:
        check_entry(
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            minutes=minutes,
            debit_balance=debit.balance_minutes,
            credit_balance=credit.balance_minutes,
            debit_limits=account_limits(debit, policy),
            credit_limits=account_limits(credit, policy),
        )
    except LimitExceeded as error:
        await _explain_limit(session, error, debit, credit)
        raise


async def _explain_limit(
    session: AsyncSession,
    error: LimitExceeded,
    debit: TimebankAccount,
    credit: TimebankAccount,
) -> None:
    """Add what the refusal message shows: whose balance, and both balances now."""
    parties = await load_parties(session, [debit.id, credit.id])
    limited = parties[error.account_id]
    error.params.update(
        account_name=limited.name,
        account_member_id=limited.member_id,
        debit_name=parties[debit.id].name,
        debit_member_id=debit.member_id,
        debit_balance=debit.balance_minutes,
        credit_name=parties[credit.id].name,
        credit_member_id=credit.member_id,
        credit_balance=credit.balance_minutes,
    )
