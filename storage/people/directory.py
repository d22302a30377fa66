"""The member directory: consent first, what a listed member shows, and search.

Nobody is listed without saying yes: no ``directory_entries`` row means "not asked yet", a row
with ``listed`` false means "no". Only verified, live members are listed. E-mail addresses are
never part of a card.

Search runs in Python over the listed members (name, organisation and the two lines folded with
``storage.people.folding``): SQLite's ``lower()`` knows only ASCII, and a network has hundreds
or a few thousand members, not millions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.models import DirectoryEntry, Member, MemberTopic, Topic
from storage.people.folding import matches
from storage.people.topics import TopicView, topic_view
from storage.rules import clean_text
from storage.uow import UnitOfWork

LINE_MAX = 200
TOPICS_MAX = 5
PAGE_SIZE = 5
LINES = ("can_help", "looking_for")


@dataclass(frozen=True)
class Card:
    """What other members see of a listed member (never the e-mail address)."""

    member_id: int
    name: str
    organisation: str | None
    sector: str | None
    region_id: int | None
    region_name: str | None
    can_help: str | None
    looking_for: str | None
    topics: tuple[TopicView, ...] = ()


@dataclass(frozen=True)
class MyDirectory:
    """A member's own directory choices (``asked`` false: they have not answered yet)."""

    asked: bool
    listed: bool
    verified: bool
    share_email: bool
    card: Card


@dataclass(frozen=True)
class Filters:
    sector: str | None = None
    region_id: int | None = None
    topic_id: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class Page:
    cards: list[Card]
    page: int
    pages: int
    total: int
    filters: Filters = field(default_factory=Filters)


def card_of(member: Member, entry: DirectoryEntry | None, topics: list[TopicView]) -> Card:
    return Card(
        member_id=member.id,
        name=member.name or "",
        organisation=member.organisation,
        sector=member.sector,
        region_id=member.region_id,
        region_name=member.region.name if member.region else None,
        can_help=entry.can_help if entry else None,
        looking_for=entry.looking_for if entry else None,
        topics=tuple(sorted(topics, key=lambda topic: topic.code)),
    )


async def topics_of(session: AsyncSession, member_ids: list[int]) -> dict[int, list[TopicView]]:
    found: dict[int, list[TopicView]] = {m: [] for m in member_ids}
    if not member_ids:
        return found
    rows = await session.execute(
        select(MemberTopic.member_id, Topic)
        .join(Topic, Topic.id == MemberTopic.topic_id)
        .where(MemberTopic.member_id.in_(member_ids), Topic.active.is_(True))
    )
    for member_id, topic in rows.all():
        found[member_id].append(topic_view(topic))
    return found


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.deleted_at is not None:
        raise NotFound("member_not_found")
    return member


async def _mine(session: AsyncSession, member: Member) -> MyDirectory:
    entry = await session.get(DirectoryEntry, member.id, populate_existing=True)
    topics = (await topics_of(session, [member.id]))[member.id]
    return MyDirectory(
        asked=entry is not None,
        listed=bool(entry and entry.listed),
        verified=member.email_verified_at is not None,
        share_email=bool(entry and entry.share_email),
        card=card_of(member, entry, topics),
    )


async def mine(uow: UnitOfWork, member_id: int) -> MyDirectory:
    async with uow:
        return await _mine(uow.session, await _member(uow.session, member_id))


async def _entry(session: AsyncSession, member_id: int, now: dt.datetime) -> DirectoryEntry:
    entry = await session.get(DirectoryEntry, member_id, with_for_update=True)
    if entry is None:
        entry = DirectoryEntry(
            member_id=member_id, listed=False, share_email=False, decided_at=now, updated_at=now
        )
        session.add(entry)
    return entry


async def set_listed(
    uow: UnitOfWork, member_id: int, *, listed: bool, now: dt.datetime
) -> MyDirectory:
    """The member's yes or no to the directory; a no hides them everywhere at once."""
    async with uow:
        session = uow.session
        member = await _member(session, member_id)
        entry = await _entry(session, member_id, now)
        entry.listed = listed
        entry.decided_at = now
        entry.updated_at = now
        await session.flush()
        audit.record(
            session,
            "directory.listed" if listed else "directory.hidden",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
        )
        result = await _mine(session, member)
        await uow.commit()
        return result


async def set_line(
    uow: UnitOfWork, member_id: int, line: str, value: str | None, *, now: dt.datetime
) -> MyDirectory:
    """ "I can help with …" (``can_help``) or "I am looking for …" (``looking_for``)."""
    if line not in LINES:
        raise InvalidInput("directory_line_unknown")
    text = clean_text(value or "")
    if len(text) > LINE_MAX:
        raise InvalidInput("directory_line_too_long", max=LINE_MAX)
    async with uow:
        session = uow.session
        member = await _member(session, member_id)
        entry = await _entry(session, member_id, now)
        setattr(entry, line, text or None)
        entry.updated_at = now
        await session.flush()
        result = await _mine(session, member)
        await uow.commit()
        return result


async def set_share_email(
    uow: UnitOfWork, member_id: int, *, share: bool, now: dt.datetime
) -> MyDirectory:
    async with uow:
        session = uow.session
        member = await _member(session, member_id)
        entry = await _entry(session, member_id, now)
        entry.share_email = share
        entry.updated_at = now
        await session.flush()
        result = await _mine(session, member)
        await uow.commit()
        return result


async def toggle_topic(
    uow: UnitOfWork, member_id: int, topic_id: int, *, now: dt.datetime
) -> MyDirectory:
    """Mark or unmark a topic on the member's card (at most five)."""
    async with uow:
        session = uow.session
        member = await _member(session, member_id)
        topic = await session.get(Topic, topic_id)
        if topic is None or not topic.active:
            raise NotFound("topic_not_found")
        await _entry(session, member_id, now)
        existing = await session.get(MemberTopic, (member_id, topic_id))
        if existing is not None:
            await session.delete(existing)
        else:
            current = (await topics_of(session, [member_id]))[member_id]
            if len(current) >= TOPICS_MAX:
                raise InvalidInput("too_many_topics", max=TOPICS_MAX)
            session.add(MemberTopic(member_id=member_id, topic_id=topic_id))
        await session.flush()
        result = await _mine(session, member)
        await uow.commit()
        return result


async def listed_cards(session: AsyncSession, member_ids: list[int] | None = None) -> list[Card]:
    """The cards of listed members (of these members only, when given)."""
    statement = (
        select(Member, DirectoryEntry)
        .join(DirectoryEntry, DirectoryEntry.member_id == Member.id)
        .where(
            DirectoryEntry.listed.is_(True),
            Member.deleted_at.is_(None),
            Member.email_verified_at.is_not(None),
        )
    )
    if member_ids is not None:
        statement = statement.where(Member.id.in_(member_ids))
    rows = (await session.execute(statement)).all()
    topics = await topics_of(session, [member.id for member, _entry in rows])
    return [card_of(member, entry, topics[member.id]) for member, entry in rows]


async def is_listed(session: AsyncSession, member_id: int) -> bool:
    return bool(await listed_cards(session, [member_id]))


async def search(uow: UnitOfWork, member_id: int, filters: Filters, *, page: int = 0) -> Page:
    """Listed members matching every filter, the searcher's own region first, then by name.

    Sector, region and topic are filtered in SQL over a few plain columns; the words in
    Python (folded); only the shown page's cards are loaded whole."""
    async with uow:
        session = uow.session
        searcher = await _member(session, member_id)
        if searcher.email_verified_at is None:
            raise InvalidInput("directory_unverified")
        statement = (
            select(
                Member.id,
                Member.name,
                Member.organisation,
                Member.region_id,
                DirectoryEntry.can_help,
                DirectoryEntry.looking_for,
            )
            .join(DirectoryEntry, DirectoryEntry.member_id == Member.id)
            .where(
                DirectoryEntry.listed.is_(True),
                Member.deleted_at.is_(None),
                Member.email_verified_at.is_not(None),
                Member.id != member_id,
            )
        )
        if filters.sector is not None:
            statement = statement.where(Member.sector == filters.sector)
        if filters.region_id is not None:
            statement = statement.where(Member.region_id == filters.region_id)
        if filters.topic_id is not None:
            statement = statement.where(
                Member.id.in_(
                    select(MemberTopic.member_id)
                    .join(Topic, Topic.id == MemberTopic.topic_id)
                    .where(MemberTopic.topic_id == filters.topic_id, Topic.active.is_(True))
                )
            )
        rows = [
            row
            for row in (await session.execute(statement)).all()
            if not filters.text
            or matches(filters.text, row.name, row.organisation, row.can_help, row.looking_for)
        ]
        own_region = searcher.region_id
        rows.sort(key=lambda r: (r.region_id != own_region, (r.name or "").casefold(), r.id))
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        shown = [r.id for r in rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]]
        cards = {c.member_id: c for c in await listed_cards(session, shown)}
        return Page([cards[i] for i in shown if i in cards], page, pages, len(rows), filters)


async def card(uow: UnitOfWork, member_id: int) -> Card:
    """A listed member's card (NotFound when they are not listed, or gone)."""
    async with uow:
        found = await listed_cards(uow.session, [member_id])
        if not found:
            raise NotFound("person_not_listed")
        return found[0]


async def remove(session: AsyncSession, member_id: int) -> None:
    """Erasure: the member leaves the directory at once (in the caller's transaction)."""
    await session.execute(delete(MemberTopic).where(MemberTopic.member_id == member_id))
    await session.execute(delete(DirectoryEntry).where(DirectoryEntry.member_id == member_id))
