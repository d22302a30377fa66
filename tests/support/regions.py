"""The default regions (migration 0001) by code or by name."""

from __future__ import annotations

from sqlalchemy import or_, select

from storage.models import Region
from storage.uow import Database


async def region_id(db: Database, code: str = "midtjylland") -> int:
    """The id of the region with this code (``"midtjylland"``) or name (``"Region Skåne"``)."""
    async with db.unit_of_work() as uow:
        found = await uow.session.scalar(
            select(Region.id).where(or_(Region.code == code, Region.name == code))
        )
    assert found is not None, code
    return int(found)


async def region_ids(db: Database) -> dict[str, int]:
    """Region code -> id (the default regions of migration 0001)."""
    async with db.unit_of_work() as uow:
        rows = (await uow.session.execute(select(Region.code, Region.id))).all()
        return {code: rid for code, rid in rows}
