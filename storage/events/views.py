"""Events as members and organisers see them: what callers get back (``EventView``, a member's
``Answer``), one event, the upcoming ones page by page, a member's own, an organiser's, the
public calendar feeds; and the Telegram reminders owed to members going.

The other use cases have their own modules: storage.events.publishing (publish, edit, cancel),
storage.events.rsvps (answers, seats, the waiting list), storage.events.attendance (attendee
lists and check-in), storage.events.stats (figures for funders) and storage.events.notices (what
a change owes people: calendar invites by e-mail and Telegram notices, written to the outbox in
the same transaction under a unique key, so a retry or a double tap sends nothing twice).

The helpers below that load an event (``load``, with its row lock), count its answers
(``counts``) and build a view (``view_of``) are shared by those modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotFound
from storage.events import notices, programme, rules
from storage.models import CheckIn, Event, EventStatus, Member, Region, Rsvp, RsvpStatus
from storage.permissions import Actor, require_organiser, visible_region_ids
from storage.uow import UnitOfWork
from templates.i18n import translator

PAGE_SIZE = 5
FEED_PAST = dt.timedelta(days=90)


# --- what callers get back ----------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    id: int
    uid: str
    title: str
    description: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    timezone: str
    location: str | None
    online_url: str | None
    region_id: int | None
    region_name: str | None
    capacity: int | None
    rsvp_deadline: dt.datetime | None
    status: str
    sequence: int
    checkin_code: str
    cancel_message: str | None
    going: int = 0
    maybe: int = 0
    waitlist: int = 0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    @property
    def seats_left(self) -> int | None:
        return rules.seats_left(self.capacity, self.going)


@dataclass(frozen=True)
class Answer:
    """A member's own answer to an event."""

    status: str
    position: int | None = None  # on the waiting list: 1 is next
    checked_in: bool = False


@dataclass(frozen=True)
class EventCard:
    event: EventView
    answer: Answer | None
    programme: list[str] = field(default_factory=list)  # compact lines, see events.programme


@dataclass(frozen=True)
class EventPage:
    events: list[EventView]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Feed:
    name: str
    events: list[EventView] = field(default_factory=list)


# --- loading, shared by the event modules ----------------------------------------------------


def view_of(
    event: Event, region_name: str | None, counts: dict[str, int] | None = None
) -> EventView:
    counts = counts or {}
    return EventView(
        id=event.id,
        uid=event.uid,
        title=event.title,
        description=event.description,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        location=event.location,
        online_url=event.online_url,
        region_id=event.region_id,
        region_name=region_name,
        capacity=event.capacity,
        rsvp_deadline=event.rsvp_deadline,
        status=event.status,
        sequence=event.sequence,
        checkin_code=event.checkin_code,
        cancel_message=event.cancel_message,
        going=counts.get(RsvpStatus.GOING, 0),
        maybe=counts.get(RsvpStatus.MAYBE, 0),
        waitlist=counts.get(RsvpStatus.WAITLIST, 0),
    )


def with_region() -> Any:
    """Events with their region's name (None for the whole network)."""
    return select(Event, Region.name).outerjoin(Region, Event.region_id == Region.id)


async def load(session: AsyncSession, event_id: int, *, lock: bool) -> tuple[Event, str | None]:
    """The event and its region's name; with ``lock``, the event's row stays locked until the
    transaction ends (every change of seats for this event queues behind it)."""
    statement = with_region().where(Event.id == event_id)
    if lock:
        statement = statement.with_for_update(of=Event, key_share=True)
    row = (await session.execute(statement)).first()
    if row is None:
        raise NotFound("event_not_found")
    return row[0], row[1]


async def counts(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How many members hold each status, by event."""
    result: dict[int, dict[str, int]] = {event_id: {} for event_id in event_ids}
    if not event_ids:
        return result
    rows = await session.execute(
        select(Rsvp.event_id, Rsvp.status, func.count())
        .where(Rsvp.event_id.in_(event_ids))
        .group_by(Rsvp.event_id, Rsvp.status)
    )
    for event_id, status, count in rows.all():
        result[event_id][status] = count
    return result


async def view_with_counts(
    session: AsyncSession, event: Event, region_name: str | None
) -> EventView:
    return view_of(event, region_name, (await counts(session, [event.id]))[event.id])


async def waitlist_position(session: AsyncSession, rsvp: Rsvp) -> int:
    """1 for the first on the waiting list."""
    assert rsvp.waitlist_since is not None
    ahead = await session.scalar(
        select(func.count())
        .select_from(Rsvp)
        .where(
            Rsvp.event_id == rsvp.event_id,
            Rsvp.status == RsvpStatus.WAITLIST,
            or_(
                Rsvp.waitlist_since < rsvp.waitlist_since,
                and_(Rsvp.waitlist_since == rsvp.waitlist_since, Rsvp.id < rsvp.id),
            ),
        )
    )
    return int(ahead or 0) + 1


async def answer_of(session: AsyncSession, rsvp: Rsvp, status: str) -> Answer:
    """The member's answer ``status``, with their place in line when they are waiting."""
    position = await waitlist_position(session, rsvp) if status == RsvpStatus.WAITLIST else None
    return Answer(status, position)


async def rsvp_of(session: AsyncSession, event_id: int, member_id: int) -> Rsvp | None:
    return await session.scalar(
        select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.member_id == member_id)
    )


async def checked_in(session: AsyncSession, event_id: int, member_id: int) -> bool:
    return (
        await session.scalar(
            select(CheckIn.id).where(CheckIn.event_id == event_id, CheckIn.member_id == member_id)
        )
        is not None
    )


async def rsvps_with_members(session: AsyncSession, event_id: int) -> list[tuple[Rsvp, Member]]:
    """Every answer to the event, with the member who gave it, oldest first."""
    rows = await session.execute(
        select(Rsvp, Member)
        .join(Member, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event_id)
        .order_by(Rsvp.id)
    )
    return [(rsvp, member) for rsvp, member in rows.all()]


async def active_region_name(session: AsyncSession, region_id: int | None) -> str | None:
    """The region's name, or None for the whole network; an unknown or closed region is an
    error."""
    if region_id is None:
        return None
    region = await session.get(Region, region_id)
    if region is None or not region.active:
        raise InvalidInput("region_unknown")
    return region.name


# --- reading -----------------------------------------------------------------------------------


async def _answer(session: AsyncSession, event_id: int, member_id: int | None) -> Answer | None:
    if member_id is None:
        return None
    rsvp = await rsvp_of(session, event_id, member_id)
    present = await checked_in(session, event_id, member_id)
    if rsvp is None:
        return Answer(RsvpStatus.NOT_GOING, checked_in=True) if present else None
    position = (
        await waitlist_position(session, rsvp) if rsvp.status == RsvpStatus.WAITLIST else None
    )
    return Answer(rsvp.status, position, present)


async def get_card(uow: UnitOfWork, event_id: int, *, member_id: int | None) -> EventCard:
    """An event as a member sees it, with their own answer."""
    async with uow:
        event, region_name = await load(uow.session, event_id, lock=False)
        return EventCard(
            await view_with_counts(uow.session, event, region_name),
            await _answer(uow.session, event.id, member_id),
            await programme_lines(uow.session, event.id),
        )


async def programme_lines(session: AsyncSession, event_id: int) -> list[str]:
    return [item.compact() for item in await programme.items_of(session, event_id)]


async def get(uow: UnitOfWork, event_id: int) -> EventView:
    return (await get_card(uow, event_id, member_id=None)).event


async def list_upcoming(
    uow: UnitOfWork,
    *,
    region_id: int | None,
    all_regions: bool,
    now: dt.datetime,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> EventPage:
    """Published events that have not ended, soonest first: those of ``region_id`` and of the
    whole network, or (``all_regions``) every one."""
    async with uow:
        condition = and_(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
        if not all_regions:
            condition = and_(
                condition,
                or_(Event.region_id.is_(None), Event.region_id == region_id)
                if region_id is not None
                else Event.region_id.is_(None),
            )
        total = int(
            await uow.session.scalar(select(func.count()).select_from(Event).where(condition)) or 0
        )
        pages = max(1, -(-total // page_size))
        page = min(max(page, 0), pages - 1)
        rows = (
            await uow.session.execute(
                with_region()
                .where(condition)
                .order_by(Event.starts_at, Event.id)
                .offset(page * page_size)
                .limit(page_size)
            )
        ).all()
        return EventPage(await _views(uow.session, rows), total, page, pages)


async def _views(session: AsyncSession, rows: Sequence[Any]) -> list[EventView]:
    """Views with their counts, of rows from ``with_region()``."""
    found = await counts(session, [row[0].id for row in rows])
    return [view_of(event, name, found[event.id]) for event, name in rows]


async def my_events(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> list[EventCard]:
    """The member's upcoming events: going, maybe, or waiting (with their place in line)."""
    async with uow:
        rows = (
            await uow.session.execute(
                with_region()
                .add_columns(Rsvp)
                .join(Rsvp, Rsvp.event_id == Event.id)
                .where(
                    Rsvp.member_id == member_id,
                    Rsvp.status.in_(rules.INTERESTED),
                    Event.status == EventStatus.PUBLISHED,
                    Event.ends_at > now,
                )
                .order_by(Event.starts_at, Event.id)
            )
        ).all()
        found = await counts(uow.session, [row[0].id for row in rows])
        return [
            EventCard(
                view_of(event, region_name, found[event.id]),
                await answer_of(uow.session, rsvp, rsvp.status),
            )
            for event, region_name, rsvp in rows
        ]


async def managed_events(
    uow: UnitOfWork, actor: Actor, *, now: dt.datetime, past: dt.timedelta = dt.timedelta(days=60)
) -> list[EventView]:
    """Events the organiser manages, from ``past`` ago on (recent ones first, then upcoming)."""
    require_organiser(actor)
    region_id = visible_region_ids(actor)
    async with uow:
        statement = with_region().where(Event.ends_at > now - past)
        if region_id is not None:
            statement = statement.where(Event.region_id == region_id)
        rows = (await uow.session.execute(statement.order_by(Event.starts_at, Event.id))).all()
        return await _views(uow.session, rows)


# --- calendar feeds --------------------------------------------------------------------------


async def feed(uow: UnitOfWork, region_code: str | None, *, now: dt.datetime) -> Feed | None:
    """Events for a public calendar feed: a region's and the whole network's (or, with None,
    every region's), from 90 days ago on; cancelled ones stay, marked, so subscribed calendars
    drop them. None for an unknown region."""
    async with uow:
        session = uow.session
        condition = Event.ends_at > now - FEED_PAST
        name = "Samvirke"
        if region_code is not None:
            region = await session.scalar(
                select(Region).where(Region.code == region_code, Region.active.is_(True))
            )
            if region is None:
                return None
            name = f"Samvirke – {region.name}"
            condition = and_(
                condition, or_(Event.region_id == region.id, Event.region_id.is_(None))
            )
        rows = (
            await session.execute(with_region().where(condition).order_by(Event.starts_at))
        ).all()
        return Feed(name, [view_of(event, region_name) for event, region_name in rows])


# --- reminders -------------------------------------------------------------------------------


async def queue_reminders(
    uow: UnitOfWork,
    *,
    offsets: tuple[dt.timedelta, ...],
    now: dt.datetime,
    public_url: str | None = None,
) -> int:
    """Queue the Telegram reminders due now to members going; returns how many were queued.

    Idempotent: a reminder's key names the event, the member, the offset and the start time,
    so running this again (or after a restart) queues nothing twice, and a reminder missed
    while the bot was down goes out as long as the event has not begun.
    """
    if not offsets:
        return 0
    horizon = now + max(offsets)
    queued = 0
    async with uow:
        session = uow.session
        rows = (
            await session.execute(
                select(Event, Rsvp, Member)
                .join(Rsvp, Rsvp.event_id == Event.id)
                .join(Member, Rsvp.member_id == Member.id)
                .where(
                    Event.status == EventStatus.PUBLISHED,
                    Event.starts_at > now,
                    Event.starts_at <= horizon,
                    Rsvp.status == RsvpStatus.GOING,
                    Member.deleted_at.is_(None),
                    Member.telegram_user_id.is_not(None),
                )
                .order_by(Event.starts_at, Rsvp.id)
            )
        ).all()
        for event, rsvp, member in rows:
            offset = rules.reminder_due(
                starts_at=event.starts_at, offsets=offsets, now=now, going_since=rsvp.going_since
            )
            if offset is None:
                continue
            key = (
                f"reminder:{event.id}:{member.id}:{rules.offset_label(offset)}:"
                f"{int(event.starts_at.timestamp())}"
            )
            if await notices.tell(
                session,
                member,
                event,
                key=key,
                text=reminder_text(event, member, public_url),
                now=now,
            ):
                queued += 1
        await uow.commit()
    return queued


def reminder_text(event: Event, member: Member, public_url: str | None = None) -> str:
    t = translator(member.language)
    lines = [
        t("Reminder: “{title}”", title=event.title),
        notices.when_text(event, member.language),
    ]
    if event.location:
        lines.append(t("Place: {place}", place=event.location))
        lines.append(rules.map_link(event.location))
    if event.online_url:
        lines.append(t("Online: {link}", link=event.online_url))
    if public_url:
        lines.append(t("Event page: {link}", link=f"{public_url.rstrip('/')}/events/{event.id}"))
    return "\n".join(lines)
