"""Issue 17, item 20: after erasure the member's name and address are not on disk any more:
not in the SQLite file, not in its write-ahead log, not in ``.eml`` files of their mails."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from samvirke.settings import Settings
from scheduler.jobs import forget_old_records
from scheduler.mail.delivery import DeliveryOptions, MailDelivery
from storage.members import privacy
from storage.uow import Database
from tests.storage.members.test_members import sign_up

NAME = "Sørine Quistgaard-Ærø"
EMAIL = "sorine.quistgaard@example.dk"


def on_disk(path: Path, text: str) -> int:
    """How often ``text`` (UTF-8) is in the file and its WAL."""
    needle = text.encode()
    found = 0
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            found += file.read_bytes().count(needle)
    return found


async def test_erasure_leaves_no_copy_in_the_sqlite_file_its_wal_or_mail_files(
    db: Database, now: dt.datetime, tmp_path: Path
) -> None:
    if not db.url.startswith("sqlite"):
        pytest.skip("PostgreSQL needs VACUUM for this (see the README)")
    database_file = Path(db.url.removeprefix("sqlite+aiosqlite:///"))
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    settings = Settings(_env_file=None, mail_dir=mail_dir, secret_key="erasure-test-0123456789")
    member = await sign_up(db, now, name=NAME, email=EMAIL)
    for minute in range(3):  # a few changes: more old copies of the row
        await privacy_free_update(db, member.id, now + dt.timedelta(minutes=minute))
    delivery = MailDelivery(db, settings, options=DeliveryOptions(), clock=lambda: now)
    report = await delivery.run_once(now)
    assert report.sent == 1
    [eml] = list(mail_dir.glob("*.eml"))
    assert EMAIL.encode() in eml.read_bytes()
    assert on_disk(database_file, NAME) > 0

    await privacy.erase(db.unit_of_work(), member.id, now=now + dt.timedelta(hours=1))
    await forget_old_records(db, settings, now + dt.timedelta(hours=1))

    assert on_disk(database_file, NAME) == 0
    assert on_disk(database_file, EMAIL) == 0
    assert list(mail_dir.glob("*.eml")) == []


async def privacy_free_update(db: Database, member_id: int, at: dt.datetime) -> None:
    from storage.members import profiles as members

    await members.update_profile(
        db.unit_of_work(), member_id, "organisation", f"Org {at:%M}", now=at
    )
