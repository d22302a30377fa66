"""The timebank's part of data protection: what a member's export holds, and what erasure
does to their listings, contact requests, pending exchanges and coordinator roles (called by
``storage.privacy`` within its own transaction)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ContactStatus,
    ExchangeStatus,
    ListingStatus,
    TimebankAccount,
    TimebankContactRequest,
    TimebankCoordinator,
    TimebankExchange,
    TimebankListing,
)
from storage.timebank.common import exchanges_of, existing_member_account


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
        "contact_requests": await _contact_requests(session, member_id),
        "coordinates": list(
            (
                await session.scalars(
                    select(TimebankAccount.name)
                    .join(TimebankCoordinator, TimebankCoordinator.account_id == TimebankAccount.id)
                    .where(TimebankCoordinator.member_id == member_id)
                    .order_by(TimebankAccount.name)
                )
            ).all()
        ),
    }
    if account is not None:
        exchanges = (
            await session.scalars(
                select(TimebankExchange)
                .where(exchanges_of(account.id))
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


async def _contact_requests(session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
    """Contact requests the member sent, and those sent to the member's listings (without the
    other person's name: that is theirs)."""
    rows = (
        await session.execute(
            select(TimebankContactRequest, TimebankListing)
            .join(TimebankListing, TimebankListing.id == TimebankContactRequest.listing_id)
            .where(
                (TimebankContactRequest.requester_member_id == member_id)
                | (TimebankListing.member_id == member_id)
            )
            .order_by(TimebankContactRequest.id)
        )
    ).all()
    return [
        {
            "direction": "sent" if request.requester_member_id == member_id else "received",
            "listing": listing.title,
            "status": request.status,
            "created_at": request.created_at.isoformat(),
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        }
        for request, listing in rows
    ]


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
    account_id = await existing_member_account(session, member_id)
    if account_id is not None:
        pending = (
            await session.scalars(
                select(TimebankExchange).where(
                    TimebankExchange.status == ExchangeStatus.PENDING,
                    exchanges_of(account_id),
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
