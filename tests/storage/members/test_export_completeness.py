"""Issue 17, item 21: the export leaves out no table that refers to a member.

Every table of the SQLAlchemy metadata with a foreign key to ``members`` must be declared in
``privacy.EXPORT_COVERAGE`` with where it shows up in the export, and every declared place must
be in a real export. A new table with a member reference fails here until the export has it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from storage.events import attendance as event_attendance
from storage.members import privacy
from storage.models import Base
from storage.timebank import contacts as timebank_contacts
from storage.timebank import listings as timebank_listings
from storage.uow import Database
from tests.support.events_kit import START, add_member, add_organiser, publish
from tests.support.timebank_kit import category_id


def member_tables() -> set[str]:
    return {
        table.name
        for table in Base.metadata.sorted_tables
        for column in table.columns
        for key in column.foreign_keys
        if key.column.table.name == "members"
    } | {"members"}


def _find(data: dict[str, Any], path: str) -> object:
    value: Any = data
    for part in path.split("."):
        assert isinstance(value, dict), f"{path!r} is not in the export"
        assert part in value, f"{path!r} is not in the export"
        value = value[part]
    return value


def test_every_table_with_a_member_reference_is_in_the_export_coverage() -> None:
    assert member_tables() == set(privacy.EXPORT_COVERAGE)


async def test_every_declared_place_is_in_a_real_export(db: Database, now: dt.datetime) -> None:
    karen = await add_member(db, 700)
    data = await privacy.export(db.unit_of_work(), karen, now=now)
    for places in privacy.EXPORT_COVERAGE.values():
        for place in places:
            _find(data, place)


async def test_a_walk_in_check_in_and_contact_requests_to_the_listing_are_exported(
    db: Database, now: dt.datetime
) -> None:
    """The two gaps the hardening found: a check-in without an answer, and the contact requests
    other members sent about the member's listing."""
    event = await publish(db, title="Netværksmøde")
    organiser = await add_organiser(db, 710)
    karen = await add_member(db, 711, name="Karen Walk")
    lars = await add_member(db, 712, name="Lars Asker")
    await event_attendance.set_checked_in(
        db.unit_of_work(), organiser, event.id, karen, True, now=START.astimezone(dt.UTC)
    )
    listing = await timebank_listings.create_listing(
        db.unit_of_work(),
        karen,
        kind="offer",
        title="Help with grant applications",
        description="Two hours a month",
        category_id=await category_id(db),
        region_id=None,
        now=now,
    )
    await timebank_contacts.request_contact(db.unit_of_work(), lars, listing.id, now=now)

    data = await privacy.export(db.unit_of_work(), karen, now=now)

    [walk_in] = data["events"]
    assert (walk_in["event"], walk_in["answer"]) == ("Netværksmøde", None)
    assert walk_in["checked_in_at"] == START.astimezone(dt.UTC).isoformat()
    [request] = data["timebank"]["contact_requests"]
    assert (request["direction"], request["listing"]) == (
        "received",
        "Help with grant applications",
    )
    assert "Lars" not in str(request)
    organiser_data = await privacy.export(db.unit_of_work(), organiser.member_id or 0, now=now)
    assert organiser_data["check_ins_recorded"] == 1
    lars_data = await privacy.export(db.unit_of_work(), lars, now=now)
    assert [r["direction"] for r in lars_data["timebank"]["contact_requests"]] == ["sent"]
