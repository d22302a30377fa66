"""Timebank accounts as their members see them: the /timebank overview (balances, what waits
for whom, recent exchanges), choosing the other side of an exchange (recent contacts, an
@username, organisation accounts), and an account's history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotAllowed, NotFound
from storage.models import (
    AccountKind,
    ContactStatus,
    ExchangeStatus,
    Member,
    TimebankAccount,
    TimebankContactRequest,
    TimebankEntry,
    TimebankExchange,
    TimebankListing,
)
from storage.permissions import Actor
from storage.rules import ascii_number
from storage.timebank.common import (
    AccountView,
    ExchangeView,
    Party,
    account_view,
    coordinated_accounts,
    ensure_member_account,
    exchange_views,
    exchanges_of,
    existing_member_account,
    live_member,
    load_parties,
    require_coordinator,
)
from storage.timebank.ledger import Policy
from storage.uow import UnitOfWork

RECENT_EXCHANGES = 5


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


# --- the overview ---------------------------------------------------------------------------


def _no_account_yet(member: Member, policy: Policy) -> AccountView:
    """What a member who has no account yet sees: a zero balance under the member limits."""
    return AccountView(
        0,
        AccountKind.MEMBER,
        member.name or "",
        member.id,
        0,
        policy.member_limits,
        member.region_id,
        member.sector,
    )


async def overview(uow: UnitOfWork, member_id: int, *, policy: Policy) -> Overview:
    """The member's balance, their organisations', pending exchanges both ways, recent ones."""
    async with uow:
        session = uow.session
        member = await live_member(session, member_id)
        account = await session.scalar(
            select(TimebankAccount).where(TimebankAccount.member_id == member_id)
        )
        if account is None:
            own = _no_account_yet(member, policy)
        else:
            own = await account_view(session, account, policy)
        organisations = [
            await account_view(session, a, policy)
            for a in await coordinated_accounts(session, member_id)
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
        views = await exchange_views(session, [*pending, *recent])
        pending_views, recent_views = views[: len(pending)], views[len(pending) :]
        to_confirm = [v for v in pending_views if v.counterpart.account_id in ids]
        waiting = [v for v in pending_views if v.counterpart.account_id not in ids]
        return Overview(own, organisations, to_confirm, waiting, recent_views)


# --- choosing the other side of an exchange ------------------------------------------------


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
        await require_coordinator(session, member_id, as_account_id)
        account_id: int | None = as_account_id
    else:
        account_id = await existing_member_account(session, member_id)
    if account_id is not None:
        rows = (
            await session.execute(
                select(
                    TimebankExchange.giver_account_id,
                    TimebankExchange.receiver_account_id,
                    TimebankExchange.created_at,
                ).where(
                    exchanges_of(account_id),
                    TimebankExchange.status.in_([ExchangeStatus.CONFIRMED, ExchangeStatus.PENDING]),
                )
            )
        ).all()
        parties = await load_parties(session, {a for g, r, _ in rows for a in (g, r)})
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
            found = await party_by_ref(session, ref)
            if found.is_organisation:
                return found
        for contact in await _recent_contacts(session, member_id, as_account_id):
            if contact.ref == ref:
                return contact
        raise NotFound("not_a_contact")


async def find_member(uow: UnitOfWork, username: str) -> Party:
    """The member with this Telegram @username (for choosing the other side of an exchange)."""
    async with uow:
        return await member_party(uow.session, await member_by_username(uow.session, username))


async def member_by_username(session: AsyncSession, username: str) -> Member:
    """The one current member with this Telegram @username."""
    name = username.strip().removeprefix("@").lower()
    if not name or len(name) > 64:
        raise NotFound("username_unknown", username=username.strip())
    # Usernames are kept current (storage.members.profiles.note_telegram_username): one member
    # holds a username at a time; should two still, neither is guessed.
    found = (
        await session.scalars(
            select(Member)
            .where(func.lower(Member.telegram_username) == name, Member.deleted_at.is_(None))
            .limit(2)
        )
    ).all()
    if len(found) != 1:
        raise NotFound("username_unknown", username="@" + name)
    return found[0]


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
        return [await account_view(uow.session, a, policy) for a in rows.all()]


async def member_party(session: AsyncSession, member: Member) -> Party:
    """A member as a party (account 0 while they have no account yet)."""
    account_id = await existing_member_account(session, member.id)
    return Party(
        account_id or 0, AccountKind.MEMBER, member.name or "", member.id, member.organisation
    )


async def party_by_ref(session: AsyncSession, ref: str) -> Party:
    """The party a reference ("m12": member 12, "a3": account 3) stands for."""
    kind, number = ref[:1], ref[1:]
    ref_id = ascii_number(number)
    if kind not in ("m", "a") or ref_id is None:
        raise NotFound("counterpart_not_found")
    if kind == "m":
        member = await session.get(Member, ref_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("counterpart_not_found")
        return await member_party(session, member)
    account = await session.get(TimebankAccount, ref_id)
    if account is None or not account.active:
        raise NotFound("counterpart_not_found")
    parties = await load_parties(session, [account.id])
    return parties[account.id]


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
    if account.id in {a.id for a in await coordinated_accounts(session, actor.member_id)}:
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
        member = await live_member(session, actor.member_id)
        account = await _viewable_account(session, actor, account_id)
        if account is None:
            return History(_no_account_yet(member, policy), [])
        return await history_of(session, account, policy)


async def history_of(session: AsyncSession, account: TimebankAccount, policy: Policy) -> History:
    """The account's entries, newest first, with the balance after each."""
    view = await account_view(session, account, policy)
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
    descriptions = await _exchange_descriptions(
        session, {e.exchange_id for e in entries if e.exchange_id is not None}
    )
    reversed_ids = {e.reverses_entry_id for e in entries if e.reverses_entry_id is not None}
    by_id = {e.id: e for e in entries}
    parties = await load_parties(
        session, {a for e in entries for a in (e.debit_account_id, e.credit_account_id)}
    )
    lines: list[HistoryLine] = []
    balance = 0
    for entry in entries:
        credited = entry.credit_account_id == account.id
        signed = entry.minutes if credited else -entry.minutes
        balance += signed
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
                counterpart=parties[
                    entry.debit_account_id if credited else entry.credit_account_id
                ],
                text=text,
                balance_after=balance,
                exchange_id=exchange_id,
                reversed=entry.id in reversed_ids,
            )
        )
    lines.reverse()
    return History(view, lines)


async def _exchange_descriptions(session: AsyncSession, exchange_ids: set[int]) -> dict[int, str]:
    if not exchange_ids:
        return {}
    rows = await session.execute(
        select(TimebankExchange.id, TimebankExchange.description).where(
            TimebankExchange.id.in_(exchange_ids)
        )
    )
    return {exchange_id: description for exchange_id, description in rows.all()}


AccountReference = int | str  # an account id, or "org:NUMBER" / "@username"


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
