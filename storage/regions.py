"""Regions: the default Danish regions and Skåne, and those administrators add."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from storage import audit
from storage.errors import InvalidInput
from storage.models import Region
from storage.permissions import Actor, require_admin
from storage.rules import region_code, validate_region_name
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class RegionView:
    id: int
    code: str
    name: str


async def list_active(uow: UnitOfWork) -> list[RegionView]:
    async with uow:
        rows = (
            await uow.session.scalars(
                select(Region).where(Region.active.is_(True)).order_by(Region.id)
            )
        ).all()
        return [RegionView(r.id, r.code, r.name) for r in rows]


async def add(uow: UnitOfWork, actor: Actor, name: str, *, now: dt.datetime) -> RegionView:
    require_admin(actor)
    name = validate_region_name(name)
    code = region_code(name)
    async with uow:
        existing = await uow.session.scalar(
            select(Region).where(or_(Region.code == code, func.lower(Region.name) == name.lower()))
        )
        if existing is not None:
            if existing.active:
                raise InvalidInput("region_exists")
            existing.active = True
            existing.name = name
            region = existing
        else:
            region = Region(code=code, name=name, active=True, created_at=now)
            uow.session.add(region)
        await uow.session.flush()
        audit.record(
            uow.session,
            "region.added",
            now=now,
            actor_member_id=actor.member_id,
            region_id=region.id,
        )
        result = RegionView(region.id, region.code, region.name)
        await uow.commit()
        return result
