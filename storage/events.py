"""Events: publishing, editing and cancelling network meetings; members' answers (RSVPs) with
capacity and a waiting list; check-in; attendee lists, reminders and the figures funders ask for.

Every use case is one transaction. Whatever changes who holds a seat runs under a lock on the
event's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction holds the
write lock from its first statement, see storage.db), so there are never more members going
than seats, however many press Going at the same moment. What the change owes people (calendar
invites by e-mail, Telegram notices) is written to the outbox in the same transaction, under a
unique key, so a retry or a double tap sends nothing twice.

Messages are rendered here, in each member's own language, when they are queued.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from samvirke.storage import audit, outbox
from samvirke.storage import event_rules as rules
from samvirke.storage.errors import InvalidInput, NotAllowed, NotFound
from samvirke.storage.event_time import format_when
from samvirke.storage.models import (
    CheckIn,
    Event,
    EventStatus,
    Member,
    OutboxMessage,
    OutboxStatus,
    Region,
    Rsvp,
    RsvpStatus,
)
from samvirke.storage.permissions import Actor, require_organiser, visible_region_ids
from samvirke.storage.uow import UnitOfWork
from samvirke.templates.i18n import Translator, translator

# Kinds of e-mail this module queues (templates/mail/<kind>.txt|.html).
INVITE_TEMPLATE = "invite"
CANCEL_TEMPLATE = "invite_cancel"
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


@dataclass(frozen=True)
class EventPage:
    events: list[EventView]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class RsvpOutcome:
    card: EventCard
    changed: bool
    invited: bool  # a calendar invitation was queued for the member
    promoted: int  # members moved from the waiting list to a seat


@dataclass(frozen=True)
class EventDraft:
    """What an organiser filled in before Publish."""

    title: str
    description: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: str | None
    online_url: str | None
    region_id: int | None
    capacity: int | None = None
    rsvp_deadline: dt.datetime | None = None


@dataclass(frozen=True)
class EditOutcome:
    event: EventView
    changed: bool
    notified: int  # members told in Telegram
    promoted: int


@dataclass(frozen=True)
class Attendee:
    member_id: int
    name: str
    organisation: str | None
    sector: str | None
    region_name: str | None
    status: str | None  # None: checked in without an RSVP (a walk-in)
    checked_in: bool


@dataclass(frozen=True)
class AttendeeReport:
    event: EventView
    checked_in: int
    by_sector: dict[str, dict[str, int]]  # group (going, maybe, waitlist, checked_in) -> counts
    by_region: dict[str, dict[str, int]]
    attendees: list[Attendee]  # going, then walk-ins who checked in; named members only
    waitlist: list[Attendee]
    anonymous: int  # going or checked in, but erased their data: counted, never named


@dataclass(frozen=True)
class CheckInOutcome:
    event: EventView
    already: bool


@dataclass(frozen=True)
class EventStats:
    id: int
    title: str
    starts_at: dt.datetime
    timezone: str
    region_name: str | None
    registered: int
    attended: int
    attended_by_sector: dict[str, int]


@dataclass(frozen=True)
class StatsReport:
    start: dt.datetime
    end: dt.datetime
    region_name: str | None
    events: list[EventStats]
    registered: int
    attended: int
    unique_attendees: int
    registered_by_sector: dict[str, int]
    attended_by_sector: dict[str, int]


@dataclass(frozen=True)
class Feed:
    name: str
    events: list[EventView] = field(default_factory=list)


# --- reading -----------------------------------------------------------------------------------


def _view(event: Event, region_name: str | None, counts: dict[str, int] | None = None) -> EventView:
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


def _with_region() -> Any:
    return select(Event, Region.name).outerjoin(Region, Event.region_id == Region.id)


async def _load(session: AsyncSession, event_id: int, *, lock: bool) -> tuple[Event, str | None]:
    """The event and its region's name; with ``lock``, the event's row stays locked until the
    transaction ends (every change of seats for this event queues behind it)."""
    statement = _with_region().where(Event.id == event_id)
    if lock:
        statement = statement.with_for_update(of=Event)
    row = (await session.execute(statement)).first()
    if row is None:
        raise NotFound("event_not_found")
    return row[0], row[1]


async def _counts(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, dict[str, int]]:
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


async def _position(session: AsyncSession, rsvp: Rsvp) -> int:
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


async def _answer(session: AsyncSession, event_id: int, member_id: int | None) -> Answer | None:
    if member_id is None:
        return None
    rsvp = await session.scalar(
        select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.member_id == member_id)
    )
    checked_in = (
        await session.scalar(
            select(CheckIn.id).where(CheckIn.event_id == event_id, CheckIn.member_id == member_id)
        )
        is not None
    )
    if rsvp is None:
        return Answer(RsvpStatus.NOT_GOING, checked_in=True) if checked_in else None
    position = await _position(session, rsvp) if rsvp.status == RsvpStatus.WAITLIST else None
    return Answer(rsvp.status, position, checked_in)


async def get_card(uow: UnitOfWork, event_id: int, *, member_id: int | None) -> EventCard:
    """An event as a member sees it, with their own answer."""
    async with uow:
        event, region_name = await _load(uow.session, event_id, lock=False)
        counts = await _counts(uow.session, [event.id])
        return EventCard(
            _view(event, region_name, counts[event.id]),
            await _answer(uow.session, event.id, member_id),
        )


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
                _with_region()
                .where(condition)
                .order_by(Event.starts_at, Event.id)
                .offset(page * page_size)
                .limit(page_size)
            )
        ).all()
        counts = await _counts(uow.session, [row[0].id for row in rows])
        events = [_view(event, name, counts[event.id]) for event, name in rows]
        return EventPage(events, total, page, pages)


async def my_events(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> list[EventCard]:
    """The member's upcoming events: going, maybe, or waiting (with their place in line)."""
    async with uow:
        rows = (
            await uow.session.execute(
                _with_region()
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
        counts = await _counts(uow.session, [row[0].id for row in rows])
        cards = []
        for event, region_name, rsvp in rows:
            position = (
                await _position(uow.session, rsvp) if rsvp.status == RsvpStatus.WAITLIST else None
            )
            cards.append(
                EventCard(
                    _view(event, region_name, counts[event.id]), Answer(rsvp.status, position)
                )
            )
        return cards


# --- what is owed to members: invites and notices --------------------------------------------


def place_text(location: str | None, online_url: str | None) -> str:
    return "\n".join(part for part in (location, online_url) if part)


def _when(event: Event, language: str) -> str:
    return format_when(
        event.starts_at, event.ends_at, tz=ZoneInfo(event.timezone), language=language
    )


PARTSTAT: dict[str, str] = {
    RsvpStatus.GOING: "ACCEPTED",
    RsvpStatus.MAYBE: "TENTATIVE",
    RsvpStatus.WAITLIST: "NEEDS-ACTION",
}


def _partstat(status: str | None) -> str:
    return PARTSTAT.get(status or "", "DECLINED")


def calendar_payload(
    event: Event,
    member: Member,
    *,
    method: str,
    sequence: int,
    partstat: str,
    now: dt.datetime,
    url: str | None,
) -> dict[str, Any]:
    """The ``calendar`` part of an invite's outbox payload (scheduler.invites reads it)."""
    return {
        "method": method,
        "uid": event.uid,
        "sequence": sequence,
        "dtstamp": now.astimezone(dt.UTC).isoformat(),
        "summary": event.title,
        # An online link goes in LOCATION when there is no address, else in DESCRIPTION.
        "description": "\n\n".join(
            part
            for part in (event.description, event.online_url if event.location else None)
            if part
        ),
        "location": event.location or event.online_url,
        "url": url or event.online_url,
        "start": event.starts_at.astimezone(dt.UTC).isoformat(),
        "end": event.ends_at.astimezone(dt.UTC).isoformat(),
        "tzid": event.timezone,
        "status": "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED",
        "attendee": {"name": member.name or "", "email": member.email, "partstat": partstat},
    }


def _may_mail(member: Member) -> bool:
    return bool(member.email) and member.email_verified_at is not None and not member.deleted_at


async def send_missed_invites(
    session: AsyncSession, member: Member, *, now: dt.datetime, bot_username: str | None = None
) -> int:
    """A member who said Going before their address was confirmed gets the invitations now
    (in the caller's transaction, right after the confirmation)."""
    rows = (
        await session.execute(
            select(Event, Rsvp)
            .join(Rsvp, Rsvp.event_id == Event.id)
            .where(
                Rsvp.member_id == member.id,
                Rsvp.status == RsvpStatus.GOING,
                Rsvp.invite_active.is_(False),
                Event.status == EventStatus.PUBLISHED,
                Event.starts_at > now,
            )
            .order_by(Event.starts_at)
        )
    ).all()
    sent = 0
    for event, rsvp in rows:
        sent += await _mail_invite(
            session,
            event,
            member,
            rsvp,
            method="REQUEST",
            kind="new",
            now=now,
            bot_username=bot_username,
        )
    return sent


async def _mail_invite(
    session: AsyncSession,
    event: Event,
    member: Member,
    rsvp: Rsvp,
    *,
    method: str,
    kind: str,
    now: dt.datetime,
    bot_username: str | None,
    changes: Sequence[str] = (),
) -> bool:
    """Queue a calendar REQUEST or CANCEL for the member's copy of the event. ``kind`` picks the
    wording: new, promoted, updated (REQUEST); stopped, cancelled (CANCEL)."""
    if not _may_mail(member):
        return False
    if method == "CANCEL" and not rsvp.invite_active:
        return False
    sequence = rules.next_invite_sequence(event.sequence, rsvp.invite_sequence)
    # Set before the outbox insert flushes the RSVP: one INSERT, no UPDATE after it.
    rsvp.invite_sequence = sequence
    rsvp.invite_active = method == "REQUEST"
    url = rules.event_link(bot_username, event.id)
    t = translator(member.language)
    template = INVITE_TEMPLATE if method == "REQUEST" else CANCEL_TEMPLATE
    prefix = "invite" if method == "REQUEST" else "invite-cancel"
    return await outbox.enqueue(
        session,
        key=f"{prefix}:{event.id}:{member.id}:{sequence}",
        channel=outbox.EMAIL,
        member_id=member.id,
        now=now,
        payload={
            "template": template,
            "language": member.language,
            "to_name": member.name or "",
            "to_email": member.email,
            "context": {
                "name": member.name or "",
                "kind": kind,
                "title": event.title,
                "when": _when(event, member.language),
                "location": event.location,
                "online_url": event.online_url,
                "description": event.description,
                "url": url,
                "message": event.cancel_message,
                "changes": [t(label) for label in changes],
            },
            "calendar": calendar_payload(
                event,
                member,
                method=method,
                sequence=sequence,
                partstat=_partstat(rsvp.status),
                now=now,
                url=url,
            ),
        },
    )


def _show_button(t: Translator, event_id: int) -> list[list[dict[str, str]]]:
    return [[{"text": t("Show event"), "callback_data": f"ev:show:{event_id}"}]]


async def _tell(
    session: AsyncSession,
    member: Member,
    event: Event,
    *,
    key: str,
    text: str,
    now: dt.datetime,
) -> bool:
    """Queue a Telegram message to the member (nothing for an erased member)."""
    if member.telegram_user_id is None or member.deleted_at is not None:
        return False
    return await outbox.enqueue_telegram(
        session,
        key=key,
        chat_id=member.telegram_user_id,
        text=text,
        now=now,
        member_id=member.id,
        buttons=_show_button(translator(member.language), event.id),
    )


async def _withdraw_reminders(
    session: AsyncSession, event_id: int, member_id: int | None = None
) -> None:
    """Reminders queued but not sent are no longer owed (event moved or cancelled, or the member
    no longer going)."""
    prefix = f"reminder:{event_id}:" + (f"{member_id}:" if member_id is not None else "")
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.key.startswith(prefix, autoescape=True),
            OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.RETRY]),
        )
    )


# --- RSVPs -----------------------------------------------------------------------------------


async def _promote(
    session: AsyncSession,
    event: Event,
    *,
    going: int,
    waiting: int,
    now: dt.datetime,
    bot_username: str | None,
) -> int:
    """Give free seats to the head of the waiting list (the caller holds the event's lock)."""
    count = rules.promotions(event.capacity, going, waiting)
    if count == 0:
        return 0
    rows = (
        await session.execute(
            select(Rsvp, Member)
            .join(Member, Rsvp.member_id == Member.id)
            .where(Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.WAITLIST)
            .order_by(Rsvp.waitlist_since, Rsvp.id)
            .limit(count)
        )
    ).all()
    for rsvp, member in rows:
        rsvp.status = RsvpStatus.GOING
        rsvp.version += 1
        rsvp.responded_at = now
        rsvp.going_since = now
        rsvp.waitlist_since = None
        invited = await _mail_invite(
            session,
            event,
            member,
            rsvp,
            method="REQUEST",
            kind="promoted",
            now=now,
            bot_username=bot_username,
        )
        t = translator(member.language)
        text = t(
            "Good news: a seat has become free at “{title}” ({when}), and it is yours. "
            "You are going.",
            title=event.title,
            when=_when(event, member.language),
        )
        if invited:
            text += "\n\n" + t(
                "A calendar invitation is on its way to {email}.", email=member.email
            )
        await _tell(
            session, member, event, key=f"promoted:{rsvp.id}:{rsvp.version}", text=text, now=now
        )
    return len(rows)


async def respond(
    uow: UnitOfWork,
    *,
    member_id: int,
    event_id: int,
    answer: str,
    now: dt.datetime,
    bot_username: str | None = None,
) -> RsvpOutcome:
    """A member answers Going, Maybe or Can't go.

    Going takes a free seat (and queues a calendar invitation), or a place on the waiting list
    when the event is full. Giving up a seat queues a CANCEL for the member's calendar copy and
    promotes the first one waiting. The same answer twice changes nothing and queues nothing.
    """
    if answer not in rules.ANSWERS:
        raise InvalidInput("answer_unknown")
    async with uow:
        session = uow.session
        event, region_name = await _load(session, event_id, lock=True)
        reason = rules.rsvp_closed_reason(
            status=event.status, starts_at=event.starts_at, deadline=event.rsvp_deadline, now=now
        )
        if reason is not None:
            raise NotAllowed(reason)
        row = (
            await session.execute(
                select(Member, Rsvp)
                .outerjoin(Rsvp, and_(Rsvp.member_id == Member.id, Rsvp.event_id == event.id))
                .where(Member.id == member_id, Member.deleted_at.is_(None))
            )
        ).first()
        if row is None:
            raise NotFound("member_not_found")
        member = row[0]
        rsvp: Rsvp | None = row[1]  # None when the member has not answered (outer join)
        # Counted after the lock is held: every earlier change to this event is committed.
        counts = Counter((await _counts(session, [event.id]))[event.id])
        before = rsvp.status if rsvp is not None else None
        step = rules.transition(
            before,
            answer,
            seat_available=rules.seat_free(
                event.capacity, counts[RsvpStatus.GOING], counts[RsvpStatus.WAITLIST]
            ),
        )
        if not step.changed:
            assert rsvp is not None
            position = await _position(session, rsvp) if before == RsvpStatus.WAITLIST else None
            card = EventCard(_view(event, region_name, counts), Answer(step.status, position))
            return RsvpOutcome(card, changed=False, invited=False, promoted=0)
        if rsvp is None:
            rsvp = Rsvp(event_id=event.id, member_id=member.id, status=step.status, version=1)
            session.add(rsvp)
        else:
            rsvp.version += 1
            counts[before or ""] -= 1
        rsvp.status = step.status
        rsvp.responded_at = now
        rsvp.going_since = now if step.status == RsvpStatus.GOING else None
        rsvp.waitlist_since = now if step.status == RsvpStatus.WAITLIST else None
        counts[step.status] += 1
        invited = False
        if step.status == RsvpStatus.GOING:
            invited = await _mail_invite(
                session,
                event,
                member,
                rsvp,
                method="REQUEST",
                kind="new",
                now=now,
                bot_username=bot_username,
            )
        elif before == RsvpStatus.GOING:
            await _mail_invite(
                session,
                event,
                member,
                rsvp,
                method="CANCEL",
                kind="stopped",
                now=now,
                bot_username=bot_username,
            )
            await _withdraw_reminders(session, event.id, member.id)
        promoted = 0
        if step.frees_seat:
            promoted = await _promote(
                session,
                event,
                going=counts[RsvpStatus.GOING],
                waiting=counts[RsvpStatus.WAITLIST],
                now=now,
                bot_username=bot_username,
            )
            counts[RsvpStatus.GOING] += promoted
            counts[RsvpStatus.WAITLIST] -= promoted
        await session.flush()
        position = await _position(session, rsvp) if step.status == RsvpStatus.WAITLIST else None
        card = EventCard(_view(event, region_name, counts), Answer(step.status, position))
        await uow.commit()
        return RsvpOutcome(card, changed=True, invited=invited, promoted=promoted)


# --- organisers: publish, edit, cancel ----------------------------------------------------------


async def _check_region(session: AsyncSession, region_id: int | None) -> str | None:
    if region_id is None:
        return None
    region = await session.get(Region, region_id)
    if region is None or not region.active:
        raise InvalidInput("region_unknown")
    return region.name


async def _new_checkin_code(session: AsyncSession) -> str:
    while True:
        code = rules.new_checkin_code()
        if await session.scalar(select(Event.id).where(Event.checkin_code == code)) is None:
            return code


async def create(
    uow: UnitOfWork, actor: Actor, draft: EventDraft, *, now: dt.datetime, timezone: str
) -> EventView:
    """Publish an event (organisers; an organiser for one region publishes in that region)."""
    rules.require_region_allowed(actor, draft.region_id)
    title = rules.validate_title(draft.title)
    description = rules.validate_description(draft.description)
    rules.validate_times(draft.starts_at, draft.ends_at, now=now)
    rules.validate_deadline(draft.rsvp_deadline, start=draft.starts_at, now=now)
    capacity = rules.validate_capacity(draft.capacity)
    online_url = rules.validate_online_url(draft.online_url) if draft.online_url else None
    location = rules.split_place(draft.location)[0] if draft.location else None
    if location is None and online_url is None:
        raise InvalidInput("place_empty")
    ZoneInfo(timezone)
    async with uow:
        session = uow.session
        region_name = await _check_region(session, draft.region_id)
        event = Event(
            uid=f"{uuid.uuid4()}@samvirke",
            title=title,
            description=description,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            timezone=timezone,
            location=location,
            online_url=online_url,
            region_id=draft.region_id,
            capacity=capacity,
            rsvp_deadline=draft.rsvp_deadline,
            status=EventStatus.PUBLISHED,
            sequence=0,
            checkin_code=await _new_checkin_code(session),
            organiser_member_id=actor.member_id,
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        await session.flush()
        audit.record(
            session, "event.created", now=now, actor_member_id=actor.member_id, event_id=event.id
        )
        view = _view(event, region_name)
        await uow.commit()
        return view


EDITABLE = ("title", "description", "when", "place", "region", "capacity", "deadline")
# What attendees are told about (and what raises the invite's SEQUENCE).
ANNOUNCED = ("title", "description", "when", "place")
CHANGE_LABELS = {
    "title": "Title",
    "description": "Description",
    "when": "Time",
    "place": "Place",
}


def _change_lines(t: Translator, event: Event, changed: str, language: str) -> list[str]:
    if changed == "title":
        return [t("New title: {title}", title=event.title)]
    if changed == "when":
        return [t("New time: {when}", when=_when(event, language))]
    if changed == "place":
        return [t("New place: {place}", place=place_text(event.location, event.online_url))]
    return [t("The description has been updated.")]


async def _interested(session: AsyncSession, event_id: int) -> list[tuple[Rsvp, Member]]:
    rows = await session.execute(
        select(Rsvp, Member)
        .join(Member, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event_id)
        .order_by(Rsvp.id)
    )
    return [(rsvp, member) for rsvp, member in rows.all()]


async def update(
    uow: UnitOfWork,
    actor: Actor,
    event_id: int,
    what: str,
    value: Any,
    *,
    now: dt.datetime,
    bot_username: str | None = None,
) -> EditOutcome:
    """Change one field of a published event. ``value`` by field: title/description: str;
    when: (start, end); place: text with an address and/or a link; region: id or None;
    capacity: int or None; deadline: datetime or None.

    A change of title, description, time or place raises the event's SEQUENCE; members going,
    maybe or waiting are told in Telegram, and members holding an invite get an updated one.
    More seats promote members from the waiting list.
    """
    if what not in EDITABLE:
        raise InvalidInput("field_unknown")
    async with uow:
        session = uow.session
        event, region_name = await _load(session, event_id, lock=True)
        rules.require_manager(actor, event.region_id)
        if event.status == EventStatus.CANCELLED:
            raise NotAllowed("event_cancelled")
        if now >= event.ends_at:
            raise NotAllowed("event_over")
        counts = Counter((await _counts(session, [event.id]))[event.id])
        changed = _apply(event, what, value, now=now, going=counts[RsvpStatus.GOING])
        if what == "region" and changed:
            rules.require_region_allowed(actor, event.region_id)
            region_name = await _check_region(session, event.region_id)
        if not changed:
            return EditOutcome(_view(event, region_name, counts), False, 0, 0)
        event.updated_at = now
        notified = promoted = 0
        if what in ANNOUNCED:
            event.sequence += 1
            if what == "when":
                await _withdraw_reminders(session, event.id)
            for rsvp, member in await _interested(session, event.id):
                if rsvp.status not in rules.INTERESTED:
                    continue
                t = translator(member.language)
                lines = [t("“{title}” has changed:", title=event.title)]
                lines += _change_lines(t, event, what, member.language)
                if await _tell(
                    session,
                    member,
                    event,
                    key=f"event-changed:{event.id}:{member.id}:{event.sequence}",
                    text="\n".join(lines),
                    now=now,
                ):
                    notified += 1
                if rsvp.status == RsvpStatus.GOING and rsvp.invite_active:
                    await _mail_invite(
                        session,
                        event,
                        member,
                        rsvp,
                        method="REQUEST",
                        kind="updated",
                        now=now,
                        bot_username=bot_username,
                        changes=[CHANGE_LABELS[what]],
                    )
        if what == "capacity":
            promoted = await _promote(
                session,
                event,
                going=counts[RsvpStatus.GOING],
                waiting=counts[RsvpStatus.WAITLIST],
                now=now,
                bot_username=bot_username,
            )
            counts[RsvpStatus.GOING] += promoted
            counts[RsvpStatus.WAITLIST] -= promoted
        audit.record(
            session,
            "event.changed",
            now=now,
            actor_member_id=actor.member_id,
            event_id=event.id,
            field=what,
        )
        view = _view(event, region_name, counts)
        await uow.commit()
        return EditOutcome(view, True, notified, promoted)


def _apply(event: Event, what: str, value: Any, *, now: dt.datetime, going: int) -> bool:
    """Validate and set one field; False if it holds that value already."""
    if what == "title":
        title = rules.validate_title(str(value or ""))
        changed, event.title = title != event.title, title
    elif what == "description":
        description = rules.validate_description(str(value or ""))
        changed, event.description = description != event.description, description
    elif what == "when":
        start, end = value
        rules.validate_times(start, end, now=now)
        if event.rsvp_deadline is not None and event.rsvp_deadline > start:
            raise InvalidInput("deadline_after_start")
        changed = (start, end) != (event.starts_at, event.ends_at)
        event.starts_at, event.ends_at = start, end
    elif what == "place":
        location, online_url = rules.split_place(str(value or ""))
        changed = (location, online_url) != (event.location, event.online_url)
        event.location, event.online_url = location, online_url
    elif what == "region":
        region_id = int(value) if value is not None else None
        changed, event.region_id = region_id != event.region_id, region_id
    elif what == "capacity":
        capacity = rules.validate_capacity(value)
        if not rules.new_capacity_allowed(capacity, going):
            raise InvalidInput("capacity_below_going", going=going)
        changed, event.capacity = capacity != event.capacity, capacity
    else:  # deadline
        deadline = value
        rules.validate_deadline(deadline, start=event.starts_at, now=now)
        changed, event.rsvp_deadline = deadline != event.rsvp_deadline, deadline
    return changed


async def cancel(
    uow: UnitOfWork,
    actor: Actor,
    event_id: int,
    *,
    message: str | None,
    now: dt.datetime,
    bot_username: str | None = None,
) -> EditOutcome:
    """Cancel an event: members going, maybe or waiting are told in Telegram (with the
    organisers' message), everyone holding an invite gets a CANCEL, reminders are withdrawn.
    Cancelling twice changes nothing."""
    message = rules.validate_cancel_message(message)
    async with uow:
        session = uow.session
        event, region_name = await _load(session, event_id, lock=True)
        rules.require_manager(actor, event.region_id)
        counts = (await _counts(session, [event.id]))[event.id]
        if event.status == EventStatus.CANCELLED:
            return EditOutcome(_view(event, region_name, counts), False, 0, 0)
        if now >= event.ends_at:
            raise NotAllowed("event_over")
        event.status = EventStatus.CANCELLED
        event.cancelled_at = now
        event.updated_at = now
        event.cancel_message = message
        event.sequence += 1
        await _withdraw_reminders(session, event.id)
        notified = 0
        for rsvp, member in await _interested(session, event.id):
            if rsvp.invite_active:
                await _mail_invite(
                    session,
                    event,
                    member,
                    rsvp,
                    method="CANCEL",
                    kind="cancelled",
                    now=now,
                    bot_username=bot_username,
                )
            if rsvp.status not in rules.INTERESTED:
                continue
            t = translator(member.language)
            text = t(
                "“{title}” ({when}) has been cancelled.",
                title=event.title,
                when=_when(event, member.language),
            )
            if message:
                text += "\n\n" + t("Message from the organisers: {message}", message=message)
            if await _tell(
                session,
                member,
                event,
                key=f"event-cancelled:{event.id}:{member.id}",
                text=text,
                now=now,
            ):
                notified += 1
        audit.record(
            session, "event.cancelled", now=now, actor_member_id=actor.member_id, event_id=event.id
        )
        view = _view(event, region_name, counts)
        await uow.commit()
        return EditOutcome(view, True, notified, 0)


async def managed_events(
    uow: UnitOfWork, actor: Actor, *, now: dt.datetime, past: dt.timedelta = dt.timedelta(days=60)
) -> list[EventView]:
    """Events the organiser manages, from ``past`` ago on (recent ones first, then upcoming)."""
    require_organiser(actor)
    region_id = visible_region_ids(actor)
    async with uow:
        statement = _with_region().where(Event.ends_at > now - past)
        if region_id is not None:
            statement = statement.where(Event.region_id == region_id)
        rows = (await uow.session.execute(statement.order_by(Event.starts_at, Event.id))).all()
        counts = await _counts(uow.session, [row[0].id for row in rows])
        return [_view(event, name, counts[event.id]) for event, name in rows]


# --- attendees and check-in --------------------------------------------------------------------


def _group_counts(values: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    result: dict[str, Counter[str]] = {}
    for group, key in values:
        result.setdefault(group, Counter())[key] += 1
    return {group: dict(counter.most_common()) for group, counter in result.items()}


async def attendees(uow: UnitOfWork, actor: Actor, event_id: int) -> AttendeeReport:
    """Counts by sector and region, and the list of members going and checked in (organisers
    managing the event)."""
    async with uow:
        session = uow.session
        event, region_name = await _load(session, event_id, lock=False)
        rules.require_manager(actor, event.region_id)
        counts = (await _counts(session, [event.id]))[event.id]
        region_names = {r.id: r.name for r in (await session.scalars(select(Region))).all()}
        rsvps = {
            rsvp.member_id: (rsvp, member) for rsvp, member in await _interested(session, event.id)
        }
        checkins = {
            checkin.member_id: member
            for checkin, member in (
                await session.execute(
                    select(CheckIn, Member)
                    .join(Member, CheckIn.member_id == Member.id)
                    .where(CheckIn.event_id == event.id)
                )
            ).all()
        }
        by_sector: list[tuple[str, str]] = []
        by_region: list[tuple[str, str]] = []

        def attendee(member: Member, status: str | None) -> Attendee:
            return Attendee(
                member_id=member.id,
                name=member.name or "",
                organisation=member.organisation,
                sector=member.sector,
                region_name=region_names.get(member.region_id or 0),
                status=status,
                checked_in=member.id in checkins,
            )

        for rsvp, member in rsvps.values():
            if rsvp.status in rules.INTERESTED:
                by_sector.append((rsvp.status, member.sector or ""))
                by_region.append((rsvp.status, region_names.get(member.region_id or 0, "")))
        for member in checkins.values():
            by_sector.append(("checked_in", member.sector or ""))
            by_region.append(("checked_in", region_names.get(member.region_id or 0, "")))
        going = [
            attendee(member, rsvp.status)
            for rsvp, member in rsvps.values()
            if rsvp.status == RsvpStatus.GOING
        ]
        walk_ins = [
            attendee(member, rsvps[member.id][0].status if member.id in rsvps else None)
            for member in checkins.values()
            if member.id not in rsvps or rsvps[member.id][0].status != RsvpStatus.GOING
        ]
        waiting = sorted(
            (
                (rsvp.waitlist_since, rsvp.id, member)
                for rsvp, member in rsvps.values()
                if rsvp.status == RsvpStatus.WAITLIST
            ),
            key=lambda row: (row[0] or dt.datetime.min.replace(tzinfo=dt.UTC), row[1]),
        )
        named = [a for a in going + walk_ins if a.name]
        named.sort(key=lambda a: (a.status != RsvpStatus.GOING, a.name.casefold()))
        return AttendeeReport(
            event=_view(event, region_name, counts),
            checked_in=len(checkins),
            by_sector=_group_counts(by_sector),
            by_region=_group_counts(by_region),
            attendees=named,
            waitlist=[attendee(member, RsvpStatus.WAITLIST) for *_, member in waiting],
            anonymous=len(going) + len(walk_ins) - len(named),
        )


async def _insert_checkin(
    session: AsyncSession, event_id: int, member_id: int, *, now: dt.datetime, by: int | None
) -> bool:
    existing = await session.scalar(
        select(CheckIn.id).where(CheckIn.event_id == event_id, CheckIn.member_id == member_id)
    )
    if existing is not None:
        return False
    session.add(CheckIn(event_id=event_id, member_id=member_id, at=now, by_member_id=by))
    await session.flush()
    return True


async def check_in_by_code(
    uow: UnitOfWork, member_id: int, code: str, *, now: dt.datetime
) -> CheckInOutcome:
    """A member at the venue sends the event's check-in code (or opens its link)."""
    normal = rules.normalise_checkin_code(code)
    if normal is None:
        raise NotFound("checkin_code_unknown")
    async with uow:
        session = uow.session
        row = (await session.execute(_with_region().where(Event.checkin_code == normal))).first()
        if row is None:
            raise NotFound("checkin_code_unknown")
        event, region_name = row[0], row[1]
        if event.status == EventStatus.CANCELLED:
            raise NotAllowed("event_cancelled")
        if not rules.checkin_open(starts_at=event.starts_at, ends_at=event.ends_at, now=now):
            raise NotAllowed("checkin_too_early" if now < event.starts_at else "checkin_closed")
        added = await _insert_checkin(session, event.id, member_id, now=now, by=None)
        if added:
            audit.record(
                session, "event.checked_in", now=now, member_id=member_id, event_id=event.id
            )
        view = _view(event, region_name, (await _counts(session, [event.id]))[event.id])
        await uow.commit()
        return CheckInOutcome(view, already=not added)


async def set_checked_in(
    uow: UnitOfWork,
    actor: Actor,
    event_id: int,
    member_id: int,
    present: bool,
    *,
    now: dt.datetime,
) -> bool:
    """An organiser marks a member present (or not). True if something changed."""
    async with uow:
        session = uow.session
        event, _ = await _load(session, event_id, lock=False)
        rules.require_manager(actor, event.region_id)
        if event.status == EventStatus.CANCELLED:
            raise NotAllowed("event_cancelled")
        if not rules.manual_checkin_open(starts_at=event.starts_at, now=now):
            raise NotAllowed("checkin_too_early")
        member = await session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            raise NotFound("member_not_found")
        if present:
            changed = await _insert_checkin(
                session, event.id, member.id, now=now, by=actor.member_id
            )
        else:
            result = await session.execute(
                delete(CheckIn).where(CheckIn.event_id == event.id, CheckIn.member_id == member.id)
            )
            changed = bool(result.rowcount)  # type: ignore[attr-defined]
        if changed:
            audit.record(
                session,
                "event.checked_in" if present else "event.check_in_undone",
                now=now,
                member_id=member.id,
                actor_member_id=actor.member_id,
                event_id=event.id,
            )
        await uow.commit()
        return changed


# --- figures for funders ----------------------------------------------------------------------


async def stats(
    uow: UnitOfWork,
    actor: Actor,
    *,
    start: dt.datetime,
    end: dt.datetime,
    region_id: int | None,
    now: dt.datetime,
) -> StatsReport:
    """Events held (started, not cancelled) from ``start`` to before ``end`` in a region (or all),
    with members registered (going) and attended (checked in), by sector. An organiser for one
    region sees that region."""
    require_organiser(actor)
    limit = visible_region_ids(actor)
    if limit is not None:
        if region_id not in (None, limit):
            raise NotAllowed("event_other_region")
        region_id = limit
    async with uow:
        session = uow.session
        region_name = await _check_region(session, region_id) if region_id is not None else None
        condition = and_(
            Event.status == EventStatus.PUBLISHED,
            Event.starts_at >= start,
            Event.starts_at < end,
            Event.starts_at <= now,
        )
        if region_id is not None:
            condition = and_(condition, Event.region_id == region_id)
        rows = (
            await session.execute(_with_region().where(condition).order_by(Event.starts_at))
        ).all()
        ids = [row[0].id for row in rows]
        registered = (
            await session.execute(
                select(Rsvp.event_id, Member.sector)
                .join(Member, Rsvp.member_id == Member.id, isouter=True)
                .where(Rsvp.event_id.in_(ids), Rsvp.status == RsvpStatus.GOING)
            )
        ).all()
        attended = (
            await session.execute(
                select(CheckIn.event_id, CheckIn.member_id, Member.sector)
                .join(Member, CheckIn.member_id == Member.id, isouter=True)
                .where(CheckIn.event_id.in_(ids))
            )
        ).all()
        per_event: list[EventStats] = []
        for event, name in rows:
            here = [sector or "" for event_id, _, sector in attended if event_id == event.id]
            per_event.append(
                EventStats(
                    id=event.id,
                    title=event.title,
                    starts_at=event.starts_at,
                    timezone=event.timezone,
                    region_name=name,
                    registered=sum(1 for event_id, _ in registered if event_id == event.id),
                    attended=len(here),
                    attended_by_sector=dict(Counter(here).most_common()),
                )
            )
        return StatsReport(
            start=start,
            end=end,
            region_name=region_name,
            events=per_event,
            registered=len(registered),
            attended=len(attended),
            unique_attendees=len({member_id for _, member_id, _ in attended if member_id}),
            registered_by_sector=dict(Counter(s or "" for _, s in registered).most_common()),
            attended_by_sector=dict(Counter(s or "" for *_, s in attended).most_common()),
        )


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
            await session.execute(_with_region().where(condition).order_by(Event.starts_at))
        ).all()
        return Feed(name, [_view(event, region_name) for event, region_name in rows])


# --- reminders -------------------------------------------------------------------------------


async def queue_reminders(
    uow: UnitOfWork, *, offsets: tuple[dt.timedelta, ...], now: dt.datetime
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
            if await _tell(
                session, member, event, key=key, text=reminder_text(event, member), now=now
            ):
                queued += 1
        await uow.commit()
    return queued


def reminder_text(event: Event, member: Member) -> str:
    t = translator(member.language)
    lines = [
        t("Reminder: “{title}”", title=event.title),
        _when(event, member.language),
    ]
    if event.location:
        lines.append(t("Place: {place}", place=event.location))
        lines.append(rules.map_link(event.location))
    if event.online_url:
        lines.append(t("Online: {link}", link=event.online_url))
    return "\n".join(lines)


# --- data protection ---------------------------------------------------------------------------


async def withdraw_member(
    session: AsyncSession, member_id: int, *, now: dt.datetime, bot_username: str | None = None
) -> int:
    """For an erasure (in the caller's transaction): the member's answers to events that have
    not begun become "not going", so their seats go to those waiting. Past answers stay, as
    anonymous counts. Returns how many answers were withdrawn."""
    event_ids = (
        await session.scalars(
            select(Rsvp.event_id)
            .join(Event, Rsvp.event_id == Event.id)
            .where(
                Rsvp.member_id == member_id,
                Rsvp.status.in_(rules.INTERESTED),
                Event.starts_at > now,
                Event.status == EventStatus.PUBLISHED,
            )
        )
    ).all()
    for event_id in event_ids:
        event, _ = await _load(session, event_id, lock=True)
        rsvp = await session.scalar(
            select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.member_id == member_id)
        )
        assert rsvp is not None
        was_going = rsvp.status == RsvpStatus.GOING
        rsvp.status = RsvpStatus.NOT_GOING
        rsvp.version += 1
        rsvp.responded_at = now
        rsvp.going_since = rsvp.waitlist_since = None
        rsvp.invite_active = False
        await _withdraw_reminders(session, event_id, member_id)
        await session.flush()
        if was_going:
            counts = (await _counts(session, [event_id]))[event_id]
            await _promote(
                session,
                event,
                going=counts.get(RsvpStatus.GOING, 0),
                waiting=counts.get(RsvpStatus.WAITLIST, 0),
                now=now,
                bot_username=bot_username,
            )
    return len(event_ids)
