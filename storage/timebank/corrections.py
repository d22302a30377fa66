"""Timebank corrections by an administrator: an adjustment between two accounts, or the reversal
of an entry; both with a reason, audited, told to the people acting for both accounts, and
never by editing an entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.models import EntryKind, Member, TimebankEntry
from storage.permissions import Actor, require_admin
from storage.rules import clean_text
from storage.timebank.accounts import AccountReference, account_by_reference
from storage.timebank.common import Party, load_parties, notify, people_acting_for
from storage.timebank.ledger import MAX_ADJUSTMENT_MINUTES, Policy, validate_minutes
from storage.timebank.posting import post_entry
from storage.uow import UnitOfWork, retry_conflicts
from templates.formatting import balance_line, hours_text, party_name
from templates.i18n import Translator

REASON_MAX = 500


@dataclass(frozen=True)
class EntryView:
    id: int
    kind: str
    debit: Party
    credit: Party
    minutes: int
    reason: str | None
    exchange_id: int | None
    reverses_entry_id: int | None
    created_at: dt.datetime
    balances: dict[int, int] = field(default_factory=dict)


def validate_reason(value: str | None) -> str:
    """Corrections need a reason (it is kept with the entry and in the audit log)."""
    text = clean_text(value or "")
    if len(text) < 3:
        raise InvalidInput("reason_missing")
    if len(text) > REASON_MAX:
        raise InvalidInput("reason_too_long", max=REASON_MAX)
    return text


async def _entry_view(
    session: AsyncSession, entry: TimebankEntry, balances: dict[int, int] | None = None
) -> EntryView:
    parties = await load_parties(session, [entry.debit_account_id, entry.credit_account_id])
    return EntryView(
        id=entry.id,
        kind=entry.kind,
        debit=parties[entry.debit_account_id],
        credit=parties[entry.credit_account_id],
        minutes=entry.minutes,
        reason=entry.reason,
        exchange_id=entry.exchange_id,
        reverses_entry_id=entry.reverses_entry_id,
        created_at=entry.created_at,
        balances=balances or {},
    )


async def _notify_correction(session: AsyncSession, view: EntryView, *, now: dt.datetime) -> None:
    for side, sign in ((view.debit, -1), (view.credit, 1)):

        def render(t: Translator, _person: Member, side: Party = side, sign: int = sign) -> str:
            amount = hours_text(t, sign * view.minutes)
            if sign > 0:
                amount = "+" + amount
            return "\n".join(
                [
                    t(
                        "An administrator corrected the timebank account of {account}: {hours}.",
                        account=party_name(t, side),
                        hours=amount,
                    ),
                    t("Reason: {reason}", reason=view.reason or ""),
                    balance_line(t, side, view.balances.get(side.account_id, 0)),
                ]
            )

        await notify(
            session,
            await people_acting_for(session, side.account_id),
            key=f"tb:corrected:{view.id}:{side.account_id}",
            now=now,
            render=render,
        )


async def _complete_correction(
    uow: UnitOfWork, entry: TimebankEntry, balances: dict[int, int], *, now: dt.datetime
) -> EntryView:
    """Tell the people acting for both accounts about the correction, and commit."""
    view = await _entry_view(uow.session, entry, balances)
    await _notify_correction(uow.session, view, now=now)
    await uow.commit()
    return view


@retry_conflicts
async def adjust(
    uow: UnitOfWork,
    actor: Actor,
    *,
    debit_account_id: AccountReference,
    credit_account_id: AccountReference,
    minutes: int,
    reason: str,
    policy: Policy,
    now: dt.datetime,
) -> EntryView:
    """An administrator moves hours between two accounts, with a reason (audited). An account
    is its id or a reference as administrators write it ("org:NUMBER", "@username": the
    member's account is made if needed, in the same transaction)."""
    require_admin(actor)
    minutes = validate_minutes(minutes, maximum=MAX_ADJUSTMENT_MINUTES)
    reason = validate_reason(reason)
    async with uow:
        session = uow.session
        debit_account_id = await account_by_reference(session, debit_account_id, now=now)
        credit_account_id = await account_by_reference(session, credit_account_id, now=now)
        entry, balances = await post_entry(
            session,
            kind=EntryKind.ADJUSTMENT,
            debit_account_id=debit_account_id,
            credit_account_id=credit_account_id,
            minutes=minutes,
            reason=reason,
            created_by_member_id=actor.member_id,
            policy=policy,
            now=now,
        )
        audit.record(
            session,
            "timebank.adjusted",
            now=now,
            actor_member_id=actor.member_id,
            actor_telegram_user_id=actor.telegram_user_id,
            entry_id=entry.id,
            debit_account_id=debit_account_id,
            credit_account_id=credit_account_id,
            minutes=minutes,
            reason=reason,
        )
        return await _complete_correction(uow, entry, balances, now=now)


@retry_conflicts
async def reverse(
    uow: UnitOfWork,
    actor: Actor,
    entry_id: int,
    *,
    reason: str,
    policy: Policy,
    now: dt.datetime,
) -> EntryView:
    """An administrator undoes an entry with a new, opposite entry (never by editing it)."""
    require_admin(actor)
    reason = validate_reason(reason)
    async with uow:
        session = uow.session
        original = await session.get(TimebankEntry, entry_id)
        if original is None:
            raise NotFound("entry_not_found")
        if original.kind == EntryKind.REVERSAL:
            raise InvalidInput("cannot_reverse_reversal")
        if await session.scalar(
            select(TimebankEntry.id).where(TimebankEntry.reverses_entry_id == original.id)
        ):
            raise InvalidInput("already_reversed")
        # post_entry locks both accounts first; the check below then sees any reversal a
        # concurrent request committed meanwhile (and the unique index refuses a second one).
        try:
            entry, balances = await post_entry(
                session,
                kind=EntryKind.REVERSAL,
                debit_account_id=original.credit_account_id,
                credit_account_id=original.debit_account_id,
                minutes=original.minutes,
                reverses_entry_id=original.id,
                reason=reason,
                created_by_member_id=actor.member_id,
                policy=policy,
                now=now,
            )
        except IntegrityError:
            raise InvalidInput("already_reversed") from None
        audit.record(
            session,
            "timebank.reversed",
            now=now,
            actor_member_id=actor.member_id,
            actor_telegram_user_id=actor.telegram_user_id,
            entry_id=entry.id,
            reverses_entry_id=original.id,
            exchange_id=original.exchange_id,
            minutes=original.minutes,
            reason=reason,
        )
        return await _complete_correction(uow, entry, balances, now=now)
