from __future__ import annotations

import datetime as dt

from samvirke.storage import members, regions
from samvirke.storage.uow import Database


async def test_register_creates_member_and_queues_code(db: Database, now: dt.datetime) -> None:
    region = (await regions.list_active(db.unit_of_work()))[3]
    reg = await members.register(
        db.unit_of_work(), telegram_user_id=42, telegram_username="karen", name="Karen Ærø",
        email="karen@example.dk", organisation=None, sector="public", region_id=region.id,
        language="da", now=now,
    )
    assert reg.created
    assert reg.member.region_name == "Region Midtjylland"
    assert not reg.member.email_verified
