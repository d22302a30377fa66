"""Members: sign-up, e-mail verification, profile changes, roles, the organisers' overview and
regions. Every test runs on SQLite and, when a server is given, on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import regions
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.members import profiles as members
from storage.members import verification
from storage.members.verification import CheckResult, ResendTooSoon
from storage.models import AuditEntry, Member, OutboxMessage, Region
from storage.permissions import Actor
from storage.uow import Database
from tests.support.regions import region_id

ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)


async def sign_up(
    db: Database, now: dt.datetime, telegram_user_id: int = 42, **fields: Any
) -> members.MemberView:
    values: dict[str, Any] = {
        "telegram_username": "karen",
        "name": "Karen Ærø",
        "email": "karen@example.dk",
        "organisation": "Sociale Entreprenører i Danmark",
        "sector": "civil_society",
        "region_id": await region_id(db, "midtjylland"),
        "language": "da",
    }
    values.update(fields)
    registration = await members.register(
        db.unit_of_work(), telegram_user_id=telegram_user_id, now=now, **values
    )
    assert registration.created
    return registration.member


async def verification_mails(db: Database, member_id: int) -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        rows = await uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member_id, OutboxMessage.key.like("verify:%"))
            .order_by(OutboxMessage.id)
        )
        result = list(rows.all())
        uow.session.expunge_all()  # keep the loaded values after the unit of work rolls back
        return result


async def latest_code(db: Database, member_id: int) -> str:
    mails = await verification_mails(db, member_id)
    assert mails, "no verification mail queued"
    code = mails[-1].payload["context"]["code"]
    assert isinstance(code, str)
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def verified_member(db: Database, now: dt.datetime, **fields: Any) -> members.MemberView:
    member = await sign_up(db, now, **fields)
    code = await latest_code(db, member.id)
    result = await verification.check(db.unit_of_work(), member.id, code, now=now)
    assert result.result is CheckResult.VERIFIED
    return await members.get(db.unit_of_work(), member.id)


# --- sign-up ----------------------------------------------------------------------------------


async def test_register_queues_one_code_mail(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    assert member.name == "Karen Ærø"
    assert member.email == "karen@example.dk"
    assert not member.email_verified
    assert member.pending_email is None  # the code is for the address already on the record
    assert member.role == "member"
    assert member.region_name == "Region Midtjylland"
    mails = await verification_mails(db, member.id)
    assert [m.key for m in mails] == [f"verify:{member.id}:1"]
    payload = mails[0].payload
    assert payload["template"] == "verification"
    assert payload["to_email"] == "karen@example.dk"
    assert payload["language"] == "da"
    code = payload["context"]["code"]
    assert len(code) == 6
    assert code.isdigit()
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Member, member.id)
        assert row is not None
        assert row.consent_at == now
        assert row.consent_version == members.CONSENT_VERSION


async def test_register_twice_makes_one_member_and_one_mail(db: Database, now: dt.datetime) -> None:
    first = await sign_up(db, now)
    again = await members.register(
        db.unit_of_work(),
        telegram_user_id=42,
        telegram_username="karen",
        name="Karen Ærø",
        email="karen@example.dk",
        organisation=None,
        sector="civil_society",
        region_id=first.region_id or 0,
        language="da",
        now=now + dt.timedelta(seconds=1),
    )
    assert not again.created
    assert not again.code_sent
    assert again.member.id == first.id
    async with db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 1
    assert len(await verification_mails(db, first.id)) == 1


async def test_register_double_tap_at_the_same_time(
    db: Database,
    database_url: str,
    now: dt.datetime,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rid = await region_id(db, "midtjylland")

    # Let both taps pass the "already registered?" check before either inserts (the region check
    # comes right after it). On SQLite the second tap waits for the first one's write lock at
    # BEGIN IMMEDIATE instead, so the first goes on alone after a short wait.
    arrived = 0
    both_checked = asyncio.Event()
    check_region = members._check_region

    async def check_region_together(session: Any, region: int) -> None:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_checked.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both_checked.wait(), 1.0)
        await check_region(session, region)

    monkeypatch.setattr(members, "_check_region", check_region_together)

    async def consent() -> members.Registration:
        return await members.register(
            db.unit_of_work(),
            telegram_user_id=42,
            telegram_username="karen",
            name="Karen Ærø",
            email="karen@example.dk",
            organisation=None,
            sector="public",
            region_id=rid,
            language="da",
            now=now,
        )

    results = await asyncio.gather(consent(), consent())
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].member.id == results[1].member.id
    assert len(await verification_mails(db, results[0].member.id)) == 1


async def test_register_normalises_input(db: Database, now: dt.datetime) -> None:
    member = await sign_up(
        db,
        now,
        name="  Karen \t Blixen\u0000 ",
        email="Karen@EXAMPLE.dk",
        organisation="  Teknologisk   Institut ",
    )
    assert member.name == "Karen Blixen"
    assert member.email == "Karen@example.dk"
    assert member.organisation == "Teknologisk Institut"


async def test_register_refuses_an_unknown_language(db: Database, now: dt.datetime) -> None:
    with pytest.raises(InvalidInput) as caught:
        await sign_up(db, now, language="de")
    assert caught.value.code == "language_unknown"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "   "}, "name_empty"),
        ({"name": "x" * 101}, "name_too_long"),
        ({"email": "karen.example.dk"}, "email_invalid"),
        ({"email": "karen@example.dk\r\nBcc: all@example.dk"}, "email_invalid"),
        ({"sector": "church"}, "sector_unknown"),
        ({"region_id": 9999}, "region_unknown"),
        ({"organisation": "o" * 201}, "organisation_too_long"),
    ],
)
async def test_register_refuses_invalid_input(
    db: Database, now: dt.datetime, fields: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await sign_up(db, now, **fields)
    assert caught.value.code == code
    async with db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_find_by_telegram_and_get(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    found = await members.find_by_telegram(db.unit_of_work(), 42)
    assert found == member
    assert await members.find_by_telegram(db.unit_of_work(), 43) is None
    assert await members.get(db.unit_of_work(), member.id) == member
    with pytest.raises(NotFound):
        await members.get(db.unit_of_work(), member.id + 100)


# --- e-mail verification ----------------------------------------------------------------------


async def test_right_code_verifies(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    code = await latest_code(db, member.id)
    later = now + dt.timedelta(minutes=3)
    result = await verification.check(
        db.unit_of_work(), member.id, f" {code[:3]} {code[3:]} ", now=later
    )
    assert result.result is CheckResult.VERIFIED
    assert result.email == "karen@example.dk"
    after = await members.get(db.unit_of_work(), member.id)
    assert after.email_verified
    assert after.pending_email is None
    async with db.unit_of_work() as uow:
        assert await verification.pending(uow.session, member.id) is None
        row = await uow.session.get(Member, member.id)
        assert row is not None
        assert row.email_verified_at == later
    # The code is used up.
    again = await verification.check(db.unit_of_work(), member.id, code, now=later)
    assert again.result is CheckResult.NOTHING_PENDING


async def test_five_wrong_tries_lock_the_code(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    code = await latest_code(db, member.id)
    for left in (4, 3, 2, 1):
        result = await verification.check(db.unit_of_work(), member.id, wrong(code), now=now)
        assert result.result is CheckResult.WRONG
        assert result.tries_left == left
    fifth = await verification.check(db.unit_of_work(), member.id, wrong(code), now=now)
    assert fifth.result is CheckResult.TOO_MANY_TRIES
    # Even the right code is refused now.
    right = await verification.check(db.unit_of_work(), member.id, code, now=now)
    assert right.result is CheckResult.TOO_MANY_TRIES
    assert not (await members.get(db.unit_of_work(), member.id)).email_verified
    async with db.unit_of_work() as uow:
        wrong_entries = await uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "email.code_wrong", AuditEntry.member_id == member.id)
        )
        assert wrong_entries == 5


async def test_a_new_code_after_the_lock_gives_new_tries(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    code = await latest_code(db, member.id)
    for _ in range(5):
        await verification.check(db.unit_of_work(), member.id, wrong(code), now=now)
    later = now + verification.FIRST_LOCK  # a new code does not open the lock, time does
    assert await verification.resend(db.unit_of_work(), member.id, now=later) == "karen@example.dk"
    new_code = await latest_code(db, member.id)
    result = await verification.check(db.unit_of_work(), member.id, new_code, now=later)
    assert result.result is CheckResult.VERIFIED


async def test_code_expires_after_30_minutes(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    code = await latest_code(db, member.id)
    expired = await verification.check(
        db.unit_of_work(), member.id, code, now=now + dt.timedelta(minutes=30)
    )
    assert expired.result is CheckResult.EXPIRED
    assert not (await members.get(db.unit_of_work(), member.id)).email_verified
    in_time = await verification.check(
        db.unit_of_work(), member.id, code, now=now + dt.timedelta(minutes=29, seconds=59)
    )
    assert in_time.result is CheckResult.VERIFIED


async def test_resend_is_rate_limited(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    with pytest.raises(ResendTooSoon) as caught:
        await verification.resend(db.unit_of_work(), member.id, now=now + dt.timedelta(seconds=30))
    assert caught.value.params["seconds"] == 31
    assert len(await verification_mails(db, member.id)) == 1


async def test_resend_gives_a_new_code_and_a_new_outbox_key(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    old_code = await latest_code(db, member.id)
    later = now + dt.timedelta(seconds=61)
    assert await verification.resend(db.unit_of_work(), member.id, now=later) == "karen@example.dk"
    mails = await verification_mails(db, member.id)
    assert [m.key for m in mails] == [f"verify:{member.id}:1", f"verify:{member.id}:2"]
    new_code = await latest_code(db, member.id)
    if new_code != old_code:  # one chance in a million that they are equal
        old = await verification.check(db.unit_of_work(), member.id, old_code, now=later)
        assert old.result is CheckResult.WRONG
    # The new code lives 30 minutes from the resend, not from the first mail.
    result = await verification.check(
        db.unit_of_work(), member.id, new_code, now=later + dt.timedelta(minutes=29)
    )
    assert result.result is CheckResult.VERIFIED
    # Nothing left to resend once verified.
    with pytest.raises(NotFound):
        await verification.resend(db.unit_of_work(), member.id, now=later + dt.timedelta(hours=1))


async def test_changed_email_is_used_only_once_verified(
    db: Database, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await verified_member(db, now)
    # The code for the new address, known in advance (its mail is checked in the next test).
    monkeypatch.setattr(verification, "new_code", lambda: "246810")
    later = now + dt.timedelta(days=1)
    changed = await members.update_profile(
        db.unit_of_work(), member.id, "email", "karen@sociale.dk", now=later
    )
    assert changed.email == "karen@example.dk"
    assert changed.email_verified
    assert changed.pending_email == "karen@sociale.dk"

    # A wrong code changes nothing.
    await verification.check(db.unit_of_work(), member.id, "135791", now=later)
    still = await members.get(db.unit_of_work(), member.id)
    assert still.email == "karen@example.dk"
    assert still.email_verified
    assert still.pending_email == "karen@sociale.dk"

    result = await verification.check(db.unit_of_work(), member.id, "246810", now=later)
    assert result.result is CheckResult.VERIFIED
    assert result.email == "karen@sociale.dk"
    done = await members.get(db.unit_of_work(), member.id)
    assert done.email == "karen@sociale.dk"
    assert done.email_verified
    assert done.pending_email is None


async def test_unverified_email_change_mails_the_new_address(
    db: Database, now: dt.datetime
) -> None:
    member = await sign_up(db, now)
    later = now + dt.timedelta(minutes=5)
    changed = await members.update_profile(
        db.unit_of_work(), member.id, "email", "karen@sociale.dk", now=later
    )
    # Not verified yet: the record keeps the typed address until a code is typed.
    assert changed.email == "karen@example.dk"
    assert changed.pending_email == "karen@sociale.dk"
    mails = await verification_mails(db, member.id)
    assert [m.key for m in mails] == [f"verify:{member.id}:1", f"verify:{member.id}:2"]
    assert mails[-1].payload["to_email"] == "karen@sociale.dk"
    result = await verification.check(
        db.unit_of_work(), member.id, await latest_code(db, member.id), now=later
    )
    assert result.result is CheckResult.VERIFIED
    assert (await members.get(db.unit_of_work(), member.id)).email == "karen@sociale.dk"


async def test_email_change_after_verification_mails_the_new_address(
    db: Database, now: dt.datetime
) -> None:
    member = await verified_member(db, now)
    later = now + dt.timedelta(days=1)
    await members.update_profile(
        db.unit_of_work(), member.id, "email", "karen@sociale.dk", now=later
    )
    mails = await verification_mails(db, member.id)
    assert len(mails) == 2
    assert len({m.key for m in mails}) == 2
    assert mails[-1].payload["to_email"] == "karen@sociale.dk"
    result = await verification.check(
        db.unit_of_work(), member.id, await latest_code(db, member.id), now=later
    )
    assert result.result is CheckResult.VERIFIED


async def test_changing_to_the_same_verified_email_is_refused(
    db: Database, now: dt.datetime
) -> None:
    member = await verified_member(db, now)
    with pytest.raises(InvalidInput) as caught:
        await members.update_profile(
            db.unit_of_work(), member.id, "email", "karen@example.dk", now=now
        )
    assert caught.value.code == "email_unchanged"


async def test_check_for_unknown_member(db: Database, now: dt.datetime) -> None:
    with pytest.raises(NotFound):
        await verification.check(db.unit_of_work(), 999, "123456", now=now)
    with pytest.raises(NotFound):
        await verification.resend(db.unit_of_work(), 999, now=now)


# --- profile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "  Karen   Blixen ", "Karen Blixen"),
        ("name", "Karen\x00\x07\nBlixen", "Karen Blixen"),
        ("name", "N" * 100, "N" * 100),
        ("organisation", "Teknologisk Institut", "Teknologisk Institut"),
        ("organisation", None, None),
        ("organisation", "", None),
        ("sector", "academia", "academia"),
    ],
)
async def test_update_profile_field(
    db: Database, now: dt.datetime, field: str, value: str | None, expected: str | None
) -> None:
    member = await sign_up(db, now)
    later = now + dt.timedelta(hours=1)
    changed = await members.update_profile(db.unit_of_work(), member.id, field, value, now=later)
    assert getattr(changed, field) == expected
    assert await members.get(db.unit_of_work(), member.id) == changed
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Member, member.id)
        assert row is not None
        assert row.updated_at == later
        entry = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "member.profile_changed")
        )
        assert entry is not None
        assert entry.details == {"field": field}


async def test_update_region(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    skane = await region_id(db, "skane")
    changed = await members.update_profile(db.unit_of_work(), member.id, "region", skane, now=now)
    assert changed.region_id == skane
    assert changed.region_name == "Region Skåne"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "", "name_empty"),
        ("name", None, "name_empty"),
        ("name", "\x00\x01\x1b", "name_empty"),
        ("name", "K" * 200, "name_too_long"),
        ("name", "K" * 101, "name_too_long"),
        ("email", "not an address", "email_invalid"),
        ("email", "karen@", "email_invalid"),
        ("email", "<karen@example.dk>", "email_invalid"),
        ("email", "", "email_invalid"),
        ("email", "k" * 250 + "@example.dk", "email_invalid"),
        ("organisation", "O" * 201, "organisation_too_long"),
        ("sector", "church", "sector_unknown"),
        ("sector", None, "sector_unknown"),
        ("region", 9999, "region_unknown"),
        ("region", None, "region_unknown"),
        ("telegram_user_id", 7, "field_unknown"),
    ],
)
async def test_update_profile_refuses_invalid_values(
    db: Database, now: dt.datetime, field: str, value: str | int | None, code: str
) -> None:
    member = await sign_up(db, now)
    with pytest.raises(InvalidInput) as caught:
        await members.update_profile(db.unit_of_work(), member.id, field, value, now=now)
    assert caught.value.code == code
    assert await members.get(db.unit_of_work(), member.id) == member
    assert len(await verification_mails(db, member.id)) == 1


async def test_update_profile_refuses_an_inactive_region(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    skane = await region_id(db, "skane")
    async with db.unit_of_work() as uow:
        region = await uow.session.get(Region, skane)
        assert region is not None
        region.active = False
        await uow.commit()
    with pytest.raises(InvalidInput) as caught:
        await members.update_profile(db.unit_of_work(), member.id, "region", skane, now=now)
    assert caught.value.code == "region_unknown"


async def test_update_profile_of_unknown_member(db: Database, now: dt.datetime) -> None:
    with pytest.raises(NotFound):
        await members.update_profile(db.unit_of_work(), 999, "name", "Karen", now=now)


async def test_language_and_digest_settings(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    await members.set_language(db.unit_of_work(), member.id, "sv", now=now)
    await members.set_digest_frequency(db.unit_of_work(), member.id, "monthly", now=now)
    changed = await members.get(db.unit_of_work(), member.id)
    assert changed.language == "sv"
    assert changed.digest_frequency == "monthly"
    with pytest.raises(InvalidInput):
        await members.set_language(db.unit_of_work(), member.id, "de", now=now)
    with pytest.raises(InvalidInput):
        await members.set_digest_frequency(db.unit_of_work(), member.id, "daily", now=now)


# --- roles ------------------------------------------------------------------------------------


async def test_admin_makes_an_organiser_for_one_region(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    midt = await region_id(db, "midtjylland")
    changed = await members.set_role(
        db.unit_of_work(), ADMIN, member.id, "organiser", region_id=midt, now=now
    )
    assert changed.role == "organiser"
    assert changed.organiser_region_id == midt
    assert changed.organiser_region_name == "Region Midtjylland"
    actor = changed.actor(frozenset())
    assert actor.is_organiser
    assert not actor.is_admin

    back = await members.set_role(
        db.unit_of_work(), ADMIN, member.id, "member", region_id=midt, now=now
    )
    assert back.role == "member"
    assert back.organiser_region_id is None
    async with db.unit_of_work() as uow:
        actions = (
            await uow.session.scalars(
                select(AuditEntry.action).where(AuditEntry.action == "member.role_changed")
            )
        ).all()
        assert len(actions) == 2


async def test_admin_makes_an_organiser_for_all_regions(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    changed = await members.set_role(
        db.unit_of_work(), ADMIN, member.id, "organiser", region_id=None, now=now
    )
    assert changed.role == "organiser"
    assert changed.organiser_region_id is None


@pytest.mark.parametrize(
    "actor",
    [
        Actor(telegram_user_id=5, member_id=5),
        Actor(telegram_user_id=6, member_id=6, role="organiser", organiser_all_regions=True),
        Actor(telegram_user_id=7, member_id=7, role="organiser", organiser_region_id=1),
    ],
    ids=["member", "organiser", "regional-organiser"],
)
async def test_only_admins_set_roles(db: Database, now: dt.datetime, actor: Actor) -> None:
    member = await sign_up(db, now)
    with pytest.raises(NotAllowed):
        await members.set_role(
            db.unit_of_work(), actor, member.id, "organiser", region_id=None, now=now
        )
    assert (await members.get(db.unit_of_work(), member.id)).role == "member"


async def test_set_role_refuses_unknown_role_and_region(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    with pytest.raises(InvalidInput) as caught:
        await members.set_role(db.unit_of_work(), ADMIN, member.id, "king", region_id=None, now=now)
    assert caught.value.code == "role_unknown"
    with pytest.raises(InvalidInput) as caught:
        await members.set_role(
            db.unit_of_work(), ADMIN, member.id, "organiser", region_id=9999, now=now
        )
    assert caught.value.code == "region_unknown"
    with pytest.raises(NotFound):
        await members.set_role(db.unit_of_work(), ADMIN, 999, "organiser", region_id=None, now=now)


async def test_find_for_admin(db: Database, now: dt.datetime) -> None:
    karen = await sign_up(db, now)
    await sign_up(
        db,
        now,
        telegram_user_id=43,
        name="Lars Holm",
        email="lars@example.se",
        telegram_username="larsh",
    )
    assert [m.id for m in await members.find_for_admin(db.unit_of_work(), ADMIN, "KAREN")] == [
        karen.id
    ]
    assert [m.name for m in await members.find_for_admin(db.unit_of_work(), ADMIN, "@larsh")] == [
        "Lars Holm"
    ]
    assert [m.id for m in await members.find_for_admin(db.unit_of_work(), ADMIN, "42")] == [
        karen.id
    ]
    assert await members.find_for_admin(db.unit_of_work(), ADMIN, "  ") == []
    with pytest.raises(NotAllowed):
        await members.find_for_admin(
            db.unit_of_work(),
            Actor(telegram_user_id=5, member_id=5, role="organiser", organiser_all_regions=True),
            "karen",
        )


# --- the organisers' overview -----------------------------------------------------------------


async def listed(db: Database, actor: Actor) -> list[int]:
    """The overview's members as ``listing`` streams them, two at a time (so across batches)."""
    return [
        m.id
        for batch in [b async for b in members.listing(db.reader(), actor, batch=2)]
        for m in batch
    ]


async def test_overview_is_limited_to_an_organisers_region(db: Database, now: dt.datetime) -> None:
    midt = await region_id(db, "midtjylland")
    skane = await region_id(db, "skane")
    a = await verified_member(db, now, telegram_user_id=1, name="Anna", sector="public")
    b = await sign_up(db, now, telegram_user_id=2, name="Bo", sector="business")
    c = await sign_up(db, now, telegram_user_id=3, name="Cecilia", region_id=skane)

    regional = Actor(
        telegram_user_id=10, member_id=None, role="organiser", organiser_region_id=midt
    )
    seen = await members.overview(db.unit_of_work(), regional)
    assert await listed(db, regional) == [a.id, b.id]
    assert seen.total == 2
    assert seen.verified == 1
    assert seen.by_sector == {"public": 1, "business": 1}
    assert seen.by_region == {"Region Midtjylland": 2}

    for everyone in (
        Actor(telegram_user_id=11, member_id=None, role="organiser", organiser_all_regions=True),
        ADMIN,
        # An administrator with an organiser region still sees everything.
        Actor(telegram_user_id=12, member_id=None, organiser_region_id=skane, is_admin=True),
    ):
        seen = await members.overview(db.unit_of_work(), everyone)
        assert await listed(db, everyone) == [a.id, b.id, c.id]
        assert seen.by_region == {"Region Midtjylland": 2, "Region Skåne": 1}

    skane_organiser = Actor(
        telegram_user_id=13, member_id=None, role="organiser", organiser_region_id=skane
    )
    assert await listed(db, skane_organiser) == [c.id]


async def test_overview_is_for_organisers_only(db: Database, now: dt.datetime) -> None:
    await sign_up(db, now)
    with pytest.raises(NotAllowed):
        await members.overview(db.unit_of_work(), Actor(telegram_user_id=42, member_id=1))
    with pytest.raises(NotAllowed):
        await listed(db, Actor(telegram_user_id=42, member_id=1))


# --- regions ----------------------------------------------------------------------------------


async def test_default_regions(db: Database) -> None:
    names = [r.name for r in await regions.list_active(db.unit_of_work())]
    assert names == [
        "Region Hovedstaden",
        "Region Sjælland",
        "Region Syddanmark",
        "Region Midtjylland",
        "Region Nordjylland",
        "Region Skåne",
    ]


async def test_admin_adds_a_region(db: Database, now: dt.datetime) -> None:
    added = await regions.add(db.unit_of_work(), ADMIN, "  Västra   Götaland ", now=now)
    assert added.name == "Västra Götaland"
    assert added.code == "vaestra-goetaland"
    active = await regions.list_active(db.unit_of_work())
    assert active[-1] == added
    assert len(active) == 7
    with pytest.raises(InvalidInput) as caught:
        await regions.add(db.unit_of_work(), ADMIN, "västra götaland", now=now)
    assert caught.value.code == "region_exists"
    member = await sign_up(db, now, region_id=added.id)
    assert member.region_name == "Västra Götaland"


async def test_adding_an_inactive_region_again_reactivates_it(
    db: Database, now: dt.datetime
) -> None:
    added = await regions.add(db.unit_of_work(), ADMIN, "Åland", now=now)
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Region, added.id)
        assert row is not None
        row.active = False
        await uow.commit()
    assert added not in await regions.list_active(db.unit_of_work())
    again = await regions.add(db.unit_of_work(), ADMIN, "ÅLAND", now=now)
    assert again.id == added.id
    assert again.name == "ÅLAND"
    assert again in await regions.list_active(db.unit_of_work())


async def test_adding_a_default_region_again_is_refused(db: Database, now: dt.datetime) -> None:
    with pytest.raises(InvalidInput):
        await regions.add(db.unit_of_work(), ADMIN, "Region Skåne", now=now)


async def test_only_admins_add_regions(db: Database, now: dt.datetime) -> None:
    organiser = Actor(telegram_user_id=5, member_id=5, role="organiser", organiser_all_regions=True)
    with pytest.raises(NotAllowed):
        await regions.add(db.unit_of_work(), organiser, "Gotland", now=now)
    with pytest.raises(InvalidInput) as caught:
        await regions.add(db.unit_of_work(), ADMIN, " \n ", now=now)
    assert caught.value.code == "region_name_invalid"
    with pytest.raises(InvalidInput):
        await regions.add(db.unit_of_work(), ADMIN, "R" * 101, now=now)
    assert len(await regions.list_active(db.unit_of_work())) == 6
