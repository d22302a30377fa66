"""Operator log lines: ids only, written once committed; text or JSON."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from samvirke.logs import JsonFormatter
from storage import audit, regions
from storage.members import profiles as members
from storage.uow import Database


async def test_member_joined_is_one_line_with_ids_only(
    db: Database, now: dt.datetime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="samvirke.activity")
    region = (await regions.list_active(db.unit_of_work()))[0]
    registration = await members.register(
        db.unit_of_work(),
        telegram_user_id=777,
        telegram_username="karen_aero",
        name="Karen Ærø",
        email="karen@example.dk",
        organisation="Fødevarekooperativet",
        sector="civil_society",
        region_id=region.id,
        language="da",
        now=now,
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "samvirke.activity"]
    assert lines == [f"member joined: member={registration.member.id}"]
    logged = " ".join(lines)
    for personal in ("Karen", "karen", "example.dk", "Føde", "777"):
        assert personal not in logged


async def test_nothing_is_logged_for_a_change_rolled_back(
    db: Database, now: dt.datetime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="samvirke.activity")
    async with db.unit_of_work() as uow:
        audit.record(uow.session, "event.cancelled", now=now, event_id=5)
        # no commit: the unit of work rolls back
    async with db.unit_of_work() as uow:
        audit.record(uow.session, "event.cancelled", now=now, event_id=6, count=3)
        audit.record(uow.session, "member.profile_changed", now=now)
        await uow.commit()
    lines = [r.getMessage() for r in caplog.records if r.name == "samvirke.activity"]
    assert lines == ["event cancelled: event_id=6"]


def test_json_format_is_one_object_per_line_without_traceback() -> None:
    try:
        raise ValueError("Karen Ærø <karen@example.dk>")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "samvirke.x", logging.ERROR, __file__, 1, "delivery %s failed", (12,), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "delivery 12 failed"
    assert entry["error"] == "ValueError"
    assert "Karen" not in line
