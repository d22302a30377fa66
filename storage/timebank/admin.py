"""Timebank administration: corrections (an adjustment between two accounts, the reversal of an
entry; both with a reason, audited, and never by editing an entry), organisation accounts and
their coordinators, categories, and the ledger check (every balance derived from the
entries)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.models import (
    AccountKind,
    EntryKind,
    Member,
    Region,
    Sector,
    TimebankAccount,
    TimebankCategory,
    TimebankCoordinator,
    TimebankEntry,
)
from storage.permissions import Actor, require_admin
from storage.rules import clean_text, region_code
from storage.timebank.accounts import History, history_of, member_by_username, member_party
from storage.timebank.common import (
    AccountView,
    Party,
    account_limits,
    account_view,
    ensure_member_account,
    live_member,
    load_parties,
    notify,
    people_acting_for,
)
from storage.timebank.ledger import MAX_ADJUSTMENT_MINUTES, Policy, validate_minutes
from storage.timebank.listings import CategoryView
from storage.timebank.posting import post_entry
from storage.uow import UnitOfWork, retry_conflicts
from templates.formatting import balance_line, hours_text, party_name
from templates.i18n import Translator

REASON_MAX = 500

AccountReference = int | str  # an account id, or "org:NUMBER" / "@username"
CATEGORY_NAME_MAX = 100
ORGANISATION_NAME_MAX = 200


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


def _validate_name(value: str, *, maximum: int, code: str) -> str:
    """The name of an organisation account or a category: 1 to ``maximum`` characters."""
    name = clean_text(value)
    if not name or len(name) > maximum:
        raise InvalidInput(code, max=maximum)
    return name


# --- corrections --------------------------------------------------------------------------


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


# --- organisation accounts and categories -------------------------------------------------


@retry_conflicts
async def create_organisation_account(
    uow: UnitOfWork,
    actor: Actor,
    name: str,
    *,
    policy: Policy,
    now: dt.datetime,
    region_id: int | None = None,
    sector: str | None = None,
) -> AccountView:
    require_admin(actor)
    name = _validate_name(name, maximum=ORGANISATION_NAME_MAX, code="organisation_name_invalid")
    if sector is not None and sector not in set(Sector):
        raise InvalidInput("sector_unknown")
    async with uow:
        session = uow.session
        if region_id is not None and await session.get(Region, region_id) is None:
            raise InvalidInput("region_unknown")
        clash = await session.scalar(
            select(TimebankAccount.id).where(
                TimebankAccount.kind == AccountKind.ORGANISATION,
                func.lower(TimebankAccount.name) == name.lower(),
                TimebankAccount.active.is_(True),
            )
        )
        if clash is not None:
            raise InvalidInput("organisation_exists")
        account = TimebankAccount(
            kind=AccountKind.ORGANISATION,
            name=name,
            region_id=region_id,
            sector=sector,
            balance_minutes=0,
            active=True,
            created_at=now,
        )
        session.add(account)
        await session.flush()
        audit.record(
            session,
            "timebank.organisation_created",
            now=now,
            actor_member_id=actor.member_id,
            account_id=account.id,
        )
        view = await account_view(session, account, policy)
        await uow.commit()
        return view


@retry_conflicts
async def set_coordinator(
    uow: UnitOfWork,
    actor: Actor,
    account_id: int,
    member: int | str,
    *,
    coordinator: bool,
    now: dt.datetime,
) -> Party:
    """Make a member (their id or "@username") a coordinator of an organisation account, or no
    longer one; that member."""
    require_admin(actor)
    async with uow:
        session = uow.session
        account = await session.get(TimebankAccount, account_id)
        if account is None or account.kind != AccountKind.ORGANISATION:
            raise NotFound("account_not_found")
        if isinstance(member, str):
            found = await member_by_username(session, member)
        else:
            found = await live_member(session, member)
        member_id = found.id
        party = await member_party(session, found)
        row = await session.get(TimebankCoordinator, (account_id, member_id))
        if coordinator and row is None:
            session.add(
                TimebankCoordinator(account_id=account_id, member_id=member_id, created_at=now)
            )
        elif not coordinator and row is not None:
            await session.delete(row)
        audit.record(
            session,
            "timebank.coordinator_added" if coordinator else "timebank.coordinator_removed",
            now=now,
            member_id=member_id,
            actor_member_id=actor.member_id,
            account_id=account_id,
        )
        await uow.commit()
        return party


@retry_conflicts
async def account_of_member(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> int:
    """The member's account id (made if needed), e.g. for an administrator's adjustment."""
    async with uow:
        await live_member(uow.session, member_id)
        account_id = await ensure_member_account(uow.session, member_id, now)
        await uow.commit()
        return account_id


async def account_by_reference(
    session: AsyncSession, reference: AccountReference, *, now: dt.datetime
) -> int:
    """The id of the account an administrator means: an id as it is, "org:NUMBER", or
    "@username" (that member's account, made if needed)."""
    if isinstance(reference, int):
        return reference
    if reference.lower().startswith("org:") and reference[4:].isdigit():
        return int(reference[4:])
    member = await member_by_username(session, reference)
    return await ensure_member_account(session, member.id, now)


async def member_history(
    uow: UnitOfWork, actor: Actor, reference: str, *, policy: Policy, now: dt.datetime
) -> History:
    """The history of the account an administrator names ("org:NUMBER", "@username")."""
    require_admin(actor)
    async with uow:
        session = uow.session
        account_id = await account_by_reference(session, reference, now=now)
        account = await session.get(TimebankAccount, account_id)
        if account is None:
            raise NotFound("account_not_found")
        found = await history_of(session, account, policy)
        await uow.commit()
        return found


async def add_category(
    uow: UnitOfWork, actor: Actor, name: str, *, now: dt.datetime
) -> CategoryView:
    require_admin(actor)
    name = _validate_name(name, maximum=CATEGORY_NAME_MAX, code="category_name_invalid")
    code = region_code(name)
    async with uow:
        session = uow.session
        existing = await session.scalar(
            select(TimebankCategory).where(
                or_(
                    TimebankCategory.code == code,
                    func.lower(TimebankCategory.name) == name.lower(),
                )
            )
        )
        if existing is not None:
            if existing.active:
                raise InvalidInput("category_exists")
            existing.active = True
            existing.name = name
            category = existing
        else:
            category = TimebankCategory(code=code, name=name, active=True, created_at=now)
            session.add(category)
        await session.flush()
        audit.record(
            session,
            "timebank.category_added",
            now=now,
            actor_member_id=actor.member_id,
            category_id=category.id,
        )
        view = CategoryView(category.id, category.code, category.name)
        await uow.commit()
        return view


async def remove_category(
    uow: UnitOfWork, actor: Actor, category_id: int, *, now: dt.datetime
) -> None:
    """No new listings in it; existing listings keep it."""
    require_admin(actor)
    async with uow:
        category = await uow.session.get(TimebankCategory, category_id)
        if category is None or not category.active:
            raise NotFound("category_unknown")
        category.active = False
        audit.record(
            uow.session,
            "timebank.category_removed",
            now=now,
            actor_member_id=actor.member_id,
            category_id=category_id,
        )
        await uow.commit()


# --- the ledger check -----------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCheck:
    """``check_ledger``'s findings: the sum of cached balances (0), accounts whose cached
    balance differs from their entries, and accounts outside their limits."""

    accounts: int
    entries: int
    sum_of_balances: int
    mismatched: dict[int, tuple[int, int]]
    outside_limits: list[int]

    @property
    def ok(self) -> bool:
        return self.sum_of_balances == 0 and not self.mismatched and not self.outside_limits


async def _minutes_by_account(
    session: AsyncSession, account: InstrumentedAttribute[int]
) -> dict[int, int | None]:
    """The minutes of all entries per account on one side (credit or debit)."""
    rows = await session.execute(select(account, func.sum(TimebankEntry.minutes)).group_by(account))
    return dict(rows.all())


async def check_ledger(uow: UnitOfWork, *, policy: Policy) -> LedgerCheck:
    """Derive every balance from the entries and compare it with the cached one."""
    async with uow:
        session = uow.session
        credited = await _minutes_by_account(session, TimebankEntry.credit_account_id)
        debited = await _minutes_by_account(session, TimebankEntry.debit_account_id)
        entries = int(await session.scalar(select(func.count(TimebankEntry.id))) or 0)
        accounts = (await session.scalars(select(TimebankAccount))).all()
        mismatched: dict[int, tuple[int, int]] = {}
        outside: list[int] = []
        for account in accounts:
            derived = int(credited.get(account.id, 0) or 0) - int(debited.get(account.id, 0) or 0)
            if derived != account.balance_minutes:
                mismatched[account.id] = (account.balance_minutes, derived)
            limits = account_limits(account, policy)
            if not limits.min_minutes <= account.balance_minutes <= limits.max_minutes:
                outside.append(account.id)
        return LedgerCheck(
            accounts=len(accounts),
            entries=entries,
            sum_of_balances=sum(a.balance_minutes for a in accounts),
            mismatched=mismatched,
            outside_limits=outside,
        )
