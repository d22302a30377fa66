"""What a digest says: upcoming meetings, new timebank listings, and the member's balance.

Each section returns ``None`` when it has nothing for this member; ``SECTIONS`` lists them in
the order a digest shows them. Texts are in the member's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.digests.periods import Window
from storage.models import Member, Region
from storage.models.events import Event, EventStatus, Rsvp, RsvpStatus
from storage.models.timebank import ListingKind, ListingStatus, TimebankAccount, TimebankListing
from templates.formatting import format_when, hours_text
from templates.i18n import N_, translator

MAX_ITEMS = 10

SectionBuilder = Callable[[AsyncSession, Member, Window], Awaitable[Any]]
# name -> (builder, is news). A section that is not news (e.g. the balance) is shown only when
# some news section has something: on its own it is no reason to send a mail.
Sections = Mapping[str, tuple[SectionBuilder, bool]]

RSVP_LABELS: dict[str, str] = {
    RsvpStatus.GOING: N_("You are going."),
    RsvpStatus.MAYBE: N_("You answered maybe."),
    RsvpStatus.WAITLIST: N_("You are on the waiting list."),
}
LISTING_KINDS: dict[str, str] = {
    ListingKind.OFFER: N_("Offer"),
    ListingKind.REQUEST: N_("Request"),
}


def _in_region(column: Any, member: Member) -> Any:
    """Things in the member's region, and those for the whole network (no region)."""
    if member.region_id is None:
        return column.is_(None)
    return or_(column == member.region_id, column.is_(None))


async def upcoming_events(
    session: AsyncSession, member: Member, span: Window
) -> list[dict[str, Any]] | None:
    """The meetings of the coming weeks (up to ``span.until``), then those further ahead that
    were published since the member's previous digest; those published since are marked new."""
    t = translator(member.language)
    query = (
        select(Event, Rsvp.status)
        .outerjoin(Rsvp, (Rsvp.event_id == Event.id) & (Rsvp.member_id == member.id))
        .where(
            Event.status == EventStatus.PUBLISHED,
            Event.starts_at > span.now,
            _in_region(Event.region_id, member),
        )
        .order_by(Event.starts_at, Event.id)
        .limit(MAX_ITEMS)
    )
    soon = (await session.execute(query.where(Event.starts_at <= span.until))).all()
    later = (
        await session.execute(
            query.where(Event.starts_at > span.until, Event.created_at >= span.new_since)
        )
    ).all()
    items = []
    for event, status in [*soon, *later]:
        label = RSVP_LABELS.get(status) if status else None
        items.append(
            {
                "title": event.title,
                "when": format_when(
                    event.starts_at,
                    event.ends_at,
                    tz=ZoneInfo(event.timezone),
                    language=member.language,
                ),
                "place": event.location or "",
                "online_url": event.online_url or "",
                "new": t("New") if _aware(event.created_at) >= span.new_since else "",
                "status": t(label) if label else "",
                "event_id": event.id,
                "link": f"https://t.me/{span.bot_username}?start=event_{event.id}"
                if span.bot_username
                else "",
            }
        )
    return items or None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def new_listings(
    session: AsyncSession, member: Member, span: Window
) -> list[dict[str, Any]] | None:
    t = translator(member.language)
    rows = (
        await session.execute(
            select(TimebankListing, Region.name)
            .outerjoin(Region, Region.id == TimebankListing.region_id)
            .where(
                TimebankListing.status == ListingStatus.ACTIVE,
                TimebankListing.created_at >= span.since,
                TimebankListing.member_id != member.id,
                _in_region(TimebankListing.region_id, member),
            )
            .order_by(TimebankListing.created_at.desc(), TimebankListing.id.desc())
            .limit(MAX_ITEMS)
        )
    ).all()
    items = [
        {
            "kind": t(LISTING_KINDS.get(listing.kind, listing.kind)),
            "title": listing.title,
            "region": region_name or "",
        }
        for listing, region_name in rows
    ]
    return items or None


async def balance(session: AsyncSession, member: Member, span: Window) -> dict[str, str] | None:
    minutes = await session.scalar(
        select(TimebankAccount.balance_minutes).where(TimebankAccount.member_id == member.id)
    )
    if minutes is None:
        return None
    return {"hours": hours_text(translator(member.language), minutes)}


SECTIONS: Sections = {
    "events": (upcoming_events, True),
    "listings": (new_listings, True),
    "balance": (balance, False),
}
