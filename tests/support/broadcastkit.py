"""Helpers for the scheduler, Telegram delivery and broadcast tests: members in bulk, the
outbox as a dictionary, a settable clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from storage.models import Member, OutboxMessage
from storage.uow import Database
from tests.support.clock import Clock as Clock
from tests.support.regions import region_ids as region_ids

TOKEN = "999000:TEST-TOKEN"


@dataclass(frozen=True)
class Seeded:
    id: int
    telegram_user_id: int


async def add_members(
    db: Database,
    count: int,
    *,
    first_telegram_id: int,
    now: dt.datetime,
    region: str = "midtjylland",
    sector: str = "civil_society",
    language: str = "da",
    role: str = "member",
    organiser_region: str | None = None,
    **columns: Any,
) -> list[Seeded]:
    """``count`` consenting members (Telegram ids from ``first_telegram_id`` on), in one
    statement: the fast way to a big audience."""
    regions = await region_ids(db)
    rows = [
        {
            "telegram_user_id": first_telegram_id + i,
            "name": f"Member {first_telegram_id + i}",
            "email": f"m{first_telegram_id + i}@example.dk",
            "email_verified_at": now,
            "sector": sector,
            "region_id": regions[region],
            "language": language,
            "digest_frequency": "weekly",
            "role": role,
            "organiser_region_id": regions[organiser_region] if organiser_region else None,
            "consent_at": now,
            "consent_version": "2026-11",
            "created_at": now,
            "updated_at": now,
            # An organiser without a region organises everywhere (the explicit flag).
            "organiser_all_regions": role == "organiser" and organiser_region is None,
            **columns,
        }
        for i in range(count)
    ]
    async with db.unit_of_work() as uow:
        for start in range(0, len(rows), 500):
            await uow.session.execute(insert(Member), rows[start : start + 500])
        await uow.commit()
    async with db.unit_of_work() as uow:
        found = (
            await uow.session.execute(
                select(Member.id, Member.telegram_user_id)
                .where(
                    Member.telegram_user_id >= first_telegram_id,
                    Member.telegram_user_id < first_telegram_id + count,
                )
                .order_by(Member.telegram_user_id)
            )
        ).all()
    return [Seeded(member_id, int(tg or 0)) for member_id, tg in found]


async def outbox_rows(db: Database, prefix: str = "") -> dict[str, OutboxMessage]:
    """Outbox rows by key (those whose key starts with ``prefix``)."""
    async with db.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        uow.session.expunge_all()
    return {r.key: r for r in rows if r.key.startswith(prefix)}


async def member(db: Database, member_id: int) -> Member:
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Member, member_id)
        assert row is not None
        uow.session.expunge_all()
        return row


def statuses(rows: dict[str, OutboxMessage] | Sequence[OutboxMessage]) -> dict[str, int]:
    values = rows.values() if isinstance(rows, dict) else rows
    counts: dict[str, int] = {}
    for row in values:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts
