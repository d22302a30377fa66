"""After a meeting: the follow-up to its participants (thanks, the region's next meetings and a
1–5 feedback question), and the feedback they give.

Each participant's follow-up is an outbox row keyed ``followup:{event}:{member}``, so a member
gets it once whether it goes out by the organiser's press, by the scheduled job, on several
workers or after a restart. ``event_followups`` holds when it first went (one row per event: a
second press can say when). The participants are the members checked in; when nobody was
checked in, the members going. Members who erased their data get nothing; erasure also drops
their queued messages.

A participant gets a "Who was there" button (``storage.people.participants``) when someone
else is shown on the event's participant list, which every participant may open.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.errors import InvalidInput
from storage.events import rules
from storage.events import views as events
from storage.models import (
    CheckIn,
    Event,
    EventFeedback,
    EventFollowUp,
    EventMaterial,
    EventStatus,
    Member,
    OutboxMessage,
    Rsvp,
    RsvpStatus,
)
from storage.people import participants
from storage.permissions import Actor
from storage.uow import UnitOfWork
from templates.formatting import format_short
from templates.i18n import translator

RATINGS = range(1, 6)
COMMENT_MAX = 1000
NEXT_MEETINGS = 3
# The scheduled job catches up on follow-ups that fell due this long ago (the bot was down),
# and no further: turning the feature on does not write to everyone about last year.
CATCH_UP = dt.timedelta(days=2)


def key(event_id: int, member_id: int) -> str:
    return f"followup:{event_id}:{member_id}"


@dataclass(frozen=True)
class SendOutcome:
    queued: int
    already_at: dt.datetime | None = None  # the follow-up went already, first at this time


@dataclass(frozen=True)
class FeedbackSummary:
    count: int = 0
    average: float | None = None
    distribution: dict[int, int] = field(default_factory=dict)  # rating -> answers
    comments: list[str] = field(default_factory=list)  # without names, oldest first


def summarise(rows: list[tuple[int, str | None]]) -> FeedbackSummary:
    """Ratings and comments -> count, average, distribution (every rating 1–5), comments."""
    if not rows:
        return FeedbackSummary()
    ratings = Counter(rating for rating, _ in rows)
    return FeedbackSummary(
        count=len(rows),
        average=sum(rating for rating, _ in rows) / len(rows),
        distribution={r: ratings.get(r, 0) for r in RATINGS},
        comments=[comment for _, comment in rows if comment],
    )


async def summaries(session: AsyncSession, event_ids: list[int]) -> dict[int, FeedbackSummary]:
    rows = (
        await session.execute(
            select(EventFeedback.event_id, EventFeedback.rating, EventFeedback.comment)
            .where(EventFeedback.event_id.in_(event_ids))
            .order_by(EventFeedback.created_at, EventFeedback.id)
        )
    ).all()
    by_event: dict[int, list[tuple[int, str | None]]] = {}
    for event_id, rating, comment in rows:
        by_event.setdefault(event_id, []).append((rating, comment))
    return {event_id: summarise(found) for event_id, found in by_event.items()}


async def feedback(uow: UnitOfWork, actor: Actor, event_id: int) -> FeedbackSummary:
    """The feedback on an event, for those who manage it."""
    async with uow:
        event, _ = await events.load(uow.session, event_id, lock=False)
        rules.require_manager(actor, event.region_id)
        return (await summaries(uow.session, [event_id])).get(event_id, FeedbackSummary())


async def status(
    session: AsyncSession, event_id: int
) -> tuple[FeedbackSummary, dt.datetime | None]:
    """An event's feedback and when its follow-up first went (None: not yet), for /attendees."""
    sent = await session.scalar(
        select(EventFollowUp.sent_at).where(EventFollowUp.event_id == event_id)
    )
    return (await summaries(session, [event_id])).get(event_id, FeedbackSummary()), sent


async def _recipients(session: AsyncSession, event_id: int) -> list[Member]:
    reachable = and_(Member.deleted_at.is_(None), Member.telegram_user_id.is_not(None))
    checked_in = (
        await session.scalars(
            select(Member)
            .join(CheckIn, CheckIn.member_id == Member.id)
            .where(CheckIn.event_id == event_id, reachable)
            .order_by(Member.id)
        )
    ).all()
    anyone_checked_in = await session.scalar(
        select(func.count(CheckIn.id)).where(CheckIn.event_id == event_id)
    )
    if anyone_checked_in:
        return list(checked_in)
    going = await session.scalars(
        select(Member)
        .join(Rsvp, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING, reachable)
        .order_by(Member.id)
    )
    return list(going.all())


async def _next_meetings(session: AsyncSession, event: Event, now: dt.datetime) -> list[Event]:
    condition = and_(Event.status == EventStatus.PUBLISHED, Event.starts_at > now)
    if event.region_id is not None:
        # The region's meetings and those for the whole network.
        condition = and_(
            condition, or_(Event.region_id == event.region_id, Event.region_id.is_(None))
        )
    found = await session.scalars(
        select(Event).where(condition).order_by(Event.starts_at).limit(NEXT_MEETINGS)
    )
    return list(found.all())


def message_text(
    event: Event,
    member: Member,
    upcoming: list[Event],
    materials: list[EventMaterial],
    *,
    who_was_there: bool = False,
) -> str:
    t = translator(member.language)
    tz = ZoneInfo(event.timezone)
    lines = [t("Thank you for coming to “{title}”!", title=event.title)]
    if materials:
        lines += ["", t("Materials from the meeting:")]
        lines += [f"• {m.title}" + (f": {m.url}" if m.url else "") for m in materials]
        if any(m.file_id for m in materials):
            lines.append(t("The documents are under Materials below."))
    if who_was_there:
        lines += [
            "",
            t(
                "Who was there: see the participants who chose to be shown, and ask them for "
                "an introduction."
            ),
        ]
    if upcoming:
        lines += ["", t("Next meetings:")]
        lines += [
            f"• {format_short(e.starts_at, tz=tz, language=member.language)} – {e.title}"
            for e in upcoming
        ]
        lines.append(t("See them all with /events."))
    lines += ["", t("How was the meeting? Give it 1 to 5 (5 is best).")]
    return "\n".join(lines)


def buttons(
    event_id: int, language: str, *, materials: bool, who_was_there: bool = False
) -> list[list[dict[str, str]]]:
    """The 1–5 rating, the event's materials when it has documents, and "Who was there" (the
    participant list of ``bot.people.participants``) when someone is shown on it."""
    t = translator(language)
    rows = [[{"text": str(r), "callback_data": f"fb:{event_id}:{r}"} for r in RATINGS]]
    if materials:
        rows.append([{"text": t("Materials"), "callback_data": f"mt:show:{event_id}"}])
    if who_was_there:
        rows.append([{"text": t("Who was there"), "callback_data": f"pp:ww:{event_id}"}])
    return rows


async def _queue(session: AsyncSession, event: Event, now: dt.datetime) -> int:
    upcoming = await _next_meetings(session, event, now)
    materials = list(
        (
            await session.scalars(
                select(EventMaterial)
                .where(EventMaterial.event_id == event.id)
                .order_by(EventMaterial.programme_position.is_(None), EventMaterial.id)
            )
        ).all()
    )
    documents = any(m.file_id for m in materials)
    shown = await participants.shown_ids(session, event.id)
    queued = 0
    for member in await _recipients(session, event.id):
        assert member.telegram_user_id is not None
        # Every recipient is a participant, so may open the list; worth a button when it
        # shows someone else.
        others = bool(shown - {member.id})
        if await outbox.enqueue_telegram(
            session,
            key=key(event.id, member.id),
            chat_id=member.telegram_user_id,
            member_id=member.id,
            text=message_text(event, member, upcoming, materials, who_was_there=others),
            buttons=buttons(event.id, member.language, materials=documents, who_was_there=others),
            now=now,
        ):
            queued += 1
    return queued


async def _mark_sent(
    session: AsyncSession, event_id: int, by: int | None, now: dt.datetime
) -> dt.datetime | None:
    """Record that the follow-up went now; None if this was the first time, else when it did."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(EventFollowUp)
        .values(event_id=event_id, sent_at=now, by_member_id=by, recipients=0)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return None
    return await session.scalar(
        select(EventFollowUp.sent_at).where(EventFollowUp.event_id == event_id)
    )


async def send_now(
    uow: UnitOfWork, actor: Actor, event_id: int, *, now: dt.datetime
) -> SendOutcome:
    """The organiser's "Send follow-up now" (after the start). A second press queues nothing
    and says when it went."""
    async with uow:
        session = uow.session
        event, _ = await events.load(session, event_id, lock=True)
        rules.require_manager(actor, event.region_id)
        if event.status != EventStatus.PUBLISHED:
            raise InvalidInput("event_cancelled")
        if event.starts_at > now:
            raise InvalidInput("followup_before_start")
        earlier = await _mark_sent(session, event.id, actor.member_id, now)
        if earlier is not None:
            return SendOutcome(queued=0, already_at=earlier)
        queued = await _queue(session, event, now)
        await _count(session, event.id, queued)
        await uow.commit()
        return SendOutcome(queued=queued)


async def _count(session: AsyncSession, event_id: int, queued: int) -> None:
    row = await session.get(EventFollowUp, event_id)
    if row is not None:
        row.recipients += queued


async def queue_due(uow: UnitOfWork, *, delay: dt.timedelta | None, now: dt.datetime) -> int:
    """The scheduled follow-ups: for meetings that ended ``delay`` ago (within CATCH_UP),
    queue the follow-up for every participant who has not had it. Idempotent."""
    if delay is None:
        return 0
    queued = 0
    async with uow:
        session = uow.session
        due = (
            await session.scalars(
                select(Event)
                .where(
                    Event.status == EventStatus.PUBLISHED,
                    Event.ends_at <= now - delay,
                    Event.ends_at > now - delay - CATCH_UP,
                )
                .order_by(Event.ends_at, Event.id)
                # The event's row lock, as "Send follow-up now" takes it: one at a time per
                # event, always in the same order (no deadlock between workers and presses).
                .with_for_update()
            )
        ).all()
        for event in due:
            await _mark_sent(session, event.id, None, now)
            here = await _queue(session, event, now)
            await _count(session, event.id, here)
            queued += here
        await uow.commit()
    return queued


@dataclass(frozen=True)
class Rated:
    event_title: str
    rating: int


async def rate(
    uow: UnitOfWork, member_id: int, event_id: int, rating: int, *, now: dt.datetime
) -> Rated | None:
    """A participant's rating from the follow-up's buttons; pressing again changes it. None
    (and nothing changed) when this member was not asked: a forged or foreign press."""
    if rating not in RATINGS:
        return None
    async with uow:
        session = uow.session
        if not await _was_asked(session, member_id, event_id):
            return None
        title = await session.scalar(select(Event.title).where(Event.id == event_id))
        if title is None:
            return None
        row = await session.scalar(
            select(EventFeedback).where(
                EventFeedback.event_id == event_id, EventFeedback.member_id == member_id
            )
        )
        if row is None:
            session.add(
                EventFeedback(
                    event_id=event_id, member_id=member_id, rating=rating, created_at=now,
                    updated_at=now,
                )
            )  # fmt: skip
        else:
            row.rating, row.updated_at = rating, now
        await uow.commit()
        return Rated(title, rating)


async def comment(
    uow: UnitOfWork, member_id: int, event_id: int, text: str, *, now: dt.datetime
) -> bool:
    """The optional comment after a rating. False when there is no rating to add it to."""
    text = text.strip()
    if not text:
        raise InvalidInput("comment_empty")
    if len(text) > COMMENT_MAX:
        raise InvalidInput("comment_too_long", max=COMMENT_MAX)
    async with uow:
        row = await uow.session.scalar(
            select(EventFeedback).where(
                EventFeedback.event_id == event_id, EventFeedback.member_id == member_id
            )
        )
        if row is None or not await _was_asked(uow.session, member_id, event_id):
            return False
        row.comment, row.updated_at = text, now
        await uow.commit()
        return True


async def _was_asked(session: AsyncSession, member_id: int, event_id: int) -> bool:
    member_deleted = await session.scalar(
        select(Member.deleted_at.is_not(None)).where(Member.id == member_id)
    )
    if member_deleted is None or member_deleted:
        return False
    found = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.key == key(event_id, member_id))
    )
    return found is not None
