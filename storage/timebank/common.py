"""What the timebank's services share: the views of accounts and exchanges, hours in the
reader's language, loading accounts and the people who act for them, and queueing notices.

The services sit beside this module, one use case each: ``accounts`` (the overview, choosing
the other side of an exchange, history), ``exchanges`` (log hours, confirm, decline, withdraw,
expire), ``listings`` (offers and requests, browsing, categories), ``contacts`` (contact
requests), ``admin`` (corrections, organisation accounts, categories, the ledger check),
``stats`` (hours statistics) and ``privacy`` (export and erasure). ``posting`` writes ledger
entries; ``ledger`` holds the pure rules (amounts, limits, the zero sum).

Each service owns its transaction (``async with uow`` ... ``await uow.commit()``). Messages owed
to members go into the outbox in the same transaction, rendered in the recipient's language,
with a unique key per cause (``tb:confirm:{exchange}:{member}`` ...), so a double tap or a
retried job never sends twice.

Moving hours (confirming an exchange, a reversal, an administrator's adjustment) always goes
through ``posting.post_entry``: it locks both accounts (in id order, so two movements never wait for
each other crosswise), reads their balances, checks the limits, writes one immutable entry
and updates both cached balances, all in one transaction. Confirming first locks the exchange
row and checks that it is still pending, so a double-tapped Confirm moves the hours once (and
the unique ``timebank_entries.exchange_id`` would refuse a second entry anyway). On SQLite
every write transaction starts with ``BEGIN IMMEDIATE`` (see ``storage.db``), which serialises
writers the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.errors import NotAllowed, NotFound
from storage.models import (
    AccountKind,
    Member,
    TimebankAccount,
    TimebankCoordinator,
    TimebankExchange,
)
from storage.sql import insert_ignore
from storage.timebank.ledger import Limits, Policy
from templates.i18n import Translator, translator

Buttons = list[list[dict[str, str]]]
Render = Callable[[Translator, Member], str]
RenderButtons = Callable[[Translator, Member], Buttons]
Model = TypeVar("Model")


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """One side of an exchange or entry: a member's account or an organisation account."""

    account_id: int
    kind: str
    name: str  # "" for a member who erased their data
    member_id: int | None
    organisation: str | None = None  # a member's organisation, shown to confirm who it is

    @property
    def is_organisation(self) -> bool:
        return self.kind == AccountKind.ORGANISATION

    @property
    def ref(self) -> str:
        """How the bot refers to this party in callback data and drafts."""
        return f"m{self.member_id}" if self.member_id is not None else f"a{self.account_id}"


@dataclass(frozen=True)
class AccountView:
    id: int
    kind: str
    name: str
    member_id: int | None
    balance: int
    limits: Limits
    region_id: int | None
    sector: str | None

    @property
    def party(self) -> Party:
        return Party(self.id, self.kind, self.name, self.member_id)


@dataclass(frozen=True)
class ExchangeView:
    id: int
    giver: Party
    receiver: Party
    initiator_account_id: int
    minutes: int
    description: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    listing_id: int | None

    @property
    def initiator(self) -> Party:
        return self.giver if self.giver.account_id == self.initiator_account_id else self.receiver

    @property
    def counterpart(self) -> Party:
        """The side that confirms or declines."""
        return self.receiver if self.giver.account_id == self.initiator_account_id else self.giver


# --- loading helpers --------------------------------------------------------------------------


async def insert_once(
    session: AsyncSession, row: Model, twin: Select[Model] | None
) -> Model | None:
    """Add ``row`` in a savepoint and return None; or, when a unique constraint refuses it
    because a concurrent request (a double tap) added the same first, return that row, which
    ``twin`` finds (without ``twin`` nothing can be the same request: the error is raised)."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        if twin is None:
            raise
        existing = await session.scalar(twin)
        if existing is None:
            raise
        return existing
    return None


async def live_member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.deleted_at is not None:
        raise NotFound("member_not_found")
    return member


async def ensure_member_account(session: AsyncSession, member_id: int, now: dt.datetime) -> int:
    """The id of the member's account, made on first use (safe against a concurrent insert)."""
    statement = insert_ignore(session, TimebankAccount, unique=["member_id"]).values(
        kind=AccountKind.MEMBER,
        member_id=member_id,
        balance_minutes=0,
        active=True,
        created_at=now,
    )
    await session.execute(statement)
    account_id = await existing_member_account(session, member_id)
    assert account_id is not None
    return int(account_id)


async def existing_member_account(session: AsyncSession, member_id: int) -> int | None:
    return await session.scalar(
        select(TimebankAccount.id).where(TimebankAccount.member_id == member_id)
    )


async def coordinated_accounts(session: AsyncSession, member_id: int) -> list[TimebankAccount]:
    rows = await session.scalars(
        select(TimebankAccount)
        .join(TimebankCoordinator, TimebankCoordinator.account_id == TimebankAccount.id)
        .where(TimebankCoordinator.member_id == member_id, TimebankAccount.active.is_(True))
        .order_by(TimebankAccount.name, TimebankAccount.id)
    )
    return list(rows.all())


async def require_coordinator(session: AsyncSession, member_id: int, account_id: int) -> None:
    """Refuse unless the member coordinates this (active) organisation account."""
    if account_id not in {a.id for a in await coordinated_accounts(session, member_id)}:
        raise NotAllowed("not_coordinator")


async def people_acting_for(session: AsyncSession, account_id: int) -> list[Member]:
    """Who acts for an account: its member, or the coordinators of an organisation account."""
    account = await session.get(TimebankAccount, account_id)
    if account is None:
        return []
    if account.member_id is not None:
        member = await session.get(Member, account.member_id)
        return [member] if member is not None and member.deleted_at is None else []
    rows = await session.scalars(
        select(Member)
        .join(TimebankCoordinator, TimebankCoordinator.member_id == Member.id)
        .where(TimebankCoordinator.account_id == account_id, Member.deleted_at.is_(None))
        .order_by(Member.id)
    )
    return list(rows.all())


async def load_parties(session: AsyncSession, account_ids: Iterable[int]) -> dict[int, Party]:
    ids = set(account_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(TimebankAccount, Member.name)
        .outerjoin(Member, Member.id == TimebankAccount.member_id)
        .where(TimebankAccount.id.in_(ids))
    )
    return {
        account.id: Party(
            account.id, account.kind, account.name or member_name or "", account.member_id
        )
        for account, member_name in rows.all()
    }


def account_limits(account: TimebankAccount, policy: Policy) -> Limits:
    default = (
        policy.organisation_limits
        if account.kind == AccountKind.ORGANISATION
        else policy.member_limits
    )
    return Limits(
        default.min_minutes if account.min_balance_minutes is None else account.min_balance_minutes,
        default.max_minutes if account.max_balance_minutes is None else account.max_balance_minutes,
    )


async def account_view(
    session: AsyncSession, account: TimebankAccount, policy: Policy
) -> AccountView:
    name = account.name or ""
    if account.member_id is not None:
        member = await session.get(Member, account.member_id)
        name = (member.name if member else None) or ""
    return AccountView(
        account.id,
        account.kind,
        name,
        account.member_id,
        account.balance_minutes,
        account_limits(account, policy),
        account.region_id,
        account.sector,
    )


def _exchange_view(exchange: TimebankExchange, parties: dict[int, Party]) -> ExchangeView:
    return ExchangeView(
        id=exchange.id,
        giver=parties[exchange.giver_account_id],
        receiver=parties[exchange.receiver_account_id],
        initiator_account_id=exchange.initiator_account_id,
        minutes=exchange.minutes,
        description=exchange.description,
        status=exchange.status,
        created_at=exchange.created_at,
        decided_at=exchange.decided_at,
        listing_id=exchange.listing_id,
    )


async def exchange_views(
    session: AsyncSession, exchanges: Sequence[TimebankExchange]
) -> list[ExchangeView]:
    parties = await load_parties(
        session, {a for e in exchanges for a in (e.giver_account_id, e.receiver_account_id)}
    )
    return [_exchange_view(e, parties) for e in exchanges]


def exchanges_of(account_id: int) -> ColumnElement[bool]:
    """The condition for the exchanges in which the account gave or received help."""
    return or_(
        TimebankExchange.giver_account_id == account_id,
        TimebankExchange.receiver_account_id == account_id,
    )


async def exchange_view(session: AsyncSession, exchange: TimebankExchange) -> ExchangeView:
    return (await exchange_views(session, [exchange]))[0]


# --- the ledger -----------------------------------------------------------------------------


# --- notices (rendered in the recipient's language, queued in the caller's transaction) --------


async def notify(
    session: AsyncSession,
    people: Iterable[Member],
    *,
    key: str,
    now: dt.datetime,
    render: Render,
    buttons: RenderButtons | None = None,
    parse_mode: str | None = None,
) -> None:
    """One Telegram message per person; ``render(t, person)`` gives the text, ``buttons(t,
    person)`` the inline keyboard. The key gets ``:{member id}`` appended."""
    for person in people:
        if person.telegram_user_id is None or person.deleted_at is not None:
            continue
        t = translator(person.language)
        await outbox.enqueue_telegram(
            session,
            key=f"{key}:{person.id}",
            chat_id=person.telegram_user_id,
            text=render(t, person),
            buttons=buttons(t, person) if buttons else None,
            parse_mode=parse_mode,
            now=now,
            member_id=person.id,
        )
