"""Timebank services: listings, contact requests, exchanges, the ledger, history and statistics.

Each service owns its transaction (``async with uow`` ... ``await uow.commit()``). Messages owed
to members go into the outbox in the same transaction, rendered in the recipient's language,
with a unique key per cause (``tb:confirm:{exchange}:{member}`` ...), so a double tap or a
retried job never sends twice.

Moving hours (confirming an exchange, a reversal, an administrator's adjustment) always goes
through ``_post_entry``: it locks both accounts (in id order, so two movements never wait for
each other crosswise), reads their balances, checks the limits, writes one immutable entry
and updates both cached balances, all in one transaction. Confirming first locks the exchange
row and checks that it is still pending, so a double-tapped Confirm moves the hours once (and
the unique ``timebank_entries.exchange_id`` would refuse a second entry anyway). On SQLite
every write transaction starts with ``BEGIN IMMEDIATE`` (see ``storage.db``), which serialises
writers the same way.
"""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samvirke.storage import audit, outbox
from samvirke.storage.errors import InvalidInput, NotAllowed, NotFound
from samvirke.storage.ledger import (
    MAX_ADJUSTMENT_MINUTES,
    LimitExceeded,
    Limits,
    Policy,
    check_entry,
    hours_decimal,
    validate_minutes,
)
from samvirke.storage.models import (
    AccountKind,
    ContactStatus,
    EntryKind,
    ExchangeStatus,
    ListingKind,
    ListingStatus,
    Member,
    Region,
    Sector,
    TimebankAccount,
    TimebankCategory,
    TimebankContactRequest,
    TimebankCoordinator,
    TimebankEntry,
    TimebankExchange,
    TimebankListing,
)
from samvirke.storage.permissions import Actor, require_admin, require_organiser, visible_region_ids
from samvirke.storage.rules import clean_text, region_code
from samvirke.storage.uow import UnitOfWork
from samvirke.templates.i18n import Translator, translator

TITLE_MAX = 100
LISTING_DESCRIPTION_MAX = 1000
DESCRIPTION_MAX = 200
REASON_MAX = 500
CATEGORY_NAME_MAX = 100
ORGANISATION_NAME_MAX = 200
RECENT_EXCHANGES = 5
BROWSE_PAGE_SIZE = 5

Direction = Literal["gave", "received"]
Buttons = list[list[dict[str, str]]]
Render = Callable[[Translator, Member], str]
RenderButtons = Callable[[Translator, Member], Buttons]


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """One side of an exchange or entry: a member's account or an organisation account."""

    account_id: int
    kind: str
    name: str  # "" for a member who erased their data
    member_id: int | None

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


@dataclass(frozen=True)
class Overview:
    """What /timebank shows: balances, what waits for whom, the latest exchanges."""

    account: AccountView
    organisations: list[AccountView]
    to_confirm: list[ExchangeView]
    waiting: list[ExchangeView]
    recent: list[ExchangeView]

    @property
    def account_ids(self) -> set[int]:
        return {self.account.id, *(o.id for o in self.organisations)}


@dataclass(frozen=True)
class Decision:
    """The outcome of confirm/decline/cancel. ``changed`` is False when it had already been
    decided the same way (a double tap); ``balances`` are those after a confirmation."""

    exchange: ExchangeView
    changed: bool
    balances: dict[int, int] = field(default_factory=dict)


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


@dataclass(frozen=True)
class HistoryLine:
    entry_id: int
    at: dt.datetime
    kind: str
    minutes: int  # signed: positive when credited to the account, negative when debited
    counterpart: Party
    text: str  # the exchange's description, or the reason of a correction
    balance_after: int
    exchange_id: int | None
    reversed: bool


@dataclass(frozen=True)
class History:
    account: AccountView
    lines: list[HistoryLine]  # newest first


@dataclass(frozen=True)
class CategoryView:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ListingView:
    id: int
    kind: str
    title: str
    description: str
    category: CategoryView
    region_id: int | None
    region_name: str | None
    status: str
    member_id: int
    poster_name: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class BrowsePage:
    listings: list[ListingView]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class ContactResult:
    id: int
    status: str
    changed: bool
    listing: ListingView


# --- formatting (the bot and the notices use the same) ----------------------------------------


def hours_text(t: Translator, minutes: int) -> str:
    """Hours in the reader's language: "1.5 h", "1,5 t", "−2,25 tim"."""
    number = format_decimal(hours_decimal(minutes), format="#,##0.##", locale=t.language)
    return t("{hours} h", hours=number)


def party_name(t: Translator, party: Party) -> str:
    return party.name or t("a former member")


def _mention(member: Member, t: Translator) -> str:
    """An HTML mention that opens the member's Telegram profile, with their @username."""
    name = html.escape(member.name or t("a former member"))
    text = f'<a href="tg://user?id={member.telegram_user_id}">{name}</a>'
    if member.telegram_username:
        text += f" (@{html.escape(member.telegram_username)})"
    return text


# --- input rules ----------------------------------------------------------------------------


def _clean_multiline(value: str) -> str:
    """NFC, no control characters except line breaks, at most one empty line in a row."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    lines = [clean_text(line) for line in value.split("\n")]
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def validate_title(value: str) -> str:
    title = clean_text(value)
    if not title:
        raise InvalidInput("title_empty")
    if len(title) > TITLE_MAX:
        raise InvalidInput("title_too_long", max=TITLE_MAX)
    return title


def validate_listing_description(value: str) -> str:
    text = _clean_multiline(value)
    if not text:
        raise InvalidInput("description_empty")
    if len(text) > LISTING_DESCRIPTION_MAX:
        raise InvalidInput("description_too_long", max=LISTING_DESCRIPTION_MAX)
    return text


def validate_description(value: str) -> str:
    """The short description of an exchange ("grant-writing help for the food co-op")."""
    text = clean_text(value)
    if not text:
        raise InvalidInput("description_empty")
    if len(text) > DESCRIPTION_MAX:
        raise InvalidInput("description_too_long", max=DESCRIPTION_MAX)
    return text


def validate_reason(value: str | None) -> str:
    """Corrections need a reason (it is kept with the entry and in the audit log)."""
    text = clean_text(value or "")
    if len(text) < 3:
        raise InvalidInput("reason_missing")
    if len(text) > REASON_MAX:
        raise InvalidInput("reason_too_long", max=REASON_MAX)
    return text


# --- loading helpers --------------------------------------------------------------------------


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _live_member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.deleted_at is not None:
        raise NotFound("member_not_found")
    return member


async def _member_account(session: AsyncSession, member_id: int, now: dt.datetime) -> int:
    """The id of the member's account, made on first use (safe against a concurrent insert)."""
    statement = (
        _insert(session)(TimebankAccount)
        .values(
            kind=AccountKind.MEMBER,
            member_id=member_id,
            balance_minutes=0,
            active=True,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["member_id"])
    )
    await session.execute(statement)
    account_id = await session.scalar(
        select(TimebankAccount.id).where(TimebankAccount.member_id == member_id)
    )
    assert account_id is not None
    return int(account_id)


async def _existing_member_account(session: AsyncSession, member_id: int) -> int | None:
    return await session.scalar(
        select(TimebankAccount.id).where(TimebankAccount.member_id == member_id)
    )


async def _coordinated(session: AsyncSession, member_id: int) -> list[TimebankAccount]:
    rows = await session.scalars(
        select(TimebankAccount)
        .join(TimebankCoordinator, TimebankCoordinator.account_id == TimebankAccount.id)
        .where(TimebankCoordinator.member_id == member_id, TimebankAccount.active.is_(True))
        .order_by(TimebankAccount.name, TimebankAccount.id)
    )
    return list(rows.all())


async def _people(session: AsyncSession, account_id: int) -> list[Member]:
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


async def _parties(session: AsyncSession, account_ids: Iterable[int]) -> dict[int, Party]:
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


def _limits(account: TimebankAccount, policy: Policy) -> Limits:
    default = (
        policy.organisation_limits
        if account.kind == AccountKind.ORGANISATION
        else policy.member_limits
    )
    return Limits(
        default.min_minutes if account.min_balance_minutes is None else account.min_balance_minutes,
        default.max_minutes if account.max_balance_minutes is None else account.max_balance_minutes,
    )


async def _account_view(
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
        _limits(account, policy),
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


async def _exchange_views(
    session: AsyncSession, exchanges: Sequence[TimebankExchange]
) -> list[ExchangeView]:
    parties = await _parties(
        session, {a for e in exchanges for a in (e.giver_account_id, e.receiver_account_id)}
    )
    return [_exchange_view(e, parties) for e in exchanges]


async def _locked_exchange(session: AsyncSession, exchange_id: int) -> TimebankExchange:
    exchange = await session.scalar(
        select(TimebankExchange)
        .where(TimebankExchange.id == exchange_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if exchange is None:
        raise NotFound("exchange_not_found")
    return exchange


# --- the ledger -----------------------------------------------------------------------------


async def _post_entry(
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
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    if len(accounts) != 2:
        raise NotFound("account_not_found")
    debit, credit = accounts[debit_account_id], accounts[credit_account_id]
    try:
        check_entry(
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            minutes=minutes,
            debit_balance=debit.balance_minutes,
            credit_balance=credit.balance_minutes,
            debit_limits=_limits(debit, policy),
            credit_limits=_limits(credit, policy),
        )
    except LimitExceeded as error:
        await _explain(session, error, debit, credit)
        raise
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


async def _explain(
    session: AsyncSession,
    error: LimitExceeded,
    debit: TimebankAccount,
    credit: TimebankAccount,
) -> None:
    """Add what the refusal message shows: whose balance, and both balances now."""
    parties = await _parties(session, [debit.id, credit.id])
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


async def check_ledger(uow: UnitOfWork, *, policy: Policy) -> LedgerCheck:
    """Derive every balance from the entries and compare it with the cached one."""
    async with uow:
        session = uow.session
        credited = dict(
            (
                await session.execute(
                    select(
                        TimebankEntry.credit_account_id, func.sum(TimebankEntry.minutes)
                    ).group_by(TimebankEntry.credit_account_id)
                )
            ).all()
        )
        debited = dict(
            (
                await session.execute(
                    select(
                        TimebankEntry.debit_account_id, func.sum(TimebankEntry.minutes)
                    ).group_by(TimebankEntry.debit_account_id)
                )
            ).all()
        )
        entries = int(await session.scalar(select(func.count(TimebankEntry.id))) or 0)
        accounts = (await session.scalars(select(TimebankAccount))).all()
        mismatched: dict[int, tuple[int, int]] = {}
        outside: list[int] = []
        for account in accounts:
            derived = int(credited.get(account.id, 0) or 0) - int(debited.get(account.id, 0) or 0)
            if derived != account.balance_minutes:
                mismatched[account.id] = (account.balance_minutes, derived)
            limits = _limits(account, policy)
            if not limits.min_minutes <= account.balance_minutes <= limits.max_minutes:
                outside.append(account.id)
        return LedgerCheck(
            accounts=len(accounts),
            entries=entries,
            sum_of_balances=sum(a.balance_minutes for a in accounts),
            mismatched=mismatched,
            outside_limits=outside,
        )


# --- notices (rendered in the recipient's language, queued in the caller's transaction) --------


async def _notify(
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


def _confirm_buttons(exchange_id: int) -> RenderButtons:
    def buttons(t: Translator, _person: Member) -> Buttons:
        return [
            [
                {"text": t("Confirm"), "callback_data": f"tb:ok:{exchange_id}"},
                {"text": t("Decline"), "callback_data": f"tb:no:{exchange_id}"},
            ]
        ]

    return buttons


def _confirm_request_text(t: Translator, view: ExchangeView) -> str:
    initiator = party_name(t, view.initiator)
    counterpart = view.counterpart
    hours = hours_text(t, view.minutes)
    gave = view.initiator.account_id == view.giver.account_id
    if counterpart.is_organisation:
        text = (
            t(
                "{name} says they helped {organisation}: {hours}, “{description}”.",
                name=initiator,
                organisation=counterpart.name,
                hours=hours,
                description=view.description,
            )
            if gave
            else t(
                "{name} says {organisation} helped them: {hours}, “{description}”.",
                name=initiator,
                organisation=counterpart.name,
                hours=hours,
                description=view.description,
            )
        )
    else:
        text = (
            t(
                "{name} says they helped you: {hours}, “{description}”.",
                name=initiator,
                hours=hours,
                description=view.description,
            )
            if gave
            else t(
                "{name} says you helped them: {hours}, “{description}”.",
                name=initiator,
                hours=hours,
                description=view.description,
            )
        )
    return text + "\n\n" + t("The hours move only when you confirm.")


def _balance_line(t: Translator, party: Party, balance: int) -> str:
    if party.is_organisation:
        return t(
            "The balance of {organisation} is now {balance}.",
            organisation=party.name,
            balance=hours_text(t, balance),
        )
    return t("Your balance is now {balance}.", balance=hours_text(t, balance))


# --- accounts and the overview --------------------------------------------------------------


async def overview(uow: UnitOfWork, member_id: int, *, policy: Policy) -> Overview:
    """The member's balance, their organisations', pending exchanges both ways, recent ones."""
    async with uow:
        session = uow.session
        member = await _live_member(session, member_id)
        account = await session.scalar(
            select(TimebankAccount).where(TimebankAccount.member_id == member_id)
        )
        if account is None:
            own = AccountView(
                0,
                AccountKind.MEMBER,
                member.name or "",
                member_id,
                0,
                policy.member_limits,
                member.region_id,
                member.sector,
            )
        else:
            own = await _account_view(session, account, policy)
        organisations = [
            await _account_view(session, a, policy) for a in await _coordinated(session, member_id)
        ]
        ids = [a.id for a in (own, *organisations) if a.id]
        if not ids:
            return Overview(own, organisations, [], [], [])
        mine = or_(
            TimebankExchange.giver_account_id.in_(ids),
            TimebankExchange.receiver_account_id.in_(ids),
        )
        pending = (
            await session.scalars(
                select(TimebankExchange)
                .where(mine, TimebankExchange.status == ExchangeStatus.PENDING)
                .order_by(TimebankExchange.created_at, TimebankExchange.id)
            )
        ).all()
        recent = (
            await session.scalars(
                select(TimebankExchange)
                .where(mine, TimebankExchange.status == ExchangeStatus.CONFIRMED)
                .order_by(TimebankExchange.decided_at.desc(), TimebankExchange.id.desc())
                .limit(RECENT_EXCHANGES)
            )
        ).all()
        views = await _exchange_views(session, [*pending, *recent])
        pending_views, recent_views = views[: len(pending)], views[len(pending) :]
        to_confirm = [v for v in pending_views if v.counterpart.account_id in ids]
        waiting = [v for v in pending_views if v.counterpart.account_id not in ids]
        return Overview(own, organisations, to_confirm, waiting, recent_views)


async def recent_contacts(
    uow: UnitOfWork, member_id: int, *, as_account_id: int | None = None, limit: int = 6
) -> list[Party]:
    """People the member exchanged with or was introduced to, most recent first; with
    ``as_account_id``, those the organisation account the member coordinates exchanged with."""
    async with uow:
        return (await _recent_contacts(uow.session, member_id, as_account_id))[:limit]


async def _recent_contacts(
    session: AsyncSession, member_id: int, as_account_id: int | None = None
) -> list[Party]:
    seen: dict[str, tuple[dt.datetime, Party]] = {}
    if as_account_id:
        if as_account_id not in {a.id for a in await _coordinated(session, member_id)}:
            raise NotAllowed("not_coordinator")
        account_id: int | None = as_account_id
    else:
        account_id = await _existing_member_account(session, member_id)
    if account_id is not None:
        rows = (
            await session.execute(
                select(
                    TimebankExchange.giver_account_id,
                    TimebankExchange.receiver_account_id,
                    TimebankExchange.created_at,
                ).where(
                    or_(
                        TimebankExchange.giver_account_id == account_id,
                        TimebankExchange.receiver_account_id == account_id,
                    ),
                    TimebankExchange.status.in_([ExchangeStatus.CONFIRMED, ExchangeStatus.PENDING]),
                )
            )
        ).all()
        parties = await _parties(session, {a for g, r, _ in rows for a in (g, r)})
        for giver, receiver, at in rows:
            _remember(seen, parties[giver if receiver == account_id else receiver], at)
    if not as_account_id:
        contacts = (
            await session.execute(
                select(
                    TimebankContactRequest.requester_member_id,
                    TimebankListing.member_id,
                    TimebankContactRequest.decided_at,
                )
                .join(TimebankListing, TimebankListing.id == TimebankContactRequest.listing_id)
                .where(
                    TimebankContactRequest.status == ContactStatus.ACCEPTED,
                    or_(
                        TimebankContactRequest.requester_member_id == member_id,
                        TimebankListing.member_id == member_id,
                    ),
                )
            )
        ).all()
        for requester, poster, decided_at in contacts:
            other_member = poster if requester == member_id else requester
            other = await session.get(Member, other_member)
            if other is not None and decided_at is not None:
                party = Party(0, AccountKind.MEMBER, other.name or "", other.id)
                _remember(seen, party, decided_at)
    live = []
    for _at, party in sorted(seen.values(), key=lambda item: item[0], reverse=True):
        if party.member_id is not None:
            person = await session.get(Member, party.member_id)
            if person is None or person.deleted_at is not None or person.id == member_id:
                continue
        live.append(party)
    return live


def _remember(seen: dict[str, tuple[dt.datetime, Party]], party: Party, at: dt.datetime) -> None:
    if party.ref not in seen or seen[party.ref][0] < at:
        seen[party.ref] = (at, party)


async def choosable(
    uow: UnitOfWork, member_id: int, ref: str, *, as_account_id: int | None = None
) -> Party:
    """The party behind a button of the "who was it?" question: one of the member's contacts
    or an organisation account. (Callback data comes from the client: anything else, such as
    a made-up member id, is refused rather than shown by name.)"""
    async with uow:
        session = uow.session
        if ref.startswith("a"):
            found = await _party_by_ref(session, ref)
            if found.is_organisation:
                return found
        for contact in await _recent_contacts(session, member_id, as_account_id):
            if contact.ref == ref:
                return contact
        raise NotFound("not_a_contact")


async def find_member(uow: UnitOfWork, username: str) -> Party:
    """The member with this Telegram @username (for choosing the other side of an exchange)."""
    name = username.strip().removeprefix("@").lower()
    if not name or len(name) > 64:
        raise NotFound("username_unknown", username=username.strip())
    async with uow:
        member = await uow.session.scalar(
            select(Member)
            .where(func.lower(Member.telegram_username) == name, Member.deleted_at.is_(None))
            .order_by(Member.updated_at.desc())
            .limit(1)
        )
        if member is None:
            raise NotFound("username_unknown", username="@" + name)
        account_id = await _existing_member_account(uow.session, member.id)
        return Party(account_id or 0, AccountKind.MEMBER, member.name or "", member.id)


async def organisation_accounts(uow: UnitOfWork, *, policy: Policy) -> list[AccountView]:
    async with uow:
        rows = await uow.session.scalars(
            select(TimebankAccount)
            .where(
                TimebankAccount.kind == AccountKind.ORGANISATION,
                TimebankAccount.active.is_(True),
            )
            .order_by(TimebankAccount.name, TimebankAccount.id)
        )
        return [await _account_view(uow.session, a, policy) for a in rows.all()]


async def _party_by_ref(session: AsyncSession, ref: str) -> Party:
    """The party a reference ("m12": member 12, "a3": account 3) stands for."""
    kind, number = ref[:1], ref[1:]
    if kind not in ("m", "a") or not number.isdigit():
        raise NotFound("counterpart_not_found")
    if kind == "m":
        member = await session.get(Member, int(number))
        if member is None or member.deleted_at is not None:
            raise NotFound("counterpart_not_found")
        account_id = await _existing_member_account(session, member.id)
        return Party(account_id or 0, AccountKind.MEMBER, member.name or "", member.id)
    account = await session.get(TimebankAccount, int(number))
    if account is None or not account.active:
        raise NotFound("counterpart_not_found")
    parties = await _parties(session, [account.id])
    return parties[account.id]


# --- exchanges ------------------------------------------------------------------------------


async def start_exchange(
    uow: UnitOfWork,
    member_id: int,
    *,
    other: str,
    direction: Direction,
    minutes: int,
    description: str,
    policy: Policy,
    now: dt.datetime,
    as_account_id: int | None = None,
    listing_id: int | None = None,
    request_key: str | None = None,
) -> ExchangeView:
    """Log an exchange: "I helped X" (``gave``) or "X helped me" (``received``).

    ``other`` is a party reference ("m<member id>" or "a<account id>"). A coordinator may log
    for an organisation account (``as_account_id``). The other side is asked to confirm. A
    repeated ``request_key`` (a double-tapped Send) returns the exchange made the first time.
    Refused up front when the current balances already rule it out.
    """
    minutes = validate_minutes(minutes)
    description = validate_description(description)
    if direction not in ("gave", "received"):
        raise InvalidInput("direction_unknown")
    async with uow:
        session = uow.session
        if request_key is not None:
            existing = await session.scalar(
                select(TimebankExchange).where(TimebankExchange.request_key == request_key)
            )
            if existing is not None:
                return (await _exchange_views(session, [existing]))[0]
        member = await _live_member(session, member_id)
        if as_account_id:
            if as_account_id not in {a.id for a in await _coordinated(session, member_id)}:
                raise NotAllowed("not_coordinator")
            mine = as_account_id
        else:
            mine = await _member_account(session, member_id, now)
        counterpart = await _party_by_ref(session, other)
        if counterpart.member_id is not None:
            theirs = await _member_account(session, counterpart.member_id, now)
        else:
            theirs = counterpart.account_id
        confirmers = await _people(session, theirs)
        if theirs == mine or member_id in {p.id for p in confirmers}:
            raise InvalidInput("self_exchange")
        if not confirmers:
            raise InvalidInput("nobody_to_confirm")
        if listing_id is not None and await session.get(TimebankListing, listing_id) is None:
            listing_id = None
        giver, receiver = (mine, theirs) if direction == "gave" else (theirs, mine)
        accounts = {
            a.id: a
            for a in (
                await session.scalars(
                    select(TimebankAccount).where(TimebankAccount.id.in_([giver, receiver]))
                )
            ).all()
        }
        try:
            check_entry(
                debit_account_id=receiver,
                credit_account_id=giver,
                minutes=minutes,
                debit_balance=accounts[receiver].balance_minutes,
                credit_balance=accounts[giver].balance_minutes,
                debit_limits=_limits(accounts[receiver], policy),
                credit_limits=_limits(accounts[giver], policy),
            )
        except LimitExceeded as error:
            await _explain(session, error, accounts[receiver], accounts[giver])
            raise
        exchange = TimebankExchange(
            giver_account_id=giver,
            receiver_account_id=receiver,
            initiator_account_id=mine,
            initiated_by_member_id=member.id,
            minutes=minutes,
            description=description,
            listing_id=listing_id,
            request_key=request_key,
            status=ExchangeStatus.PENDING,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(exchange)
                await session.flush()
        except IntegrityError:
            # The same Send pressed twice at the same moment: the other press made it.
            existing = await session.scalar(
                select(TimebankExchange).where(TimebankExchange.request_key == request_key)
            )
            if existing is None:
                raise
            return (await _exchange_views(session, [existing]))[0]
        view = (await _exchange_views(session, [exchange]))[0]
        audit.record(
            session,
            "timebank.exchange_logged",
            now=now,
            member_id=member.id,
            actor_member_id=member.id,
            exchange_id=exchange.id,
            giver_account_id=giver,
            receiver_account_id=receiver,
            minutes=minutes,
        )
        await _notify(
            session,
            confirmers,
            key=f"tb:confirm:{exchange.id}",
            now=now,
            render=lambda t, _p: _confirm_request_text(t, view),
            buttons=_confirm_buttons(exchange.id),
        )
        await uow.commit()
        return view


async def _acts_for(session: AsyncSession, member_id: int, account_id: int) -> bool:
    return member_id in {p.id for p in await _people(session, account_id)}


async def confirm(
    uow: UnitOfWork, member_id: int, exchange_id: int, *, policy: Policy, now: dt.datetime
) -> Decision:
    """The other side confirms: the hours move (once, however often Confirm is pressed).

    Refused with ``LimitExceeded`` (the exchange stays pending) if a balance would cross its
    limit; an exchange older than the expiry period expires here instead.
    """
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        exchange = await _locked_exchange(session, exchange_id)
        counterpart = (
            exchange.receiver_account_id
            if exchange.initiator_account_id == exchange.giver_account_id
            else exchange.giver_account_id
        )
        if not await _acts_for(session, member_id, counterpart):
            raise NotAllowed("not_your_confirmation")
        if exchange.status == ExchangeStatus.CONFIRMED:
            view = (await _exchange_views(session, [exchange]))[0]
            return Decision(view, changed=False)
        if exchange.status != ExchangeStatus.PENDING:
            raise InvalidInput(f"exchange_{exchange.status}")
        if exchange.created_at + policy.expiry <= now:
            await _expire(session, exchange, policy=policy, now=now)
            await uow.commit()
            raise InvalidInput("exchange_expired")
        entry, balances = await _post_entry(
            session,
            kind=EntryKind.EXCHANGE,
            debit_account_id=exchange.receiver_account_id,
            credit_account_id=exchange.giver_account_id,
            minutes=exchange.minutes,
            exchange_id=exchange.id,
            created_by_member_id=member_id,
            policy=policy,
            now=now,
        )
        exchange.status = ExchangeStatus.CONFIRMED
        exchange.decided_at = now
        exchange.decided_by_member_id = member_id
        await session.flush()
        view = (await _exchange_views(session, [exchange]))[0]
        audit.record(
            session,
            "timebank.exchange_confirmed",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            exchange_id=exchange.id,
            entry_id=entry.id,
            minutes=exchange.minutes,
        )
        initiator = view.initiator
        await _notify(
            session,
            await _people(session, initiator.account_id),
            key=f"tb:confirmed:{exchange.id}",
            now=now,
            render=lambda t, _p: (
                t(
                    "{name} confirmed the exchange: {hours}, “{description}”.",
                    name=party_name(t, view.counterpart),
                    hours=hours_text(t, view.minutes),
                    description=view.description,
                )
                + "\n"
                + _balance_line(t, initiator, balances[initiator.account_id])
            ),
        )
        await uow.commit()
        return Decision(view, changed=True, balances=balances)


async def _close_pending(
    session: AsyncSession,
    exchange: TimebankExchange,
    status: ExchangeStatus,
    *,
    member_id: int,
    now: dt.datetime,
) -> ExchangeView | None:
    """Decline or withdraw a pending exchange (audited). None if it already had ``status``:
    a double tap changes nothing."""
    if exchange.status == status:
        return None
    if exchange.status != ExchangeStatus.PENDING:
        raise InvalidInput(f"exchange_{exchange.status}")
    exchange.status = status
    exchange.decided_at = now
    exchange.decided_by_member_id = member_id
    await session.flush()
    audit.record(
        session,
        f"timebank.exchange_{status}",
        now=now,
        member_id=member_id,
        actor_member_id=member_id,
        exchange_id=exchange.id,
    )
    return (await _exchange_views(session, [exchange]))[0]


async def decline(
    uow: UnitOfWork, member_id: int, exchange_id: int, *, now: dt.datetime
) -> Decision:
    """The other side declines: nothing moves, the side who logged it is told."""
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        exchange = await _locked_exchange(session, exchange_id)
        counterpart = (
            exchange.receiver_account_id
            if exchange.initiator_account_id == exchange.giver_account_id
            else exchange.giver_account_id
        )
        if not await _acts_for(session, member_id, counterpart):
            raise NotAllowed("not_your_confirmation")
        view = await _close_pending(
            session, exchange, ExchangeStatus.DECLINED, member_id=member_id, now=now
        )
        if view is None:
            return Decision((await _exchange_views(session, [exchange]))[0], changed=False)
        await _notify(
            session,
            await _people(session, exchange.initiator_account_id),
            key=f"tb:declined:{exchange.id}",
            now=now,
            render=lambda t, _p: t(
                "{name} declined the exchange: {hours}, “{description}”. No hours were moved.",
                name=party_name(t, view.counterpart),
                hours=hours_text(t, view.minutes),
                description=view.description,
            ),
        )
        await uow.commit()
        return Decision(view, changed=True)


async def cancel(
    uow: UnitOfWork, member_id: int, exchange_id: int, *, now: dt.datetime
) -> Decision:
    """The side who logged an exchange withdraws it while it is pending."""
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        exchange = await _locked_exchange(session, exchange_id)
        if not await _acts_for(session, member_id, exchange.initiator_account_id):
            raise NotAllowed("not_your_exchange")
        view = await _close_pending(
            session, exchange, ExchangeStatus.CANCELLED, member_id=member_id, now=now
        )
        if view is None:
            return Decision((await _exchange_views(session, [exchange]))[0], changed=False)
        await _notify(
            session,
            await _people(session, view.counterpart.account_id),
            key=f"tb:cancelled:{exchange.id}",
            now=now,
            render=lambda t, _p: t(
                "{name} withdrew the exchange: {hours}, “{description}”. No hours were moved.",
                name=party_name(t, view.initiator),
                hours=hours_text(t, view.minutes),
                description=view.description,
            ),
        )
        await uow.commit()
        return Decision(view, changed=True)


async def _expire(
    session: AsyncSession, exchange: TimebankExchange, *, policy: Policy, now: dt.datetime
) -> None:
    exchange.status = ExchangeStatus.EXPIRED
    exchange.decided_at = now
    await session.flush()
    view = (await _exchange_views(session, [exchange]))[0]
    audit.record(session, "timebank.exchange_expired", now=now, exchange_id=exchange.id)
    people = [
        *await _people(session, exchange.giver_account_id),
        *await _people(session, exchange.receiver_account_id),
    ]
    await _notify(
        session,
        people,
        key=f"tb:expired:{exchange.id}",
        now=now,
        render=lambda t, _p: t(
            "The exchange of {hours} between {giver} and {receiver}, “{description}”, was not "
            "confirmed within {days} days and has expired. No hours were moved.",
            hours=hours_text(t, view.minutes),
            giver=party_name(t, view.giver),
            receiver=party_name(t, view.receiver),
            description=view.description,
            days=policy.expiry.days,
        ),
    )


async def expire_due(uow: UnitOfWork, *, policy: Policy, now: dt.datetime, limit: int = 100) -> int:
    """Expire up to ``limit`` exchanges pending longer than the expiry period; how many.

    Rows another worker holds are skipped (``SKIP LOCKED``); an exchange being confirmed right
    now is therefore left for the next run, when it is no longer pending.
    """
    async with uow:
        session = uow.session
        due = (
            await session.scalars(
                select(TimebankExchange)
                .where(
                    TimebankExchange.status == ExchangeStatus.PENDING,
                    TimebankExchange.created_at <= now - policy.expiry,
                )
                .order_by(TimebankExchange.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for exchange in due:
            await _expire(session, exchange, policy=policy, now=now)
        await uow.commit()
        return len(due)


# --- corrections (administrators) -----------------------------------------------------------


async def _entry_view(
    session: AsyncSession, entry: TimebankEntry, balances: dict[int, int] | None = None
) -> EntryView:
    parties = await _parties(session, [entry.debit_account_id, entry.credit_account_id])
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
                    _balance_line(t, side, view.balances.get(side.account_id, 0)),
                ]
            )

        await _notify(
            session,
            await _people(session, side.account_id),
            key=f"tb:corrected:{view.id}:{side.account_id}",
            now=now,
            render=render,
        )


async def adjust(
    uow: UnitOfWork,
    actor: Actor,
    *,
    debit_account_id: int,
    credit_account_id: int,
    minutes: int,
    reason: str,
    policy: Policy,
    now: dt.datetime,
) -> EntryView:
    """An administrator moves hours between two accounts, with a reason (audited)."""
    require_admin(actor)
    minutes = validate_minutes(minutes, maximum=MAX_ADJUSTMENT_MINUTES)
    reason = validate_reason(reason)
    async with uow:
        session = uow.session
        entry, balances = await _post_entry(
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
        view = await _entry_view(session, entry, balances)
        await _notify_correction(session, view, now=now)
        await uow.commit()
        return view


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
        # _post_entry locks both accounts first; the check below then sees any reversal a
        # concurrent request committed meanwhile (and the unique index refuses a second one).
        try:
            entry, balances = await _post_entry(
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
        view = await _entry_view(session, entry, balances)
        await _notify_correction(session, view, now=now)
        await uow.commit()
        return view


# --- organisation accounts and categories (administrators) ---------------------------------------


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
    name = clean_text(name)
    if not name or len(name) > ORGANISATION_NAME_MAX:
        raise InvalidInput("organisation_name_invalid", max=ORGANISATION_NAME_MAX)
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
        view = await _account_view(session, account, policy)
        await uow.commit()
        return view


async def set_coordinator(
    uow: UnitOfWork,
    actor: Actor,
    account_id: int,
    member_id: int,
    *,
    coordinator: bool,
    now: dt.datetime,
) -> None:
    """Make a member a coordinator of an organisation account, or no longer one."""
    require_admin(actor)
    async with uow:
        session = uow.session
        account = await session.get(TimebankAccount, account_id)
        if account is None or account.kind != AccountKind.ORGANISATION:
            raise NotFound("account_not_found")
        await _live_member(session, member_id)
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


async def account_of_member(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> int:
    """The member's account id (made if needed), e.g. for an administrator's adjustment."""
    async with uow:
        await _live_member(uow.session, member_id)
        account_id = await _member_account(uow.session, member_id, now)
        await uow.commit()
        return account_id


async def categories(uow: UnitOfWork) -> list[CategoryView]:
    async with uow:
        rows = await uow.session.scalars(
            select(TimebankCategory)
            .where(TimebankCategory.active.is_(True))
            .order_by(TimebankCategory.id)
        )
        return [CategoryView(c.id, c.code, c.name) for c in rows.all()]


async def add_category(
    uow: UnitOfWork, actor: Actor, name: str, *, now: dt.datetime
) -> CategoryView:
    require_admin(actor)
    name = clean_text(name)
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise InvalidInput("category_name_invalid", max=CATEGORY_NAME_MAX)
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


# --- listings -------------------------------------------------------------------------------


def _listing_query() -> Select[TimebankListing, TimebankCategory, Member, str]:
    return (
        select(TimebankListing, TimebankCategory, Member, Region.name)
        .join(TimebankCategory, TimebankCategory.id == TimebankListing.category_id)
        .join(Member, Member.id == TimebankListing.member_id)
        .outerjoin(Region, Region.id == TimebankListing.region_id)
    )


def _listing_view(row: Row[TimebankListing, TimebankCategory, Member, str]) -> ListingView:
    listing, category, poster, region = row
    return ListingView(
        id=listing.id,
        kind=listing.kind,
        title=listing.title,
        description=listing.description,
        category=CategoryView(category.id, category.code, category.name),
        region_id=listing.region_id,
        region_name=region,
        status=listing.status,
        member_id=listing.member_id,
        poster_name=poster.name or "",
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


async def _load_listing(session: AsyncSession, listing_id: int) -> ListingView:
    row = (
        await session.execute(_listing_query().where(TimebankListing.id == listing_id))
    ).one_or_none()
    if row is None or row[0].status == ListingStatus.DELETED or row[2].deleted_at is not None:
        raise NotFound("listing_not_found")
    return _listing_view(row)


async def _check_category(session: AsyncSession, category_id: int) -> None:
    category = await session.get(TimebankCategory, category_id)
    if category is None or not category.active:
        raise InvalidInput("category_unknown")


async def _check_region(session: AsyncSession, region_id: int | None) -> None:
    if region_id is None:
        return
    region = await session.get(Region, region_id)
    if region is None or not region.active:
        raise InvalidInput("region_unknown")


async def create_listing(
    uow: UnitOfWork,
    member_id: int,
    *,
    kind: str,
    title: str,
    description: str,
    category_id: int,
    region_id: int | None,
    now: dt.datetime,
) -> ListingView:
    """Post an offer of help or a request for help."""
    if kind not in set(ListingKind):
        raise InvalidInput("listing_kind_unknown")
    title = validate_title(title)
    description = validate_listing_description(description)
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        await _check_category(session, category_id)
        await _check_region(session, region_id)
        listing = TimebankListing(
            member_id=member_id,
            kind=kind,
            title=title,
            description=description,
            category_id=category_id,
            region_id=region_id,
            status=ListingStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        session.add(listing)
        await session.flush()
        audit.record(
            session,
            "timebank.listing_created",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing.id,
            kind=kind,
        )
        view = await _load_listing(session, listing.id)
        await uow.commit()
        return view


LISTING_FIELDS = ("title", "description", "category", "region")


async def _own_listing(session: AsyncSession, member_id: int, listing_id: int) -> TimebankListing:
    listing = await session.get(TimebankListing, listing_id)
    if listing is None or listing.status == ListingStatus.DELETED:
        raise NotFound("listing_not_found")
    if listing.member_id != member_id:
        raise NotAllowed("not_your_listing")
    return listing


async def update_listing(
    uow: UnitOfWork,
    member_id: int,
    listing_id: int,
    field: str,
    value: str | int | None,
    *,
    now: dt.datetime,
) -> ListingView:
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        listing = await _own_listing(session, member_id, listing_id)
        if field == "title":
            listing.title = validate_title(str(value or ""))
        elif field == "description":
            listing.description = validate_listing_description(str(value or ""))
        elif field == "category":
            await _check_category(session, int(value or 0))
            listing.category_id = int(value or 0)
        elif field == "region":
            region_id = int(value) if value else None
            await _check_region(session, region_id)
            listing.region_id = region_id
        else:
            raise InvalidInput("field_unknown")
        listing.updated_at = now
        await session.flush()
        audit.record(
            session,
            "timebank.listing_changed",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing_id,
            field=field,
        )
        view = await _load_listing(session, listing_id)
        await uow.commit()
        return view


async def set_listing_status(
    uow: UnitOfWork, member_id: int, listing_id: int, status: str, *, now: dt.datetime
) -> ListingView | None:
    """Pause, resume (``active``) or delete one's own listing; None once it is deleted."""
    if status not in set(ListingStatus):
        raise InvalidInput("listing_status_unknown")
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        listing = await _own_listing(session, member_id, listing_id)
        listing.status = status
        listing.updated_at = now
        await session.flush()
        audit.record(
            session,
            f"timebank.listing_{status}",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing_id,
        )
        view = None if status == ListingStatus.DELETED else await _load_listing(session, listing_id)
        await uow.commit()
        return view


async def my_listings(uow: UnitOfWork, member_id: int) -> list[ListingView]:
    async with uow:
        rows = await uow.session.execute(
            _listing_query()
            .where(
                TimebankListing.member_id == member_id,
                TimebankListing.status != ListingStatus.DELETED,
            )
            .order_by(TimebankListing.created_at.desc(), TimebankListing.id.desc())
        )
        return [_listing_view(row) for row in rows.all()]


async def get_listing(uow: UnitOfWork, listing_id: int) -> ListingView:
    async with uow:
        return await _load_listing(uow.session, listing_id)


async def browse(
    uow: UnitOfWork,
    *,
    category_id: int | None = None,
    region_id: int | None = None,
    kind: str | None = None,
    page: int = 0,
    page_size: int = BROWSE_PAGE_SIZE,
) -> BrowsePage:
    """Active listings of members who have not left, newest first, one page at a time."""
    conditions = [TimebankListing.status == ListingStatus.ACTIVE, Member.deleted_at.is_(None)]
    if category_id:
        conditions.append(TimebankListing.category_id == category_id)
    if region_id:
        conditions.append(TimebankListing.region_id == region_id)
    if kind:
        conditions.append(TimebankListing.kind == kind)
    async with uow:
        session = uow.session
        total = int(
            await session.scalar(
                select(func.count(TimebankListing.id))
                .join(Member, Member.id == TimebankListing.member_id)
                .where(*conditions)
            )
            or 0
        )
        pages = max(1, -(-total // page_size))
        page = min(max(page, 0), pages - 1)
        rows = await session.execute(
            _listing_query()
            .where(*conditions)
            .order_by(TimebankListing.created_at.desc(), TimebankListing.id.desc())
            .offset(page * page_size)
            .limit(page_size)
        )
        return BrowsePage([_listing_view(row) for row in rows.all()], page, pages, total)


# --- contact requests -----------------------------------------------------------------------


async def request_contact(
    uow: UnitOfWork, member_id: int, listing_id: int, *, now: dt.datetime
) -> ContactResult:
    """ "Contact" on a listing: the poster is asked whether they want to be introduced.

    Asking again about the same listing changes nothing (and sends nothing).
    """
    async with uow:
        session = uow.session
        requester = await _live_member(session, member_id)
        listing = await _load_listing(session, listing_id)
        if listing.status != ListingStatus.ACTIVE:
            raise NotFound("listing_not_found")
        if listing.member_id == member_id:
            raise InvalidInput("own_listing")
        existing = await session.scalar(
            select(TimebankContactRequest).where(
                TimebankContactRequest.listing_id == listing_id,
                TimebankContactRequest.requester_member_id == member_id,
            )
        )
        if existing is not None:
            return ContactResult(existing.id, existing.status, False, listing)
        request = TimebankContactRequest(
            listing_id=listing_id,
            requester_member_id=member_id,
            status=ContactStatus.PENDING,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(request)
                await session.flush()
        except IntegrityError:
            existing = await session.scalar(
                select(TimebankContactRequest).where(
                    TimebankContactRequest.listing_id == listing_id,
                    TimebankContactRequest.requester_member_id == member_id,
                )
            )
            if existing is None:
                raise
            return ContactResult(existing.id, existing.status, False, listing)
        audit.record(
            session,
            "timebank.contact_requested",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing_id,
            contact_id=request.id,
        )
        poster = await _live_member(session, listing.member_id)

        def render(t: Translator, _person: Member) -> str:
            name = requester.name or t("a former member")
            about = (
                t(
                    "{name} would like to get in touch about your offer “{title}”.",
                    name=name,
                    title=listing.title,
                )
                if listing.kind == ListingKind.OFFER
                else t(
                    "{name} would like to get in touch about your request “{title}”.",
                    name=name,
                    title=listing.title,
                )
            )
            return (
                about
                + "\n\n"
                + t(
                    "If you accept, I introduce you to each other here in Telegram. If you "
                    "decline, they are not told who you are."
                )
            )

        def buttons(t: Translator, _person: Member) -> list[list[dict[str, str]]]:
            return [
                [
                    {"text": t("Accept"), "callback_data": f"tb:cra:{request.id}"},
                    {"text": t("Decline"), "callback_data": f"tb:crd:{request.id}"},
                ]
            ]

        await _notify(
            session,
            [poster],
            key=f"tb:contact:{request.id}",
            now=now,
            render=render,
            buttons=buttons,
        )
        await uow.commit()
        return ContactResult(request.id, request.status, True, listing)


async def answer_contact(
    uow: UnitOfWork, member_id: int, contact_id: int, *, accept: bool, now: dt.datetime
) -> ContactResult:
    """The poster accepts (both are introduced) or declines (the requester learns nothing)."""
    async with uow:
        session = uow.session
        await _live_member(session, member_id)
        request = await session.scalar(
            select(TimebankContactRequest)
            .where(TimebankContactRequest.id == contact_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if request is None:
            raise NotFound("contact_not_found")
        listing_row = await session.get(TimebankListing, request.listing_id)
        assert listing_row is not None
        if listing_row.member_id != member_id:
            raise NotAllowed("not_your_contact")
        listing = _listing_view(
            (
                await session.execute(_listing_query().where(TimebankListing.id == listing_row.id))
            ).one()
        )
        wanted = ContactStatus.ACCEPTED if accept else ContactStatus.DECLINED
        if request.status == wanted:
            return ContactResult(request.id, request.status, False, listing)
        if request.status != ContactStatus.PENDING:
            raise InvalidInput("contact_already_answered")
        requester = await session.get(Member, request.requester_member_id)
        if requester is None or requester.deleted_at is not None:
            raise NotFound("counterpart_not_found")
        poster = await _live_member(session, member_id)
        request.status = wanted
        request.decided_at = now
        await session.flush()
        audit.record(
            session,
            "timebank.contact_accepted" if accept else "timebank.contact_declined",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            contact_id=request.id,
        )
        if accept:
            for person, other in ((requester, poster), (poster, requester)):

                def intro(t: Translator, _p: Member, other: Member = other) -> str:
                    return t(
                        "You are now in touch with {mention} about “{title}”. Write to them "
                        "directly here in Telegram. When help has been given, log the hours with "
                        "/timebank.",
                        mention=_mention(other, t),
                        title=html.escape(listing.title),
                    )

                def log_button(
                    t: Translator, _p: Member, other: Member = other
                ) -> list[list[dict[str, str]]]:
                    return [[{"text": t("Log hours"), "callback_data": f"tb:log:m{other.id}"}]]

                await _notify(
                    session,
                    [person],
                    key=f"tb:intro:{request.id}",
                    now=now,
                    render=intro,
                    buttons=log_button,
                    parse_mode="HTML",
                )
        else:
            await _notify(
                session,
                [requester],
                key=f"tb:contact-declined:{request.id}",
                now=now,
                render=lambda t, _p: t(
                    "Your contact request about “{title}” was not accepted this time. Browse "
                    "the other offers and requests with /timebank.",
                    title=listing.title,
                ),
            )
        await uow.commit()
        return ContactResult(request.id, request.status, True, listing)


# --- history --------------------------------------------------------------------------------


async def _viewable_account(
    session: AsyncSession, actor: Actor, account_id: int | None
) -> TimebankAccount | None:
    """The member's own account (None if they have none yet), or one they coordinate."""
    assert actor.member_id is not None
    if not account_id:
        return await session.scalar(
            select(TimebankAccount).where(TimebankAccount.member_id == actor.member_id)
        )
    account = await session.get(TimebankAccount, account_id)
    if account is None:
        raise NotFound("account_not_found")
    if actor.is_admin or account.member_id == actor.member_id:
        return account
    if account.id in {a.id for a in await _coordinated(session, actor.member_id)}:
        return account
    raise NotAllowed("not_your_account")


async def history(
    uow: UnitOfWork, actor: Actor, *, policy: Policy, account_id: int | None = None
) -> History:
    """Every entry of the account, newest first, with the balance after each."""
    if actor.member_id is None:
        raise NotFound("member_not_found")
    async with uow:
        session = uow.session
        member = await _live_member(session, actor.member_id)
        account = await _viewable_account(session, actor, account_id)
        if account is None:
            empty = AccountView(
                0,
                AccountKind.MEMBER,
                member.name or "",
                member.id,
                0,
                policy.member_limits,
                member.region_id,
                member.sector,
            )
            return History(empty, [])
        view = await _account_view(session, account, policy)
        entries = (
            await session.scalars(
                select(TimebankEntry)
                .where(
                    or_(
                        TimebankEntry.debit_account_id == account.id,
                        TimebankEntry.credit_account_id == account.id,
                    )
                )
                .order_by(TimebankEntry.id)
            )
        ).all()
        exchange_ids = {e.exchange_id for e in entries if e.exchange_id is not None}
        descriptions: dict[int, str] = {}
        if exchange_ids:
            descriptions = dict(
                (
                    await session.execute(
                        select(TimebankExchange.id, TimebankExchange.description).where(
                            TimebankExchange.id.in_(exchange_ids)
                        )
                    )
                ).all()
            )
        reversed_ids = {e.reverses_entry_id for e in entries if e.reverses_entry_id is not None}
        by_id = {e.id: e for e in entries}
        parties = await _parties(
            session, {a for e in entries for a in (e.debit_account_id, e.credit_account_id)}
        )
        lines: list[HistoryLine] = []
        balance = 0
        for entry in entries:
            credited = entry.credit_account_id == account.id
            signed = entry.minutes if credited else -entry.minutes
            balance += signed
            other = parties[entry.debit_account_id if credited else entry.credit_account_id]
            text = entry.reason or ""
            exchange_id = entry.exchange_id
            if entry.exchange_id is not None:
                text = descriptions.get(entry.exchange_id, "")
            elif entry.reverses_entry_id is not None:
                original = by_id.get(entry.reverses_entry_id)
                exchange_id = original.exchange_id if original else None
            lines.append(
                HistoryLine(
                    entry_id=entry.id,
                    at=entry.created_at,
                    kind=entry.kind,
                    minutes=signed,
                    counterpart=other,
                    text=text,
                    balance_after=balance,
                    exchange_id=exchange_id,
                    reversed=entry.id in reversed_ids,
                )
            )
        lines.reverse()
        return History(view, lines)


# --- statistics for organisers ----------------------------------------------------------------


@dataclass(frozen=True)
class StatsRow:
    month: str  # "2026-11", in the network's time zone
    region: str
    sector: str
    exchanges: int
    minutes: int
    active_members: int


@dataclass(frozen=True)
class Stats:
    """Hours exchanged (confirmed exchanges not reversed; corrections are not exchanges),
    attributed to the region and sector of the side that gave the help."""

    first_month: str
    last_month: str
    total_minutes: int
    total_exchanges: int
    active_members: int
    by_month: list[tuple[str, int, int, int]]  # month, minutes, exchanges, active members
    by_region: list[tuple[str, int]]
    by_sector: list[tuple[str, int]]
    rows: list[StatsRow]
    region_limited: str | None


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


async def stats(
    uow: UnitOfWork, actor: Actor, *, tz: ZoneInfo, now: dt.datetime, months: int = 12
) -> Stats:
    """Hours exchanged per month, region and sector over the last ``months`` months, and the
    number of active members (who gave or received help). Organisers only; an organiser for
    one region sees the help given in that region."""
    require_organiser(actor)
    limited_to = visible_region_ids(actor)
    local_today = now.astimezone(tz).date()
    first = _month_start(local_today, months - 1)
    since = dt.datetime(first.year, first.month, 1, tzinfo=tz).astimezone(dt.UTC)
    async with uow:
        session = uow.session
        reversed_ids = select(TimebankEntry.reverses_entry_id).where(
            TimebankEntry.reverses_entry_id.is_not(None)
        )
        rows = (
            await session.execute(
                select(
                    TimebankEntry.id,
                    TimebankEntry.created_at,
                    TimebankEntry.minutes,
                    TimebankEntry.credit_account_id,
                    TimebankEntry.debit_account_id,
                ).where(
                    TimebankEntry.kind == EntryKind.EXCHANGE,
                    TimebankEntry.created_at >= since,
                    TimebankEntry.id.not_in(reversed_ids),
                )
            )
        ).all()
        account_ids = {r.credit_account_id for r in rows} | {r.debit_account_id for r in rows}
        info: dict[int, tuple[int | None, int | None, str | None]] = {}
        if account_ids:
            for account_id, member_id, a_region, a_sector, m_region, m_sector in (
                await session.execute(
                    select(
                        TimebankAccount.id,
                        TimebankAccount.member_id,
                        TimebankAccount.region_id,
                        TimebankAccount.sector,
                        Member.region_id,
                        Member.sector,
                    )
                    .outerjoin(Member, Member.id == TimebankAccount.member_id)
                    .where(TimebankAccount.id.in_(account_ids))
                )
            ).all():
                if member_id is not None:
                    info[account_id] = (member_id, m_region, m_sector)
                else:
                    info[account_id] = (None, a_region, a_sector)
        region_names = dict((await session.execute(select(Region.id, Region.name))).all())
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0, set()])
    months_seen: dict[str, list[Any]] = defaultdict(lambda: [0, 0, set()])
    by_region: dict[str, int] = defaultdict(int)
    by_sector: dict[str, int] = defaultdict(int)
    active: set[int] = set()
    total_minutes = total_exchanges = 0
    for row in rows:
        giver_member, region_id, sector = info.get(row.credit_account_id, (None, None, None))
        if limited_to is not None and region_id != limited_to:
            continue
        receiver_member = info.get(row.debit_account_id, (None, None, None))[0]
        people = {m for m in (giver_member, receiver_member) if m is not None}
        month = row.created_at.astimezone(tz).strftime("%Y-%m")
        region = region_names.get(region_id, "") if region_id is not None else ""
        key = (month, region, sector or "")
        for bucket in (groups[key], months_seen[month]):
            bucket[0] += 1
            bucket[1] += row.minutes
            bucket[2].update(people)
        by_region[region] += row.minutes
        by_sector[sector or ""] += row.minutes
        active.update(people)
        total_minutes += row.minutes
        total_exchanges += 1
    all_months = [_month_start(local_today, back).strftime("%Y-%m") for back in range(months)]
    return Stats(
        first_month=all_months[-1],
        last_month=all_months[0],
        total_minutes=total_minutes,
        total_exchanges=total_exchanges,
        active_members=len(active),
        by_month=[
            (
                m,
                months_seen[m][1] if m in months_seen else 0,
                months_seen[m][0] if m in months_seen else 0,
                len(months_seen[m][2]) if m in months_seen else 0,
            )
            for m in reversed(all_months)
        ],
        by_region=sorted(by_region.items(), key=lambda item: (-item[1], item[0])),
        by_sector=sorted(by_sector.items(), key=lambda item: (-item[1], item[0])),
        rows=[
            StatsRow(month, region, sector, values[0], values[1], len(values[2]))
            for (month, region, sector), values in sorted(groups.items())
        ],
        region_limited=region_names.get(limited_to) if limited_to is not None else None,
    )


# --- data protection (for storage.privacy) ------------------------------------------------------


async def export_member(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """The member's timebank data for their export (call within privacy.export's session)."""
    account = await session.scalar(
        select(TimebankAccount).where(TimebankAccount.member_id == member_id)
    )
    listings = (
        await session.scalars(
            select(TimebankListing)
            .where(TimebankListing.member_id == member_id)
            .order_by(TimebankListing.id)
        )
    ).all()
    data: dict[str, Any] = {
        "balance_minutes": account.balance_minutes if account else 0,
        "listings": [
            {
                "kind": listing.kind,
                "title": listing.title,
                "description": listing.description,
                "status": listing.status,
                "created_at": listing.created_at.isoformat(),
            }
            for listing in listings
        ],
        "exchanges": [],
    }
    if account is not None:
        exchanges = (
            await session.scalars(
                select(TimebankExchange)
                .where(
                    or_(
                        TimebankExchange.giver_account_id == account.id,
                        TimebankExchange.receiver_account_id == account.id,
                    )
                )
                .order_by(TimebankExchange.id)
            )
        ).all()
        data["exchanges"] = [
            {
                "role": "gave" if e.giver_account_id == account.id else "received",
                "minutes": e.minutes,
                "description": e.description,
                "status": e.status,
                "created_at": e.created_at.isoformat(),
            }
            for e in exchanges
        ]
    return data


async def forget_member(session: AsyncSession, member_id: int, *, now: dt.datetime) -> None:
    """What erasure does to the timebank (call within privacy.erase's session).

    The account and its ledger entries stay (the zero sum must hold; the account is anonymous
    once the member row is). Listings lose their text and are deleted; pending contact
    requests and exchanges are closed; coordinator roles end.
    """
    listings = (
        await session.scalars(select(TimebankListing).where(TimebankListing.member_id == member_id))
    ).all()
    for listing in listings:
        listing.status = ListingStatus.DELETED
        listing.title = ""
        listing.description = ""
        listing.updated_at = now
    listing_ids = [listing.id for listing in listings]
    pending_contacts = (
        await session.scalars(
            select(TimebankContactRequest).where(
                TimebankContactRequest.status == ContactStatus.PENDING,
                or_(
                    TimebankContactRequest.requester_member_id == member_id,
                    TimebankContactRequest.listing_id.in_(listing_ids),
                ),
            )
        )
    ).all()
    for request in pending_contacts:
        request.status = ContactStatus.DECLINED
        request.decided_at = now
    account_id = await _existing_member_account(session, member_id)
    if account_id is not None:
        pending = (
            await session.scalars(
                select(TimebankExchange).where(
                    TimebankExchange.status == ExchangeStatus.PENDING,
                    or_(
                        TimebankExchange.giver_account_id == account_id,
                        TimebankExchange.receiver_account_id == account_id,
                    ),
                )
            )
        ).all()
        for exchange in pending:
            exchange.status = ExchangeStatus.CANCELLED
            exchange.decided_at = now
    for row in (
        await session.scalars(
            select(TimebankCoordinator).where(TimebankCoordinator.member_id == member_id)
        )
    ).all():
        await session.delete(row)
    await session.flush()


__all__ = [
    "AccountView",
    "BrowsePage",
    "CategoryView",
    "ContactResult",
    "Decision",
    "EntryView",
    "ExchangeView",
    "History",
    "HistoryLine",
    "LedgerCheck",
    "LimitExceeded",
    "ListingView",
    "Overview",
    "Party",
    "Policy",
    "Stats",
    "StatsRow",
]
