"""What a digest says: upcoming meetings, new timebank listings, and the member's balance.

A section composes its part for a whole batch of members at once, in a few queries whatever the
batch's size: it gets the batch's ``Recipient``\\s (each member with their own window: the
previous digest differs from member to member) and returns each member's part, by member id; a
member it has nothing for is left out. ``SECTIONS`` lists them in the order a digest shows them.
Texts are in each member's language.

Region rule (``_in_region``): a member sees what is in their region and what is for the whole
network (no region); a member without a region sees only the latter.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage.digests.periods import Window
from storage.models import Member, Region
from storage.models.events import Event, EventStatus, Rsvp, RsvpStatus
from storage.models.timebank import ListingKind, ListingStatus, TimebankAccount, TimebankListing
from templates.formatting import format_when, hours_text
from templates.i18n import N_, translator

MAX_ITEMS = 10


@dataclass(frozen=True)
class Recipient:
    """One member of a batch, with the window of their digest."""

    member: Member
    span: Window


SectionBuilder = Callable[[AsyncSession, Sequence[Recipient]], Awaitable[Mapping[int, Any]]]
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

K = TypeVar("K")


def _grouped(
    recipients: Iterable[Recipient], key: Callable[[Window], K]
) -> dict[K, list[Recipient]]:
    """The recipients by what their windows share (in one run: one group)."""
    groups: dict[K, list[Recipient]] = defaultdict(list)
    for recipient in recipients:
        groups[key(recipient.span)].append(recipient)
    return groups


def _batch_regions(column: Any, recipients: Iterable[Recipient]) -> Any:
    """Things in any of these members' regions, and those for the whole network (no region)."""
    regions = {r.member.region_id for r in recipients if r.member.region_id is not None}
    return or_(column.in_(sorted(regions)), column.is_(None))


def _in_region(region_id: int | None, member: Member) -> bool:
    """Is a thing in ``region_id`` (None: the whole network) for this member?"""
    return region_id is None or region_id == member.region_id


async def upcoming_events(
    session: AsyncSession, recipients: Sequence[Recipient]
) -> dict[int, list[dict[str, Any]]]:
    """The meetings of the coming weeks (up to ``span.until``), then those further ahead that
    were published since the member's previous digest; those published since are marked new.

    Per window (in one run: one), one query for the meetings every member of the batch may
    need (``_meetings``), then one for the batch's answers to those chosen."""
    chosen: dict[int, list[Event]] = {}
    for (now, until), group in _grouped(recipients, lambda s: (s.now, s.until)).items():
        meetings = await _meetings(session, group, now, until)
        soon = [e for e in meetings if e.starts_at <= until]
        later = [e for e in meetings if e.starts_at > until]
        for recipient in group:
            member, new_since = recipient.member, recipient.span.new_since
            mine = [e for e in soon if _in_region(e.region_id, member)][:MAX_ITEMS]
            mine += [
                e for e in later if _in_region(e.region_id, member) and e.created_at >= new_since
            ][:MAX_ITEMS]
            if mine:
                chosen[member.id] = mine
    answers = await _answers(session, chosen)
    when: dict[tuple[int, str], str] = {}  # (event, language) -> its time, formatted once
    digests: dict[int, list[dict[str, Any]]] = {}
    for recipient in recipients:
        member, span = recipient.member, recipient.span
        t = translator(member.language)
        items = []
        for event in chosen.get(member.id, []):
            if (event.id, member.language) not in when:
                when[event.id, member.language] = format_when(
                    event.starts_at,
                    event.ends_at,
                    tz=ZoneInfo(event.timezone),
                    language=member.language,
                )
            label = RSVP_LABELS.get(answers.get((event.id, member.id), ""))
            items.append(
                {
                    "title": event.title,
                    "when": when[event.id, member.language],
                    "place": event.location or "",
                    "online_url": event.online_url or "",
                    "new": t("New") if event.created_at >= span.new_since else "",
                    "status": t(label) if label else "",
                    "event_id": event.id,
                    "link": f"https://t.me/{span.bot_username}?start=event_{event.id}"
                    if span.bot_username
                    else "",
                }
            )
        if items:
            digests[member.id] = items
    return digests


THRESHOLDS = 50  # previous-digest times per statement in ``_meetings``


async def _meetings(
    session: AsyncSession, recipients: Sequence[Recipient], now: dt.datetime, until: dt.datetime
) -> list[Event]:
    """The published meetings these members may see, in time order: of each of their regions,
    and of the whole network, the first ``MAX_ITEMS`` between ``now`` and ``until``, and for
    each time a previous digest of theirs was queued (most members of a batch share a few), the
    first ``MAX_ITEMS`` after ``until`` published since then. Each member's meetings are among
    them, and they are at most ``MAX_ITEMS`` a region and time, whatever the network's size."""
    order = (Event.starts_at, Event.id)

    def first(*where: Any) -> Any:
        return select(
            Event.id,
            func.row_number().over(partition_by=Event.region_id, order_by=order).label("rank"),
        ).where(
            Event.status == EventStatus.PUBLISHED,
            _batch_regions(Event.region_id, recipients),
            *where,
        )

    thresholds = sorted({r.span.new_since for r in recipients})
    found: dict[int, Event] = {}
    for start in range(0, len(thresholds), THRESHOLDS):
        parts = [
            first(Event.starts_at > until, Event.created_at >= since)
            for since in thresholds[start : start + THRESHOLDS]
        ]
        if start == 0:
            parts.append(first(Event.starts_at > now, Event.starts_at <= until))
        ranked = union_all(*parts).subquery()
        chosen = select(ranked.c.id).where(ranked.c.rank <= MAX_ITEMS)
        for event in await session.scalars(select(Event).where(Event.id.in_(chosen))):
            found[event.id] = event
    return sorted(found.values(), key=lambda e: (e.starts_at, e.id))


async def _answers(
    session: AsyncSession, chosen: Mapping[int, Sequence[Event]]
) -> dict[tuple[int, int | None], str]:
    """The members' answers (RSVP status) to the meetings chosen for them, by (event, member)."""
    events = {event.id for mine in chosen.values() for event in mine}
    if not events:
        return {}
    rows = await session.execute(
        select(Rsvp.event_id, Rsvp.member_id, Rsvp.status).where(
            Rsvp.member_id.in_(sorted(chosen)), Rsvp.event_id.in_(sorted(events))
        )
    )
    return {(event_id, member_id): status for event_id, member_id, status in rows}


async def new_listings(
    session: AsyncSession, recipients: Sequence[Recipient]
) -> dict[int, list[dict[str, Any]]]:
    """The timebank listings posted since ``span.since`` by others, newest first. One query per
    window (in one run: one): in each region of the batch (and the whole network), the newest
    ``MAX_ITEMS`` and as many more as the most any member of the batch posted there since: each
    member's newest ``MAX_ITEMS`` by others are among them."""
    digests: dict[int, list[dict[str, Any]]] = {}
    for since, group in _grouped(recipients, lambda s: s.since).items():
        new = (
            TimebankListing.status == ListingStatus.ACTIVE,
            TimebankListing.created_at >= since,
            _batch_regions(TimebankListing.region_id, group),
        )
        order = (TimebankListing.created_at.desc(), TimebankListing.id.desc())
        own = (
            select(func.count().label("posted"))
            .where(*new, TimebankListing.member_id.in_([r.member.id for r in group]))
            .group_by(TimebankListing.member_id)
            .subquery()
        )
        ranked = (
            select(
                TimebankListing.id,
                func.row_number()
                .over(partition_by=TimebankListing.region_id, order_by=order)
                .label("rank"),
            )
            .where(*new)
            .subquery()
        )
        most_own = select(func.coalesce(func.max(own.c.posted), 0)).scalar_subquery()
        rows = (
            await session.execute(
                select(TimebankListing, Region.name)
                .join(ranked, ranked.c.id == TimebankListing.id)
                .outerjoin(Region, Region.id == TimebankListing.region_id)
                .where(ranked.c.rank <= MAX_ITEMS + most_own)
                .order_by(*order)
            )
        ).all()
        for recipient in group:
            member = recipient.member
            t = translator(member.language)
            items = [
                {
                    "kind": t(LISTING_KINDS.get(listing.kind, listing.kind)),
                    "title": listing.title,
                    "region": region_name or "",
                }
                for listing, region_name in rows
                if listing.member_id != member.id and _in_region(listing.region_id, member)
            ][:MAX_ITEMS]
            if items:
                digests[member.id] = items
    return digests


async def balance(
    session: AsyncSession, recipients: Sequence[Recipient]
) -> dict[int, dict[str, str]]:
    """Each member's timebank balance (members without an account: none). One query."""
    members = {r.member.id: r.member for r in recipients}
    rows = await session.execute(
        select(TimebankAccount.member_id, TimebankAccount.balance_minutes).where(
            TimebankAccount.member_id.in_(sorted(members))
        )
    )
    return {
        member_id: {"hours": hours_text(translator(members[member_id].language), minutes)}
        for member_id, minutes in rows
        if member_id is not None and minutes is not None
    }


SECTIONS: Sections = {
    "events": (upcoming_events, True),
    "listings": (new_listings, True),
    "balance": (balance, False),
}
