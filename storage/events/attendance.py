"""Who comes to an event: the attendee report organisers see (counts by sector and region, the
members going and checked in, the waiting list) and check-in, by a member with the event's code
or by an organiser ticking names.

Members who erased their data are counted, never named.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.events import followup, rules
from storage.events import views as events
from storage.events.followup import FeedbackSummary
from storage.events.views import EventView
from storage.models import CheckIn, Event, EventStatus, Member, Region, Rsvp, RsvpStatus
from storage.people import folding
from storage.permissions import Actor, organises_everywhere
from storage.rules import clean_text
from storage.uow import UnitOfWork


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
    feedback: FeedbackSummary = field(default_factory=FeedbackSummary)
    followup_sent_at: dt.datetime | None = None  # when the follow-up first went


@dataclass(frozen=True)
class CheckInToggle:
    present: bool  # checked in now (False: the check-in was undone)
    report: AttendeeReport


@dataclass(frozen=True)
class CheckInOutcome:
    event: EventView
    already: bool


# --- the attendee report -----------------------------------------------------------------------


def _group_counts(values: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    result: dict[str, Counter[str]] = {}
    for group, key in values:
        result.setdefault(group, Counter())[key] += 1
    return {group: dict(counter.most_common()) for group, counter in result.items()}


async def attendees(uow: UnitOfWork, actor: Actor, event_id: int) -> AttendeeReport:
    """Counts by sector and region, and the list of members going and checked in (organisers
    managing the event)."""
    async with uow:
        event, region_name = await events.load(uow.session, event_id, lock=False)
        rules.require_manager(actor, event.region_id)
        return await _report(uow.session, event, region_name)


async def _report(session: AsyncSession, event: Event, region_name: str | None) -> AttendeeReport:
    counts = (await events.counts(session, [event.id]))[event.id]
    region_names = {r.id: r.name for r in (await session.scalars(select(Region))).all()}
    rsvps = {
        rsvp.member_id: (rsvp, member)
        for rsvp, member in await events.rsvps_with_members(session, event.id)
    }
    checkins = await _checked_in_members(session, event.id)

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
    named = [a for a in going + walk_ins if a.name]
    named.sort(key=lambda a: (a.status != RsvpStatus.GOING, a.name.casefold()))
    by_sector, by_region = _groups(rsvps.values(), checkins.values(), region_names)
    feedback, followup_sent_at = await followup.status(session, event.id)
    return AttendeeReport(
        event=events.view_of(event, region_name, counts),
        checked_in=len(checkins),
        by_sector=by_sector,
        by_region=by_region,
        attendees=named,
        waitlist=[attendee(member, RsvpStatus.WAITLIST) for member in _waiting(rsvps.values())],
        anonymous=len(going) + len(walk_ins) - len(named),
        feedback=feedback,
        followup_sent_at=followup_sent_at,
    )


async def _checked_in_members(session: AsyncSession, event_id: int) -> dict[int, Member]:
    rows = await session.execute(
        select(CheckIn, Member)
        .join(Member, CheckIn.member_id == Member.id)
        .where(CheckIn.event_id == event_id)
    )
    return {member.id: member for _, member in rows.all()}


def _groups(
    rsvps: Iterable[tuple[Rsvp, Member]],
    checkins: Iterable[Member],
    region_names: dict[int, str],
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Counts by sector and by region of those interested and of those checked in."""
    by_sector: list[tuple[str, str]] = []
    by_region: list[tuple[str, str]] = []
    for rsvp, member in rsvps:
        if rsvp.status in rules.INTERESTED:
            by_sector.append((rsvp.status, member.sector or ""))
            by_region.append((rsvp.status, region_names.get(member.region_id or 0, "")))
    for member in checkins:
        by_sector.append(("checked_in", member.sector or ""))
        by_region.append(("checked_in", region_names.get(member.region_id or 0, "")))
    return _group_counts(by_sector), _group_counts(by_region)


def _waiting(rsvps: Iterable[tuple[Rsvp, Member]]) -> list[Member]:
    """The members on the waiting list, first in line first."""
    waiting = sorted(
        (
            (rsvp.waitlist_since, rsvp.id, member)
            for rsvp, member in rsvps
            if rsvp.status == RsvpStatus.WAITLIST
        ),
        key=lambda row: (row[0] or dt.datetime.min.replace(tzinfo=dt.UTC), row[1]),
    )
    return [member for *_, member in waiting]


# --- check-in --------------------------------------------------------------------------------


async def _insert_checkin(
    session: AsyncSession, event_id: int, member_id: int, *, now: dt.datetime, by: int | None
) -> bool:
    if await events.checked_in(session, event_id, member_id):
        return False
    session.add(CheckIn(event_id=event_id, member_id=member_id, at=now, by_member_id=by))
    await session.flush()
    return True


def _in_scope(actor: Actor, member: Member) -> bool:
    """Whether the organiser may see the member as a possible walk-in (their region)."""
    if organises_everywhere(actor):
        return True
    return actor.organiser_region_id is not None and member.region_id == actor.organiser_region_id


async def _may_check_in(session: AsyncSession, actor: Actor, event_id: int, member: Member) -> bool:
    """A member on the event's list (they answered it, or are checked in) or a walk-in the
    organiser may see."""
    if _in_scope(actor, member):
        return True
    answered = await events.rsvp_of(session, event_id, member.id)
    return answered is not None or await events.checked_in(session, event_id, member.id)


WALK_IN_MATCHES = 8
WALK_IN_QUERY_MIN = 2


@dataclass(frozen=True)
class WalkIn:
    member_id: int
    name: str
    organisation: str | None
    region_name: str | None


@dataclass(frozen=True)
class WalkInSearch:
    found: list[WalkIn]  # at most WALK_IN_MATCHES, by name
    more: bool  # more members match than are shown: the organiser should type more


async def walk_in_event(
    uow: UnitOfWork, actor: Actor, event_id: int, *, now: dt.datetime
) -> EventView:
    """The event an organiser is about to add a walk-in to, if they manage it and check-in by
    hand is open (so that they are told before they type a name)."""
    async with uow:
        event, region_name = await _manual_checkin_event(
            uow.session, actor, event_id, now=now, lock=False
        )
        return events.view_of(event, region_name, {})


def _walk_in_matches(needle: str, name: str, username: str | None) -> bool:
    """``@name`` is a Telegram username, exactly; anything else is (part of) the name, as
    people type Nordic letters, or the username without its @."""
    username = (username or "").casefold()
    if needle.startswith("@"):
        return username == needle.removeprefix("@").casefold()
    return username == needle.casefold() or folding.matches(needle, name)


async def find_walk_ins(
    uow: UnitOfWork, actor: Actor, event_id: int, query: str, *, now: dt.datetime
) -> WalkInSearch:
    """Members the organiser may check in who are not checked in yet, found by what the
    organiser typed: part of the name, or the @username. Only members in the organiser's
    region (all members for organisers of all regions); at most WALK_IN_MATCHES, and whether
    there were more."""
    needle = clean_text(query)
    async with uow:
        session = uow.session
        event, _ = await _manual_checkin_event(session, actor, event_id, now=now, lock=False)
        if len(folding.fold(needle).replace(" ", "")) < WALK_IN_QUERY_MIN:
            raise InvalidInput("walk_in_query_short", min=WALK_IN_QUERY_MIN)
        on_list = select(CheckIn.member_id).where(CheckIn.event_id == event.id)
        statement = (
            select(
                Member.id, Member.name, Member.telegram_username, Member.organisation, Region.name
            )
            .outerjoin(Region, Region.id == Member.region_id)
            .where(Member.deleted_at.is_(None), Member.name.is_not(None))
            .where(Member.id.not_in(on_list))
            .order_by(Member.name, Member.id)
        )
        if not organises_everywhere(actor):
            statement = statement.where(Member.region_id == actor.organiser_region_id)
        found: list[WalkIn] = []
        # Matched in Python: SQLite's lower() knows only ASCII letters, and "Soren" should find
        # "Søren" as the directory's search does. A few columns a member, read as a stream, so
        # a large network's members are never all in memory at once.
        rows = await session.stream(statement.execution_options(yield_per=1000))
        async for member_id, name, username, organisation, region_name in rows:
            if not _walk_in_matches(needle, name or "", username):
                continue
            if len(found) == WALK_IN_MATCHES:
                await rows.close()
                return WalkInSearch(found, more=True)
            found.append(WalkIn(member_id, name or "", organisation, region_name))
        return WalkInSearch(found, more=False)


async def check_in_by_code(
    uow: UnitOfWork, member_id: int, code: str, *, now: dt.datetime
) -> CheckInOutcome:
    """A member at the venue sends the event's check-in code (or opens its link)."""
    normal = rules.normalise_checkin_code(code)
    if normal is None:
        raise NotFound("checkin_code_unknown")
    async with uow:
        session = uow.session
        row = (
            await session.execute(events.with_region().where(Event.checkin_code == normal))
        ).first()
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
        view = await events.view_with_counts(session, event, region_name)
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
        event, _ = await _manual_checkin_event(uow.session, actor, event_id, now=now)
        changed = await _set(uow.session, actor, event, member_id, present, now=now)
        await uow.commit()
        return changed


async def toggle_checked_in(
    uow: UnitOfWork, actor: Actor, event_id: int, member_id: int, *, now: dt.datetime
) -> CheckInToggle:
    """An organiser taps a member's name: checked in if they were not, undone if they were;
    with the list as it is afterwards. The event's row stays locked until the end, so two
    organisers tapping the same name at once take turns (the second sees the first's change)."""
    async with uow:
        session = uow.session
        event, region_name = await _manual_checkin_event(session, actor, event_id, now=now)
        present = not await events.checked_in(session, event.id, member_id)
        await _set(session, actor, event, member_id, present, now=now)
        report = await _report(session, event, region_name)
        await uow.commit()
        return CheckInToggle(present=present, report=report)


async def _manual_checkin_event(
    session: AsyncSession, actor: Actor, event_id: int, *, now: dt.datetime, lock: bool = True
) -> tuple[Event, str | None]:
    """The event (locked unless ``lock`` is False) if the actor manages it and check-in by hand
    is open."""
    event, region_name = await events.load(session, event_id, lock=lock)
    rules.require_manager(actor, event.region_id)
    if event.status == EventStatus.CANCELLED:
        raise NotAllowed("event_cancelled")
    if not rules.manual_checkin_open(starts_at=event.starts_at, now=now):
        raise NotAllowed("checkin_too_early")
    return event, region_name


async def _set(
    session: AsyncSession,
    actor: Actor,
    event: Event,
    member_id: int,
    present: bool,
    *,
    now: dt.datetime,
) -> bool:
    member = await session.get(Member, member_id)
    if member is None or member.deleted_at is not None:
        raise NotFound("attendee_unknown")  # not "sign up first": the organiser is signed up
    if present and not await _may_check_in(session, actor, event.id, member):
        # Not on this event's list and outside the organiser's region: as if unknown, so that a
        # forged button neither reveals nor lists a member of another region.
        raise NotFound("attendee_unknown")
    if present:
        changed = await _insert_checkin(session, event.id, member.id, now=now, by=actor.member_id)
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
    return changed
