"""Timebank exchanges nobody confirmed in time expire: nothing moves, and the people acting
for both sides are told. ``expire_due`` runs in the scheduler; confirming an exchange that is
too old expires it there and then (``expire``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import ExchangeStatus, TimebankExchange
from storage.timebank.common import ExchangeView, exchange_view, notify, people_acting_for
from storage.timebank.ledger import Policy
from storage.uow import UnitOfWork, retry_conflicts
from templates.formatting import hours_text, party_name
from templates.i18n import Translator


async def expire(
    session: AsyncSession, exchange: TimebankExchange, *, policy: Policy, now: dt.datetime
) -> None:
    """The exchange (locked by the caller) expires; both sides are told."""
    exchange.status = ExchangeStatus.EXPIRED
    exchange.decided_at = now
    await session.flush()
    view = await exchange_view(session, exchange)
    audit.record(session, "timebank.exchange_expired", now=now, exchange_id=exchange.id)
    people = [
        *await people_acting_for(session, exchange.giver_account_id),
        *await people_acting_for(session, exchange.receiver_account_id),
    ]
    await notify(
        session,
        people,
        key=f"tb:expired:{exchange.id}",
        now=now,
        render=lambda t, _p: _expired_text(t, view, policy.expiry.days),
    )


def _expired_text(t: Translator, view: ExchangeView, days: int) -> str:
    # The names are worked out first: Babel's extractor misreads a plural call with ``t``
    # among its arguments as a singular message.
    hours, giver, receiver = (
        hours_text(t, view.minutes),
        party_name(t, view.giver),
        party_name(t, view.receiver),
    )
    return t.plural(
        "The exchange of {hours} between {giver} and {receiver}, “{description}”, was not "
        "confirmed within {n} day and has expired. No hours were moved.",
        "The exchange of {hours} between {giver} and {receiver}, “{description}”, was not "
        "confirmed within {n} days and has expired. No hours were moved.",
        days,
        hours=hours,
        giver=giver,
        receiver=receiver,
        description=view.description,
    )


@retry_conflicts
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
            await expire(session, exchange, policy=policy, now=now)
        await uow.commit()
        return len(due)
