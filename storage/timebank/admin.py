"""Timebank administration: organisation accounts and their coordinators, an account's history,
categories, and the ledger check (every balance derived from the entries). Corrections of
balances are in storage.timebank.corrections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.models import (
    AccountKind,
    Region,
    Sector,
    TimebankAccount,
    TimebankCategory,
    TimebankCoordinator,
    TimebankEntry,
)
from storage.permissions import Actor, require_admin
from storage.rules import clean_text, region_code
from storage.timebank.accounts import (
    History,
    account_by_reference,
    history_of,
    member_by_username,
    member_party,
)
from storage.timebank.common import (
    AccountView,
    Party,
    account_limits,
    account_view,
    ensure_member_account,
    live_member,
)
from storage.timebank.ledger import Policy
from storage.timebank.listings import CategoryView
from storage.uow import UnitOfWork, retry_conflicts

CATEGORY_NAME_MAX = 100
ORGANISATION_NAME_MAX = 200


def _validate_name(value: str, *, maximum: int, code: str) -> str:
    """The name of an organisation account or a category: 1 to ``maximum`` characters."""
    name = clean_text(value)
    if not name or len(name) > maximum:
        raise InvalidInput(code, max=maximum)
    return name


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
