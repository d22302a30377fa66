"""Timebank exchanges: logging hours ("I helped X", "X helped me"), and what follows: the other
side confirms (the hours move) or declines, the side who logged it withdraws it, or nobody
answers in time and it expires (storage.timebank.expiry, run by the scheduler)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import (
    EntryKind,
    ExchangeStatus,
    Member,
    TimebankAccount,
    TimebankExchange,
    TimebankListing,
)
from storage.rules import clean_text
from storage.timebank import expiry
from storage.timebank.accounts import party_by_ref
from storage.timebank.common import (
    Buttons,
    ExchangeView,
    RenderButtons,
    ensure_member_account,
    exchange_view,
    insert_once,
    live_member,
    notify,
    people_acting_for,
    require_coordinator,
)
from storage.timebank.ledger import Policy, validate_minutes
from storage.timebank.posting import check_limits, post_entry
from storage.uow import UnitOfWork, retry_conflicts
from templates.formatting import balance_line, hours_text, party_name
from templates.i18n import Translator

DESCRIPTION_MAX = 200
Direction = Literal["gave", "received"]


@dataclass(frozen=True)
class Decision:
    """The outcome of confirm/decline/cancel. ``changed`` is False when it had already been
    decided the same way (a double tap); ``balances`` are those after a confirmation."""

    exchange: ExchangeView
    changed: bool
    balances: dict[int, int] = field(default_factory=dict)


def validate_description(value: str) -> str:
    """The short description of an exchange ("grant-writing help for the food co-op")."""
    text = clean_text(value)
    if not text:
        raise InvalidInput("description_empty")
    if len(text) > DESCRIPTION_MAX:
        raise InvalidInput("description_too_long", max=DESCRIPTION_MAX)
    return text


# --- the request to confirm ----------------------------------------------------------------


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


# --- logging --------------------------------------------------------------------------------


async def _sides(
    session: AsyncSession,
    member_id: int,
    *,
    other: str,
    as_account_id: int | None,
    now: dt.datetime,
) -> tuple[int, int, list[Member]]:
    """The account the member logs for, the other side's account, and who confirms for it
    (accounts of members are made if needed)."""
    if as_account_id:
        await require_coordinator(session, member_id, as_account_id)
        mine = as_account_id
    else:
        mine = await ensure_member_account(session, member_id, now)
    counterpart = await party_by_ref(session, other)
    if counterpart.member_id is not None:
        theirs = await ensure_member_account(session, counterpart.member_id, now)
    else:
        theirs = counterpart.account_id
    confirmers = await people_acting_for(session, theirs)
    if theirs == mine or member_id in {p.id for p in confirmers}:
        raise InvalidInput("self_exchange")
    if not confirmers:
        raise InvalidInput("nobody_to_confirm")
    return mine, theirs, confirmers


async def _check_current_balances(
    session: AsyncSession, giver: int, receiver: int, minutes: int, policy: Policy
) -> None:
    """Refuse up front an exchange the balances already rule out (confirming checks again,
    under the accounts' locks)."""
    accounts = {
        a.id: a
        for a in (
            await session.scalars(
                select(TimebankAccount).where(TimebankAccount.id.in_([giver, receiver]))
            )
        ).all()
    }
    await check_limits(session, accounts[receiver], accounts[giver], minutes, policy)


async def _log(
    session: AsyncSession,
    exchange: TimebankExchange,
    confirmers: list[Member],
    *,
    now: dt.datetime,
) -> ExchangeView:
    """The exchange just made is audited and the other side asked to confirm it."""
    view = await exchange_view(session, exchange)
    audit.record(
        session,
        "timebank.exchange_logged",
        now=now,
        member_id=exchange.initiated_by_member_id,
        actor_member_id=exchange.initiated_by_member_id,
        exchange_id=exchange.id,
        giver_account_id=exchange.giver_account_id,
        receiver_account_id=exchange.receiver_account_id,
        minutes=exchange.minutes,
    )
    await notify(
        session,
        confirmers,
        key=f"tb:confirm:{exchange.id}",
        now=now,
        render=lambda t, _p: _confirm_request_text(t, view),
        buttons=_confirm_buttons(exchange.id),
    )
    return view


@retry_conflicts
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
        same_request = None
        if request_key is not None:
            same_request = select(TimebankExchange).where(
                TimebankExchange.request_key == request_key
            )
            existing = await session.scalar(same_request)
            if existing is not None:
                return await exchange_view(session, existing)
        member = await live_member(session, member_id)
        mine, theirs, confirmers = await _sides(
            session, member_id, other=other, as_account_id=as_account_id, now=now
        )
        if listing_id is not None and await session.get(TimebankListing, listing_id) is None:
            listing_id = None
        giver, receiver = (mine, theirs) if direction == "gave" else (theirs, mine)
        await _check_current_balances(session, giver, receiver, minutes, policy)
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
        twin = await insert_once(session, exchange, same_request)
        if twin is not None:
            # The same Send pressed twice at the same moment: the other press made it.
            return await exchange_view(session, twin)
        view = await _log(session, exchange, confirmers, now=now)
        await uow.commit()
        return view


# --- answering ------------------------------------------------------------------------------


async def _locked_exchange(session: AsyncSession, exchange_id: int) -> TimebankExchange:
    exchange = await session.scalar(
        select(TimebankExchange)
        .where(TimebankExchange.id == exchange_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if exchange is None:
        raise NotFound("exchange_not_found")
    return exchange


def _counterpart_account_id(exchange: TimebankExchange) -> int:
    """The side asked to confirm or decline: not the one that logged the exchange."""
    return (
        exchange.receiver_account_id
        if exchange.initiator_account_id == exchange.giver_account_id
        else exchange.giver_account_id
    )


async def _acts_for(session: AsyncSession, member_id: int, account_id: int) -> bool:
    return member_id in {p.id for p in await people_acting_for(session, account_id)}


async def _exchange_to_answer(
    session: AsyncSession, member_id: int, exchange_id: int
) -> TimebankExchange:
    """The exchange, locked, if the member acts for the side asked to confirm or decline it."""
    await live_member(session, member_id)
    exchange = await _locked_exchange(session, exchange_id)
    if not await _acts_for(session, member_id, _counterpart_account_id(exchange)):
        raise NotAllowed("not_your_confirmation")
    return exchange


async def _tell_confirmed(
    session: AsyncSession, exchange: TimebankExchange, balances: dict[int, int], *, now: dt.datetime
) -> ExchangeView:
    """Tell the side who logged the exchange that it was confirmed, with their new balance."""
    view = await exchange_view(session, exchange)
    initiator = view.initiator
    await notify(
        session,
        await people_acting_for(session, initiator.account_id),
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
            + balance_line(t, initiator, balances[initiator.account_id])
        ),
    )
    return view


@retry_conflicts
async def confirm(
    uow: UnitOfWork, member_id: int, exchange_id: int, *, policy: Policy, now: dt.datetime
) -> Decision:
    """The other side confirms: the hours move (once, however often Confirm is pressed).

    Refused with ``LimitExceeded`` (the exchange stays pending) if a balance would cross its
    limit; an exchange older than the expiry period expires here instead.
    """
    async with uow:
        session = uow.session
        exchange = await _exchange_to_answer(session, member_id, exchange_id)
        if exchange.status == ExchangeStatus.CONFIRMED:
            view = await exchange_view(session, exchange)
            return Decision(view, changed=False)
        if exchange.status != ExchangeStatus.PENDING:
            raise InvalidInput(f"exchange_{exchange.status}")
        if exchange.created_at + policy.expiry <= now:
            await expiry.expire(session, exchange, policy=policy, now=now)
            await uow.commit()
            raise InvalidInput("exchange_expired")
        entry, balances = await post_entry(
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
        view = await _tell_confirmed(session, exchange, balances, now=now)
        await uow.commit()
        return Decision(view, changed=True, balances=balances)


async def _close_pending(
    uow: UnitOfWork,
    exchange: TimebankExchange,
    status: ExchangeStatus,
    *,
    member_id: int,
    now: dt.datetime,
    tell_account_id: int,
    key: str,
    notice: Callable[[Translator, ExchangeView], str],
) -> Decision:
    """Decline or withdraw a pending exchange (audited), tell the people acting for
    ``tell_account_id`` (``notice``, under ``key``) and commit. If it already had ``status``
    (a double tap), nothing changes."""
    session = uow.session
    if exchange.status == status:
        return Decision(await exchange_view(session, exchange), changed=False)
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
    view = await exchange_view(session, exchange)
    await notify(
        session,
        await people_acting_for(session, tell_account_id),
        key=key,
        now=now,
        render=lambda t, _p: notice(t, view),
    )
    await uow.commit()
    return Decision(view, changed=True)


@retry_conflicts
async def decline(
    uow: UnitOfWork, member_id: int, exchange_id: int, *, now: dt.datetime
) -> Decision:
    """The other side declines: nothing moves, the side who logged it is told."""
    async with uow:
        exchange = await _exchange_to_answer(uow.session, member_id, exchange_id)
        return await _close_pending(
            uow,
            exchange,
            ExchangeStatus.DECLINED,
            member_id=member_id,
            now=now,
            tell_account_id=exchange.initiator_account_id,
            key=f"tb:declined:{exchange.id}",
            notice=lambda t, view: t(
                "{name} declined the exchange: {hours}, “{description}”. No hours were moved.",
                name=party_name(t, view.counterpart),
                hours=hours_text(t, view.minutes),
                description=view.description,
            ),
        )


@retry_conflicts
async def cancel(
    uow: UnitOfWork, member_id: int, exchange_id: int, *, now: dt.datetime
) -> Decision:
    """The side who logged an exchange withdraws it while it is pending."""
    async with uow:
        session = uow.session
        await live_member(session, member_id)
        exchange = await _locked_exchange(session, exchange_id)
        if not await _acts_for(session, member_id, exchange.initiator_account_id):
            raise NotAllowed("not_your_exchange")
        return await _close_pending(
            uow,
            exchange,
            ExchangeStatus.CANCELLED,
            member_id=member_id,
            now=now,
            tell_account_id=_counterpart_account_id(exchange),
            key=f"tb:cancelled:{exchange.id}",
            notice=lambda t, view: t(
                "{name} withdrew the exchange: {hours}, “{description}”. No hours were moved.",
                name=party_name(t, view.initiator),
                hours=hours_text(t, view.minutes),
                description=view.description,
            ),
        )
