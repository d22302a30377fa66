"""Who was there: after an event's start, its participants (going or checked in) see the cards
of the participants who consented, and can ask them for an introduction. The consent is the
member's choice for that event ("show me on the participant list", set when going), else
their directory choice. The organiser's own list (/attendees) stays complete."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import (
    CheckIn,
    DirectoryEntry,
    Event,
    EventStatus,
    Member,
    ParticipantVisibility,
    Rsvp,
    RsvpStatus,
)
from storage.people.directory import Card, card_of, listed_cards, topics_of
from storage.uow import UnitOfWork


async def _participant_ids(session: AsyncSession, event_id: int) -> set[int]:
    going = await session.scalars(
        select(Rsvp.member_id).where(Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING)
    )
    checked = await session.scalars(select(CheckIn.member_id).where(CheckIn.event_id == event_id))
    return {m for m in [*going.all(), *checked.all()] if m is not None}


async def _event(session: AsyncSession, event_id: int) -> Event:
    event = await session.get(Event, event_id)
    if event is None or event.status != EventStatus.PUBLISHED:
        raise NotFound("event_not_found")
    return event


async def _visible(session: AsyncSession, event_id: int, member_id: int) -> bool:
    choice = await session.get(ParticipantVisibility, (event_id, member_id))
    if choice is not None:
        return choice.visible
    entry = await session.get(DirectoryEntry, member_id)
    return bool(entry and entry.listed)


async def my_choice(uow: UnitOfWork, member_id: int, event_id: int) -> bool:
    async with uow:
        await _event(uow.session, event_id)
        return await _visible(uow.session, event_id, member_id)


async def set_choice(
    uow: UnitOfWork, member_id: int, event_id: int, *, visible: bool, now: dt.datetime
) -> bool:
    async with uow:
        session = uow.session
        await _event(session, event_id)
        choice = await session.get(ParticipantVisibility, (event_id, member_id))
        if choice is None:
            session.add(
                ParticipantVisibility(
                    event_id=event_id, member_id=member_id, visible=visible, updated_at=now
                )
            )
        else:
            choice.visible = visible
            choice.updated_at = now
        await uow.commit()
        return visible


async def who_was_there(
    uow: UnitOfWork, member_id: int, event_id: int, *, now: dt.datetime
) -> list[Card]:
    async with uow:
        session = uow.session
        event = await _event(session, event_id)
        if event.starts_at > now:
            raise InvalidInput("event_not_started")
        participants = await _participant_ids(session, event_id)
        if member_id not in participants:
            raise NotAllowed("not_a_participant")
        others = sorted(participants - {member_id})
        if not others:
            return []
        members = (
            await session.scalars(
                select(Member).where(Member.id.in_(others), Member.deleted_at.is_(None))
            )
        ).all()
        shown = [m for m in members if await _visible(session, event_id, m.id)]
        topics = await topics_of(session, [m.id for m in shown])
        entries = {
            e.member_id: e
            for e in (
                await session.scalars(
                    select(DirectoryEntry).where(
                        DirectoryEntry.member_id.in_([m.id for m in shown])
                    )
                )
            ).all()
        }
        cards = [card_of(m, entries.get(m.id), topics[m.id]) for m in shown]
        return sorted(cards, key=lambda c: (c.name.casefold(), c.member_id))


async def shown_ids(session: AsyncSession, event_id: int) -> set[int]:
    """The participants of an event who are shown on its "Who was there" list (not erased)."""
    participants = await _participant_ids(session, event_id)
    if not participants:
        return set()
    kept = (
        await session.scalars(
            select(Member.id).where(Member.id.in_(participants), Member.deleted_at.is_(None))
        )
    ).all()
    return {m for m in kept if await _visible(session, event_id, m)}


async def shown_together(session: AsyncSession, asker_id: int, target_id: int) -> bool:
    """Whether the target is on the "Who was there" list of an event both took part in."""
    events_of_asker = select(Rsvp.event_id).where(
        Rsvp.member_id == asker_id, Rsvp.status == RsvpStatus.GOING
    )
    checked_asker = select(CheckIn.event_id).where(CheckIn.member_id == asker_id)
    shared = list(
        (
            await session.scalars(
                select(Rsvp.event_id).where(
                    Rsvp.member_id == target_id,
                    Rsvp.status == RsvpStatus.GOING,
                    or_(Rsvp.event_id.in_(events_of_asker), Rsvp.event_id.in_(checked_asker)),
                )
            )
        ).all()
    )
    shared += (
        await session.scalars(
            select(CheckIn.event_id).where(
                CheckIn.member_id == target_id,
                or_(CheckIn.event_id.in_(events_of_asker), CheckIn.event_id.in_(checked_asker)),
            )
        )
    ).all()
    for event_id in set(shared):
        if await _visible(session, event_id, target_id):
            return True
    return False


async def reachable_card(session: AsyncSession, asker_id: int, target_id: int) -> Card:
    """The card of a member the asker may ask for an introduction: listed in the directory,
    or shown on the participant list of an event they both took part in."""
    listed = await listed_cards(session, [target_id])
    if listed:
        return listed[0]
    member = await session.get(Member, target_id)
    if member is None or member.deleted_at is not None or member.email_verified_at is None:
        raise NotFound("person_not_listed")
    if not await shown_together(session, asker_id, target_id):
        raise NotFound("person_not_listed")
    entry = await session.get(DirectoryEntry, target_id)
    return card_of(member, entry, (await topics_of(session, [target_id]))[target_id])


async def card_for(uow: UnitOfWork, asker_id: int, target_id: int) -> Card:
    async with uow:
        return await reachable_card(uow.session, asker_id, target_id)
