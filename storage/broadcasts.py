"""Broadcasts: an organiser's message to everyone, a region, a sector or an event's attendees.

Confirming a broadcast snapshots its recipients: one Telegram outbox row per member, keyed
``broadcast:{id}:{member_id}``, inserted in the same transaction as the broadcast. From then
on the scheduler delivers the rows at Telegram's limits; progress and the final report are
counted from them (see :func:`progress`), so a restart mid-broadcast resumes where it was and
sends nothing twice.

The text is Telegram HTML (what python-telegram-bot's ``Message.text_html`` gives for the
formatting the organiser used in Telegram), checked by :func:`validate_html`: only the tags
Telegram knows, properly nested, links to http(s), tg: or mailto: only, within the length
Telegram allows.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.errors import InvalidInput, NotAllowed
from storage.models import (
    AudienceKind,
    Broadcast,
    Event,
    EventStatus,
    MediaKind,
    Member,
    OutboxMessage,
    OutboxStatus,
    Region,
    Rsvp,
    RsvpStatus,
    Sector,
)
from storage.permissions import Actor, require_organiser, visible_region_ids
from storage.scheduling import UNREACHABLE
from storage.uow import UnitOfWork
from templates.i18n import Translator, translator

TEXT_MAX = 4096  # Telegram's limit for a message, counted after the markup is parsed
CAPTION_MAX = 1024  # ... and for the caption of a photo or document
FILE_ID_MAX = 255
PARSE_MODE = "HTML"
INSERT_CHUNK = 500
# Every member's copy starts with a label naming the network and the organiser who sent it (in
# the member's language); the organiser's own text may use the rest of Telegram's limit.
LABEL_BUDGET = 160
NAME_IN_LABEL = 50

# The HTML Telegram understands (https://core.telegram.org/bots/api#html-style), with the
# attributes each tag may carry.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
LINK_SCHEMES = frozenset({"http", "https", "tg", "mailto"})
ENTITIES = frozenset({"lt", "gt", "amp", "quot"})


def row_key(broadcast_id: int, member_id: int) -> str:
    return f"broadcast:{broadcast_id}:{member_id}"


def report_key(broadcast_id: int) -> str:
    # Not under "broadcast:{id}:" so that counting the recipients' rows never counts it.
    return f"broadcast-report:{broadcast_id}"


# --- the message ---------------------------------------------------------------------------


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.visible: list[str] = []
        self.error: str | None = None

    def _fail(self, problem: str) -> None:
        self.error = self.error or problem

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = ALLOWED_TAGS.get(tag)
        if allowed is None:
            self._fail(f"tag <{tag}> is not supported")
            return
        for name, value in attrs:
            if name not in allowed:
                self._fail(f"attribute {name} of <{tag}> is not supported")
            elif tag == "a" and not _safe_link(value or ""):
                self._fail("link is not http(s), tg or mailto")
            elif tag == "span" and value != "tg-spoiler":
                self._fail("span must be a spoiler")
        if tag == "a" and not any(name == "href" for name, _ in attrs):
            self._fail("link without href")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._fail(f"self-closing <{tag}/> is not supported")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self._fail(f"</{tag}> does not close the open tag")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self._fail("unescaped < or >")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ENTITIES:
            self._fail(f"entity &{name}; is not supported")
        self.visible.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.visible.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self._fail("comments are not supported")

    def handle_decl(self, decl: str) -> None:
        self._fail("declarations are not supported")

    def handle_pi(self, data: str) -> None:
        self._fail("processing instructions are not supported")

    def unknown_decl(self, data: str) -> None:
        self._fail("declarations are not supported")


def _safe_link(href: str) -> bool:
    parts = urlsplit(href.strip())
    if parts.scheme.lower() not in LINK_SCHEMES:
        return False
    return parts.scheme.lower() in ("tg", "mailto") or bool(parts.netloc)


def telegram_length(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def validate_html(text: str, *, limit: int = TEXT_MAX) -> str:
    """The message as Telegram HTML, or InvalidInput (``broadcast_empty``,
    ``broadcast_too_long`` with ``max``, ``broadcast_markup``)."""
    text = text.strip()
    checker = _Checker()
    try:
        checker.feed(text)
        checker.close()
    except AssertionError:  # html.parser's way of refusing some malformed input
        raise InvalidInput("broadcast_markup") from None
    if checker.error is not None or checker.open:
        raise InvalidInput("broadcast_markup")
    visible = "".join(checker.visible)
    if limit == TEXT_MAX and not visible.strip():
        raise InvalidInput("broadcast_empty")
    if telegram_length(visible) > limit:
        raise InvalidInput("broadcast_too_long", max=limit)
    return text


@dataclass(frozen=True)
class BroadcastContent:
    """What the members get: HTML text, or a photo or document with an HTML caption."""

    text: str
    media_kind: str | None = None
    media_file_id: str | None = None


def validate_content(
    text: str, *, media_kind: str | None = None, media_file_id: str | None = None
) -> BroadcastContent:
    if media_kind is None:
        return BroadcastContent(validate_html(text, limit=TEXT_MAX - LABEL_BUDGET))
    if media_kind not in set(MediaKind) or not media_file_id or len(media_file_id) > FILE_ID_MAX:
        raise InvalidInput("broadcast_media")
    return BroadcastContent(
        validate_html(text, limit=CAPTION_MAX - LABEL_BUDGET), media_kind, media_file_id
    )


@dataclass(frozen=True)
class Sender:
    """Who a broadcast is from, for the label on every copy: the network (the bot's name in
    Telegram) and the organiser (their name)."""

    network: str
    organiser: str


def _short(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= NAME_IN_LABEL else name[: NAME_IN_LABEL - 1] + "…"


def label_html(t: Translator, sender: Sender) -> str:
    """The first line of a member's copy, in their language (Telegram HTML)."""
    return "<b>{}</b>".format(
        html.escape(
            t(
                "📣 {network} · from {organiser}",
                network=_short(sender.network),
                organiser=_short(sender.organiser),
            ),
            quote=False,
        )
    )


def labelled(content: BroadcastContent, t: Translator, sender: Sender | None) -> str:
    """The text (or caption) of a member's copy: the label, then the organiser's message."""
    if sender is None:
        return content.text
    return f"{label_html(t, sender)}\n\n{content.text}".strip()


def telegram_payload(
    content: BroadcastContent, chat_id: int, text: str | None = None
) -> dict[str, Any]:
    """The outbox payload of one recipient's message (see storage.outbox)."""
    payload: dict[str, Any] = {
        "chat_id": chat_id,
        "text": content.text if text is None else text,
        "parse_mode": PARSE_MODE,
        "buttons": None,
    }
    if content.media_kind is not None:
        payload[content.media_kind] = content.media_file_id
    return payload


# --- the audience --------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    kind: str
    value: str | None = None

    @classmethod
    def everyone(cls) -> Audience:
        return cls(AudienceKind.EVERYONE)

    @classmethod
    def region(cls, region_id: int) -> Audience:
        return cls(AudienceKind.REGION, str(region_id))

    @classmethod
    def sector(cls, sector: str) -> Audience:
        return cls(AudienceKind.SECTOR, sector)

    @classmethod
    def event(cls, event_id: int) -> Audience:
        return cls(AudienceKind.EVENT, str(event_id))


@dataclass(frozen=True)
class EventChoice:
    id: int
    title: str
    starts_at: dt.datetime


@dataclass(frozen=True)
class AudienceOptions:
    """What an organiser may choose from: an organiser for one region gets that region only."""

    scope_region_id: int | None
    scope_region_name: str | None
    regions: list[tuple[int, str]]
    events: list[EventChoice]


@dataclass(frozen=True)
class AudienceLabel:
    """What the audience is, for the preview: ``kind`` and the region, sector or event named,
    plus the region an organiser is limited to."""

    kind: str
    name: str | None
    scope_region_name: str | None
    event_starts_at: dt.datetime | None = None


@dataclass(frozen=True)
class Preview:
    audience: Audience
    label: AudienceLabel
    recipients: int


def _int(value: str | None) -> int:
    if value is None or not value.isdigit():
        raise InvalidInput("audience_unknown")
    return int(value)


Recipients: TypeAlias = "Select[int, int | None, str]"  # member id, Telegram id, language


def _reachable_members() -> Recipients:
    return select(Member.id, Member.telegram_user_id, Member.language).where(
        Member.deleted_at.is_(None),
        Member.consent_at.is_not(None),
        Member.telegram_user_id.is_not(None),
        Member.unreachable_at.is_(None),
    )


async def _resolve(
    session: AsyncSession, actor: Actor, audience: Audience
) -> tuple[Recipients, AudienceLabel, int | None]:
    """The recipients' query, the audience's label and the region scope, or InvalidInput /
    NotAllowed."""
    require_organiser(actor)
    scope = visible_region_ids(actor)
    scope_name = None
    statement = _reachable_members()
    if scope is not None:
        region = await session.get(Region, scope)
        scope_name = region.name if region is not None else None
        statement = statement.where(Member.region_id == scope)
    if audience.kind == AudienceKind.EVERYONE:
        return statement, AudienceLabel(audience.kind, None, scope_name), scope
    if audience.kind == AudienceKind.REGION:
        region_id = _int(audience.value)
        region = await session.get(Region, region_id)
        if region is None or not region.active:
            raise InvalidInput("region_unknown")
        if scope is not None and region_id != scope:
            raise NotAllowed("broadcast_other_region")
        statement = statement.where(Member.region_id == region_id)
        return statement, AudienceLabel(audience.kind, region.name, scope_name), scope
    if audience.kind == AudienceKind.SECTOR:
        if audience.value not in set(Sector):
            raise InvalidInput("sector_unknown")
        statement = statement.where(Member.sector == audience.value)
        return statement, AudienceLabel(audience.kind, audience.value, scope_name), scope
    if audience.kind == AudienceKind.EVENT:
        event = await session.get(Event, _int(audience.value))
        if event is None:
            raise InvalidInput("event_not_found")
        if scope is not None and event.region_id != scope:
            raise NotAllowed("broadcast_other_region")
        going = select(Rsvp.member_id).where(
            Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.GOING
        )
        # The event's attendees wherever they live: the event, not the region, is the scope.
        statement = _reachable_members().where(Member.id.in_(going))
        label = AudienceLabel(audience.kind, event.title, scope_name, event.starts_at)
        return statement, label, scope
    raise InvalidInput("audience_unknown")


async def audience_options(
    uow: UnitOfWork, actor: Actor, *, now: dt.datetime, events: int = 8
) -> AudienceOptions:
    """The regions and the upcoming events an organiser may broadcast to."""
    require_organiser(actor)
    scope = visible_region_ids(actor)
    async with uow:
        region_query = select(Region).where(Region.active.is_(True)).order_by(Region.id)
        event_query = (
            select(Event)
            .where(Event.status == EventStatus.PUBLISHED, Event.ends_at >= now)
            .order_by(Event.starts_at, Event.id)
            .limit(events)
        )
        if scope is not None:
            region_query = region_query.where(Region.id == scope)
            event_query = event_query.where(Event.region_id == scope)
        regions = [(r.id, r.name) for r in (await uow.session.scalars(region_query)).all()]
        upcoming = [
            EventChoice(e.id, e.title, e.starts_at)
            for e in (await uow.session.scalars(event_query)).all()
        ]
        scope_name = regions[0][1] if scope is not None and regions else None
        return AudienceOptions(scope, scope_name, regions, upcoming)


async def preview(uow: UnitOfWork, actor: Actor, audience: Audience) -> Preview:
    """How many members the broadcast would reach, and who they are (for the confirmation)."""
    async with uow:
        statement, label, _scope = await _resolve(uow.session, actor, audience)
        count = await uow.session.scalar(select(func.count()).select_from(statement.subquery()))
        return Preview(audience, label, int(count or 0))


@dataclass(frozen=True)
class BroadcastView:
    id: int
    total: int
    created: bool


async def create(
    uow: UnitOfWork,
    actor: Actor,
    *,
    draft_key: str,
    content: BroadcastContent,
    audience: Audience,
    language: str,
    progress_chat_id: int | None,
    progress_message_id: int | None,
    now: dt.datetime,
    sender: Sender | None = None,
) -> BroadcastView:
    """Confirm a broadcast: the broadcast, one outbox row per recipient and the audit entry,
    in one transaction. Confirming the same draft again returns the first broadcast."""
    content = validate_content(
        content.text, media_kind=content.media_kind, media_file_id=content.media_file_id
    )
    if not draft_key or len(draft_key) > 100:
        raise InvalidInput("broadcast_draft")
    async with uow:
        existing = await uow.session.scalar(
            select(Broadcast).where(Broadcast.draft_key == draft_key)
        )
        if existing is not None:
            return BroadcastView(existing.id, existing.total, created=False)
        statement, _label, scope = await _resolve(uow.session, actor, audience)
        recipients = (await uow.session.execute(statement.order_by(Member.id))).all()
        if not recipients:
            raise InvalidInput("broadcast_no_recipients")
        broadcast = Broadcast(
            draft_key=draft_key,
            author_member_id=actor.member_id,
            text=content.text,
            media_kind=content.media_kind,
            media_file_id=content.media_file_id,
            audience_kind=audience.kind,
            audience_value=audience.value,
            scope_region_id=scope,
            total=len(recipients),
            language=language,
            progress_chat_id=progress_chat_id,
            progress_message_id=progress_message_id,
            created_at=now,
        )
        uow.session.add(broadcast)
        try:
            await uow.session.flush()
        except IntegrityError:
            # The same confirmation at the same moment from a second tap: the other one won.
            await uow.session.rollback()
            won = await uow.session.scalar(
                select(Broadcast).where(Broadcast.draft_key == draft_key)
            )
            if won is None:
                raise
            return BroadcastView(won.id, won.total, created=False)
        await _queue_rows(uow.session, broadcast.id, content, recipients, sender, now=now)
        audit.record(
            uow.session,
            "broadcast.created",
            now=now,
            actor_member_id=actor.member_id,
            broadcast_id=broadcast.id,
            audience=audience.kind,
            audience_value=audience.value,
            recipients=len(recipients),
        )
        result = BroadcastView(broadcast.id, broadcast.total, created=True)
        await uow.commit()
        return result


async def _queue_rows(
    session: AsyncSession,
    broadcast_id: int,
    content: BroadcastContent,
    recipients: Sequence[Any],
    sender: Sender | None,
    *,
    now: dt.datetime,
) -> None:
    texts = {
        language: labelled(content, translator(language), sender)
        for language in {language for _, _, language in recipients}
    }
    rows = [
        {
            "key": row_key(broadcast_id, member_id),
            "channel": outbox.TELEGRAM,
            "member_id": member_id,
            "payload": telegram_payload(content, chat_id, texts[language]),
            "status": OutboxStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for member_id, chat_id, language in recipients
    ]
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(rows), INSERT_CHUNK):
        statement = dialect_insert(OutboxMessage).on_conflict_do_nothing(index_elements=["key"])
        await session.execute(statement, rows[start : start + INSERT_CHUNK])


# --- progress and the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Counted from the broadcast's outbox rows. Rows withdrawn since (a recipient erased their
    data) count nowhere, so the parts may add up to less than ``total``."""

    total: int
    delivered: int = 0
    unreachable: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def done(self) -> bool:
        return self.pending == 0

    def signature(self) -> str:
        return f"{self.delivered}/{self.unreachable}/{self.failed}/{self.pending}"


async def _count(session: AsyncSession, broadcast_id: int, total: int) -> Progress:
    unreachable = case(
        (OutboxMessage.last_error.like(f"{UNREACHABLE}:%"), True),
        else_=False,
    )
    rows = await session.execute(
        select(OutboxMessage.status, unreachable, func.count())
        .where(OutboxMessage.key.like(f"broadcast:{broadcast_id}:%"))
        .group_by(OutboxMessage.status, unreachable)
    )
    counts = {"delivered": 0, "unreachable": 0, "failed": 0, "pending": 0}
    for status, is_unreachable, n in rows.all():
        if status == OutboxStatus.SENT:
            counts["delivered"] += n
        elif status == OutboxStatus.FAILED:
            counts["unreachable" if is_unreachable else "failed"] += n
        else:
            counts["pending"] += n
    return Progress(total=total, **counts)


async def progress(uow: UnitOfWork, broadcast_id: int) -> Progress:
    async with uow:
        broadcast = await uow.session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise InvalidInput("broadcast_unknown")
        return await _count(uow.session, broadcast.id, broadcast.total)


def _n(t: Translator, n: int) -> str:
    return format_decimal(n, locale=t.language)


def progress_text(t: Translator, progress: Progress) -> str:
    """The organiser's progress message while the broadcast goes out."""
    lines = [
        t(
            "Sending your broadcast: sent {sent} of {total}.",
            sent=_n(t, progress.delivered),
            total=_n(t, progress.total),
        )
    ]
    missed = progress.unreachable + progress.failed
    if missed:
        lines.append(t("Not delivered so far: {n}.", n=_n(t, missed)))
    return "\n".join(lines)


def report_text(t: Translator, progress: Progress) -> str:
    """The final report: one message to the organiser, from the outbox (the progress message
    is taken away then)."""
    lines = [
        t("Your broadcast is done."),
        t("Delivered: {n}", n=_n(t, progress.delivered)),
        t(
            "Unreachable (blocked the bot or left Telegram): {n}",
            n=_n(t, progress.unreachable),
        ),
        t("Failed: {n}", n=_n(t, progress.failed)),
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class ProgressUpdate:
    """An edit the scheduler owes an organiser's progress message."""

    broadcast_id: int
    chat_id: int
    message_id: int
    text: str
    final: bool


async def due_progress(
    uow: UnitOfWork, *, now: dt.datetime, interval: dt.timedelta
) -> list[ProgressUpdate]:
    """Broadcasts whose progress message should change now (not more often than ``interval``).

    A broadcast with nothing left to send is finished here: its report is queued (once: the
    outbox key) in the same transaction. Row locks (SKIP LOCKED) keep two workers from
    reporting the same broadcast at the same moment.
    """
    async with uow:
        rows = (
            await uow.session.scalars(
                select(Broadcast)
                .where(
                    Broadcast.finished_at.is_(None),
                    or_(Broadcast.progress_at.is_(None), Broadcast.progress_at <= now - interval),
                )
                .order_by(Broadcast.id)
                .with_for_update(skip_locked=True)
            )
        ).all()
        updates = []
        for broadcast in rows:
            counted = await _count(uow.session, broadcast.id, broadcast.total)
            t = translator(broadcast.language)
            if counted.done:
                broadcast.finished_at = now
                text = report_text(t, counted)
                if broadcast.progress_chat_id is not None:
                    await outbox.enqueue_telegram(
                        uow.session,
                        key=report_key(broadcast.id),
                        chat_id=broadcast.progress_chat_id,
                        text=text,
                        now=now,
                        member_id=broadcast.author_member_id,
                    )
                audit.record(
                    uow.session,
                    "broadcast.finished",
                    now=now,
                    broadcast_id=broadcast.id,
                    delivered=counted.delivered,
                    unreachable=counted.unreachable,
                    failed=counted.failed,
                )
                text = t("Sending finished: the report follows.")  # if it cannot be deleted
            elif counted.signature() == broadcast.progress_shown:
                continue
            else:
                text = progress_text(t, counted)
            broadcast.progress_at = now
            broadcast.progress_shown = counted.signature()
            if broadcast.progress_chat_id is not None and broadcast.progress_message_id:
                updates.append(
                    ProgressUpdate(
                        broadcast.id,
                        broadcast.progress_chat_id,
                        broadcast.progress_message_id,
                        text,
                        final=counted.done,
                    )
                )
        await uow.commit()
        return updates
