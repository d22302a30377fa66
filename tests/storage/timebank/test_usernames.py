"""Issue 17, item 11: a @username resolves only among current usernames."""

from __future__ import annotations

import datetime as dt

import pytest

from storage.errors import NotFound
from storage.members import profiles as members
from storage.timebank import accounts as timebank_accounts
from storage.uow import Database
from tests.support.timebank_kit import person


async def test_a_username_resolves_to_whoever_holds_it_now(db: Database, now: dt.datetime) -> None:
    jens = await person(db, now, 1004, "Jens Hansen", username="jens1004")
    assert (
        await timebank_accounts.find_member(db.unit_of_work(), "@jens1004")
    ).member_id == jens.id

    # Jens changes his username; nobody may be found by the old one.
    await members.note_telegram_username(db.unit_of_work(), jens.id, "jens_h")
    with pytest.raises(NotFound):
        await timebank_accounts.find_member(db.unit_of_work(), "@jens1004")

    # Someone else takes "jens1004"; then Jens shows up with it again (Telegram gave it back):
    # the other one no longer holds it.
    mallory = await person(db, now, 666, "Mallory", username="other")
    await members.note_telegram_username(db.unit_of_work(), mallory.id, "Jens1004")
    found = await timebank_accounts.find_member(db.unit_of_work(), "@JENS1004")
    assert (found.member_id, found.name) == (mallory.id, "Mallory")
    await members.note_telegram_username(db.unit_of_work(), jens.id, "jens1004")
    found = await timebank_accounts.find_member(db.unit_of_work(), "jens1004")
    assert found.member_id == jens.id
    assert (await members.get(db.unit_of_work(), mallory.id)).telegram_username is None
