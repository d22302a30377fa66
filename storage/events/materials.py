"""An event's materials: documents (sent to the bot, kept and re-sent by Telegram file id) and
links, each with a title, optionally tied to a programme item. Organisers of the event's region
add them at any time; members going or who attended open them, with the programme."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select

from storage import audit
from storage.errors import InvalidInput, NotAllowed
from storage.events import programme, rules
from storage.events import views as events
from storage.models import CheckIn, Event, EventMaterial, Rsvp, RsvpStatus
from storage.permissions import Actor
from storage.uow import UnitOfWork

DOCUMENT = "document"
LINK = "link"
TITLE_MAX = 200
MATERIALS_MAX = 50
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Material:
    id: int
    title: str
    kind: str
    file_id: str | None
    url: str | None
    programme_position: int | None


@dataclass(frozen=True)
class Materials:
    event_id: int
    event_title: str
    programme: list[programme.Item]
    materials: list[Material]
    can_manage: bool


def parse_link(text: str) -> tuple[str, str]:
    """``Slides from the workshop: https://…`` (or the link first, then the title) -> title,
    url. Raises InvalidInput when there is no link or no title."""
    found = _URL.search(text)
    if found is None:
        raise InvalidInput("material_link_missing")
    url = rules.validate_online_url(found.group(0))
    title = (text[: found.start()] + " " + text[found.end() :]).strip(" \n:–-")
    return _title(title), url


def _title(value: str) -> str:
    title = " ".join(value.split())
    if not title:
        raise InvalidInput("material_title_empty")
    if len(title) > TITLE_MAX:
        raise InvalidInput("title_too_long", max=TITLE_MAX)
    return title


async def _may_open(uow: UnitOfWork, actor: Actor, event: Event) -> bool:
    if rules.may_manage(actor, event.region_id):
        return True
    if actor.member_id is None:
        return False
    session = uow.session
    going = await session.scalar(
        select(Rsvp.id).where(
            Rsvp.event_id == event.id,
            Rsvp.member_id == actor.member_id,
            Rsvp.status == RsvpStatus.GOING,
        )
    )
    attended = await session.scalar(
        select(CheckIn.id).where(CheckIn.event_id == event.id, CheckIn.member_id == actor.member_id)
    )
    return going is not None or attended is not None


async def show(uow: UnitOfWork, actor: Actor, event_id: int) -> Materials:
    """The programme and the materials, for members going or who attended and organisers."""
    async with uow:
        event, _ = await events.load(uow.session, event_id, lock=False)
        if not await _may_open(uow, actor, event):
            raise NotAllowed("materials_not_for_you")
        rows = await uow.session.scalars(
            select(EventMaterial)
            .where(EventMaterial.event_id == event_id)
            .order_by(EventMaterial.programme_position.is_(None), EventMaterial.id)
        )
        return Materials(
            event_id=event.id,
            event_title=event.title,
            programme=await programme.items_of(uow.session, event_id),
            materials=[
                Material(m.id, m.title, m.kind, m.file_id, m.url, m.programme_position)
                for m in rows.all()
            ],
            can_manage=rules.may_manage(actor, event.region_id),
        )


async def document(uow: UnitOfWork, actor: Actor, material_id: int) -> Material:
    """One document, to re-send by its file id (same rule as ``show``)."""
    async with uow:
        row = await uow.session.get(EventMaterial, material_id)
        if row is None or row.kind != DOCUMENT or row.file_id is None:
            raise InvalidInput("material_not_found")
        event, _ = await events.load(uow.session, row.event_id, lock=False)
        if not await _may_open(uow, actor, event):
            raise NotAllowed("materials_not_for_you")
        return Material(row.id, row.title, row.kind, row.file_id, row.url, row.programme_position)


async def add(
    uow: UnitOfWork,
    actor: Actor,
    event_id: int,
    *,
    title: str,
    file_id: str | None = None,
    url: str | None = None,
    programme_position: int | None = None,
    now: dt.datetime,
) -> Material:
    """Attach a document (``file_id``) or a link (``url``) to an event (its organisers)."""
    if (file_id is None) == (url is None):
        raise InvalidInput("material_kind_unknown")
    title = _title(title)
    if url is not None:
        url = rules.validate_online_url(url)
    async with uow:
        session = uow.session
        event, _ = await events.load(session, event_id, lock=True)
        rules.require_manager(actor, event.region_id)
        count = len(
            (
                await session.scalars(
                    select(EventMaterial.id).where(EventMaterial.event_id == event_id)
                )
            ).all()
        )
        if count >= MATERIALS_MAX:
            raise InvalidInput("materials_too_many", max=MATERIALS_MAX)
        items = await programme.items_of(session, event_id)
        if programme_position is not None and not 1 <= programme_position <= len(items):
            programme_position = None
        row = EventMaterial(
            event_id=event_id, title=title, kind=DOCUMENT if file_id else LINK, file_id=file_id,
            url=url, programme_position=programme_position, created_at=now,
            by_member_id=actor.member_id,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        audit.record(
            session, "event.material_added", now=now, actor_member_id=actor.member_id,
            event_id=event_id, material_id=row.id,
        )  # fmt: skip
        material = Material(row.id, row.title, row.kind, row.file_id, row.url, programme_position)
        await uow.commit()
        return material
