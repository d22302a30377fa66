"""Organisers publish, edit and cancel events.

A change members should know about (title, description, time, place) raises the event's
SEQUENCE, tells those going, maybe or waiting in Telegram and updates the invitations in their
calendars; a cancellation withdraws the invitations and the reminders. Edits and cancellations
run under the event's row lock, like every change of seats (see storage.events.rsvps), and queue
what they owe people in the same transaction (storage.events.notices).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotAllowed
from storage.events import notices, programme, rules
from storage.events import views as events
from storage.events.views import EventView
from storage.events.waitlist import fill_free_seats
from storage.models import Event, EventStatus, RsvpStatus
from storage.permissions import Actor
from storage.uow import UnitOfWork
from templates.i18n import N_, Translator, translator

EDITABLE = ("title", "description", "when", "place", "region", "capacity", "deadline")
# What attendees are told about (and what raises the invite's SEQUENCE).
ANNOUNCED = ("title", "description", "when", "place")
# The names of announced changes in an updated invitation (translated when it is queued).
CHANGE_LABELS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "when": N_("Time"),
    "place": N_("Place"),
}


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
    programme: tuple[programme.Item, ...] = ()


@dataclass(frozen=True)
class EditOutcome:
    event: EventView
    changed: bool
    notified: int  # members told in Telegram
    promoted: int


# --- publishing ----------------------------------------------------------------------------------


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
        region_name = await events.active_region_name(session, draft.region_id)
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
        programme.add_items(session, event.id, list(draft.programme))
        audit.record(
            session, "event.created", now=now, actor_member_id=actor.member_id, event_id=event.id
        )
        view = events.view_of(event, region_name)
        await uow.commit()
        return view


# --- editing -------------------------------------------------------------------------------------


def _change_lines(t: Translator, event: Event, changed: str, language: str) -> list[str]:
    if changed == "title":
        return [t("New title: {title}", title=event.title)]
    if changed == "when":
        return [t("New time: {when}", when=notices.when_text(event, language))]
    if changed == "place":
        return [t("New place: {place}", place=notices.place_text(event.location, event.online_url))]
    return [t("The description has been updated.")]


async def _announce_change(
    session: AsyncSession,
    event: Event,
    what: str,
    *,
    now: dt.datetime,
    bot_username: str | None,
) -> int:
    """Tell members going, maybe or waiting what changed, and send those going who hold an
    invite an updated one; how many were told in Telegram."""
    notified = 0
    for rsvp, member in await events.rsvps_with_members(session, event.id):
        if rsvp.status not in rules.INTERESTED:
            continue
        t = translator(member.language)
        lines = [t("“{title}” has changed:", title=event.title)]
        lines += _change_lines(t, event, what, member.language)
        if await notices.tell(
            session,
            member,
            event,
            key=f"event-changed:{event.id}:{member.id}:{event.sequence}",
            text="\n".join(lines),
            now=now,
        ):
            notified += 1
        if rsvp.status == RsvpStatus.GOING and rsvp.invite_active:
            await notices.mail_invite(
                session,
                event,
                member,
                rsvp,
                kind="updated",
                now=now,
                bot_username=bot_username,
                changes=[CHANGE_LABELS[what]],
            )
    return notified


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
        event, region_name = await events.load(session, event_id, lock=True)
        rules.require_manager(actor, event.region_id)
        if event.status == EventStatus.CANCELLED:
            raise NotAllowed("event_cancelled")
        if now >= event.ends_at:
            raise NotAllowed("event_over")
        counts = Counter((await events.counts(session, [event.id]))[event.id])
        changed = _apply(event, what, value, now=now, going=counts[RsvpStatus.GOING])
        if what == "region" and changed:
            rules.require_region_allowed(actor, event.region_id)
            region_name = await events.active_region_name(session, event.region_id)
        if not changed:
            return EditOutcome(events.view_of(event, region_name, counts), False, 0, 0)
        event.updated_at = now
        notified = promoted = 0
        if what in ANNOUNCED:
            event.sequence += 1
            if what == "when":
                await notices.withdraw_reminders(session, event.id)
            notified = await _announce_change(
                session, event, what, now=now, bot_username=bot_username
            )
        if what == "capacity":
            promoted = await fill_free_seats(
                session, event, counts, now=now, bot_username=bot_username
            )
        audit.record(
            session,
            "event.changed",
            now=now,
            actor_member_id=actor.member_id,
            event_id=event.id,
            field=what,
        )
        view = events.view_of(event, region_name, counts)
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


# --- cancelling ----------------------------------------------------------------------------------


async def _announce_cancellation(
    session: AsyncSession,
    event: Event,
    message: str | None,
    *,
    now: dt.datetime,
    bot_username: str | None,
) -> int:
    """Send everyone holding an invite a CANCEL and tell members going, maybe or waiting (with
    the organisers' message); how many were told in Telegram."""
    notified = 0
    for rsvp, member in await events.rsvps_with_members(session, event.id):
        if rsvp.invite_active:
            await notices.mail_invite(
                session,
                event,
                member,
                rsvp,
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
            when=notices.when_text(event, member.language),
        )
        if message:
            text += "\n\n" + t("Message from the organisers: {message}", message=message)
        if await notices.tell(
            session,
            member,
            event,
            key=f"event-cancelled:{event.id}:{member.id}",
            text=text,
            now=now,
        ):
            notified += 1
    return notified


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
        event, region_name = await events.load(session, event_id, lock=True)
        rules.require_manager(actor, event.region_id)
        counts = (await events.counts(session, [event.id]))[event.id]
        if event.status == EventStatus.CANCELLED:
            return EditOutcome(events.view_of(event, region_name, counts), False, 0, 0)
        if now >= event.ends_at:
            raise NotAllowed("event_over")
        event.status = EventStatus.CANCELLED
        event.cancelled_at = now
        event.updated_at = now
        event.cancel_message = message
        event.sequence += 1
        await notices.withdraw_reminders(session, event.id)
        notified = await _announce_cancellation(
            session, event, message, now=now, bot_username=bot_username
        )
        audit.record(
            session, "event.cancelled", now=now, actor_member_id=actor.member_id, event_id=event.id
        )
        view = events.view_of(event, region_name, counts)
        await uow.commit()
        return EditOutcome(view, True, notified, 0)
