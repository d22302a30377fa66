"""Helpers for the event tests (no tests here): members, organisers, the example meeting.

The example is PRODUCT.md's regional network meeting, taken literally, on a future date:
"Innovation på det sociale område – aktører i Region Midt", 20 February, 13:00–17:00
Europe/Copenhagen, Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C, free, 36 seats.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.events import publishing as event_publishing
from storage.events import rsvps as event_rsvps
from storage.events.publishing import EventDraft
from storage.events.views import EventView
from storage.models import Member, OutboxMessage, Role, Rsvp
from storage.permissions import Actor
from storage.uow import Database
from tests.support.regions import region_id as region_id

CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TITLE = "Innovation på det sociale område – aktører i Region Midt"
PLACE = "Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C"
DESCRIPTION = (
    "Gratis og åbent for alle med interesse for social innovation i Region Midt.\n"
    "Program: korte oplæg, derefter workshop.\n"
    "Arrangeret af Sociale Entreprenører i Danmark og Teknologisk Institut."
)
START = dt.datetime(2027, 2, 20, 13, 0, tzinfo=CPH)
END = dt.datetime(2027, 2, 20, 17, 0, tzinfo=CPH)

ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)


async def add_member(
    db: Database,
    telegram_user_id: int,
    *,
    name: str = "Karen Jensen",
    email: str | None = None,
    organisation: str | None = "Aarhus Kommune",
    sector: str = "public",
    region: str = "midtjylland",
    language: str = "en",
    verified: bool = True,
    role: str = Role.MEMBER,
    organiser_region: str | None = None,
    username: str | None = None,
) -> int:
    """A member who signed up (inserted directly; the bot tests sign people up for real)."""
    home = await region_id(db, region)
    organiser_region_id = await region_id(db, organiser_region) if organiser_region else None
    async with db.unit_of_work() as uow:
        member = Member(
            telegram_user_id=telegram_user_id,
            telegram_username=username,
            name=name,
            email=email or f"m{telegram_user_id}@example.dk",
            email_verified_at=NOW if verified else None,
            organisation=organisation,
            sector=sector,
            region_id=home,
            language=language,
            role=role,
            organiser_region_id=organiser_region_id,
            organiser_all_regions=role == Role.ORGANISER and organiser_region_id is None,
            consent_at=NOW,
            consent_version="test",
            created_at=NOW,
            updated_at=NOW,
        )
        uow.session.add(member)
        await uow.session.flush()
        member_id = member.id
        await uow.commit()
        return member_id


async def add_organiser(
    db: Database, telegram_user_id: int, *, organiser_region: str | None = None, **kw: Any
) -> Actor:
    member_id = await add_member(
        db, telegram_user_id, role=Role.ORGANISER, organiser_region=organiser_region, **kw
    )
    region = await region_id(db, organiser_region) if organiser_region else None
    return Actor(
        telegram_user_id,
        member_id,
        role=Role.ORGANISER,
        organiser_region_id=region,
        organiser_all_regions=region is None,
    )


def draft(**overrides: Any) -> EventDraft:
    values: dict[str, Any] = {
        "title": TITLE,
        "description": DESCRIPTION,
        "starts_at": START.astimezone(dt.UTC),
        "ends_at": END.astimezone(dt.UTC),
        "location": PLACE,
        "online_url": None,
        "region_id": None,
        "capacity": 36,
        "rsvp_deadline": None,
    }
    values.update(overrides)
    return EventDraft(**values)


async def publish(
    db: Database, actor: Actor = ADMIN, *, now: dt.datetime = NOW, **overrides: Any
) -> EventView:
    if "region_id" not in overrides:
        overrides["region_id"] = await region_id(db)
    return await event_publishing.create(
        db.unit_of_work(), actor, draft(**overrides), now=now, timezone="Europe/Copenhagen"
    )


async def going(
    db: Database, member_id: int, event_id: int, answer: str = "going", **kw: Any
) -> event_rsvps.RsvpOutcome:
    kw.setdefault("now", NOW)
    kw.setdefault("bot_username", "samvirke_test_bot")
    return await event_rsvps.respond(
        db.unit_of_work(), member_id=member_id, event_id=event_id, answer=answer, **kw
    )


async def outbox(db: Database, prefix: str = "") -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.key.startswith(prefix))
                .order_by(OutboxMessage.id)
            )
        ).all()
        uow.session.expunge_all()
        return list(rows)


async def outbox_keys(db: Database, prefix: str = "") -> list[str]:
    return [row.key for row in await outbox(db, prefix)]


async def statuses(db: Database, event_id: int) -> dict[int, str]:
    """member id -> RSVP status."""
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(Rsvp).where(Rsvp.event_id == event_id))).all()
        return {r.member_id: r.status for r in rows if r.member_id is not None}
