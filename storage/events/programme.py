"""An event's programme: items with a time, a title, and optionally a speaker and their
organisation. Organisers type it as lines (``13:00 Welcome – Karen Jensen, Teknologisk
Institut``); the rules reading them are pure functions."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.events import rules
from storage.models import Event, ProgrammeItem
from storage.permissions import Actor
from storage.uow import UnitOfWork

ITEMS_MAX = 30
TITLE_MAX = 200
SPEAKER_MAX = 100
ORGANISATION_MAX = 200
CLEAR = {"-", "–", "—"}
_LINE = re.compile(r"^(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s+(?P<rest>.+)$")
_SPEAKER_SEPARATOR = re.compile(r"\s+[–—-]\s+|\s*\|\s*")


@dataclass(frozen=True)
class Item:
    at: str  # "13:00"
    title: str
    speaker: str | None = None
    organisation: str | None = None

    def compact(self) -> str:
        """``13:00 Welcome (Karen Jensen, Teknologisk Institut)``."""
        who = ", ".join(x for x in (self.speaker, self.organisation) if x)
        return f"{self.at} {self.title}" + (f" ({who})" if who else "")


def parse(text: str) -> list[Item]:
    """One item per line: a time, a title, then optionally ``– speaker, organisation``.
    ``-`` alone clears the programme. Raises InvalidInput naming the first unreadable line."""
    if text.strip() in CLEAR:
        return []
    items: list[Item] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.split())
        if not line:
            continue
        found = _LINE.match(line)
        hour = int(found["hour"]) if found else 99
        minute = int(found["minute"] or 0) if found else 99
        if found is None or hour > 23 or minute > 59:
            raise InvalidInput("programme_line_unreadable", line=number)
        title, _, who = (p.strip() for p in _split_once(found["rest"]))
        speaker, _, organisation = (p.strip() for p in who.partition(","))
        if not title or len(title) > TITLE_MAX or len(speaker) > SPEAKER_MAX:
            raise InvalidInput("programme_line_unreadable", line=number)
        if len(organisation) > ORGANISATION_MAX:
            raise InvalidInput("programme_line_unreadable", line=number)
        items.append(Item(f"{hour:02d}:{minute:02d}", title, speaker or None, organisation or None))
    if not items:
        raise InvalidInput("programme_empty")
    if len(items) > ITEMS_MAX:
        raise InvalidInput("programme_too_long", max=ITEMS_MAX)
    return items


def _split_once(rest: str) -> tuple[str, str, str]:
    parts = _SPEAKER_SEPARATOR.split(rest, maxsplit=1)
    return (parts[0], "–", parts[1]) if len(parts) == 2 else (rest, "", "")


def as_text(items: list[Item]) -> str:
    """The programme as the organiser would type it (to edit it again)."""
    lines = []
    for item in items:
        who = ", ".join(x for x in (item.speaker, item.organisation) if x)
        lines.append(f"{item.at} {item.title}" + (f" – {who}" if who else ""))
    return "\n".join(lines)


def add_items(session: AsyncSession, event_id: int, items: list[Item]) -> None:
    """Add an event's programme in the caller's transaction (a new event's, or a replacement)."""
    session.add_all(
        ProgrammeItem(
            event_id=event_id, position=n, at=item.at, title=item.title, speaker=item.speaker,
            organisation=item.organisation,
        )
        for n, item in enumerate(items, start=1)
    )  # fmt: skip


async def items_of(session: AsyncSession, event_id: int) -> list[Item]:
    rows = await session.scalars(
        select(ProgrammeItem)
        .where(ProgrammeItem.event_id == event_id)
        .order_by(ProgrammeItem.position)
    )
    return [Item(r.at, r.title, r.speaker, r.organisation) for r in rows.all()]


async def get(uow: UnitOfWork, event_id: int) -> list[Item]:
    async with uow:
        return await items_of(uow.session, event_id)


async def replace(
    uow: UnitOfWork, actor: Actor, event_id: int, items: list[Item], *, now: dt.datetime
) -> list[Item]:
    """Set an event's programme (organisers of its region; any time, also after it)."""
    async with uow:
        session = uow.session
        event = await session.get(Event, event_id, with_for_update=True)
        if event is None:
            raise NotFound("event_not_found")
        rules.require_manager(actor, event.region_id)
        await session.execute(delete(ProgrammeItem).where(ProgrammeItem.event_id == event_id))
        add_items(session, event_id, items)
        audit.record(
            session, "event.programme", now=now, actor_member_id=actor.member_id,
            event_id=event_id, items=len(items),
        )  # fmt: skip
        await uow.commit()
    return items
