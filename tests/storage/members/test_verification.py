"""Issue 17, items 2 and 3: one throttle for every code mail (sign-up and profile changes) per
member and per address; wrong tries count per member across new codes, with a lock-out that
grows; the stored code is an HMAC keyed with the server's secret."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from storage.members import profiles as members
from storage.members import verification
from storage.members.verification import CheckResult, CodeMailsThrottled, ResendTooSoon
from storage.models import EmailCodeSend, EmailVerification, OutboxMessage
from storage.uow import Database
from tests.storage.members.test_members import latest_code, sign_up
from tests.support.regions import region_id

STRANGER = "someone.else@example.org"


async def mails_to(db: Database, address: str) -> int:
    async with db.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.key.like("verify:%"))
            )
        ).all()
    return sum(1 for payload in rows if payload["to_email"].casefold() == address.casefold())


async def test_changing_the_email_to_a_strangers_address_again_and_again_is_throttled(
    db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now)
    refusals: list[CodeMailsThrottled] = []
    for minute in range(5):
        at = now + dt.timedelta(minutes=2 + minute * 2)
        try:
            await members.update_profile(db.unit_of_work(), karen.id, "email", STRANGER, now=at)
        except CodeMailsThrottled as error:
            refusals.append(error)
    assert [error.params["minutes"] for error in refusals] == [54, 52]
    assert await mails_to(db, STRANGER) == 3


async def test_the_address_throttle_counts_every_member_and_sign_up(
    db: Database, now: dt.datetime
) -> None:
    """Three members (two signing up with it, one changing to it): the address gets at most
    three codes an hour, whoever asks; a fourth sign-up with it is refused and not stored."""
    await sign_up(db, now, telegram_user_id=1, email=STRANGER)
    await sign_up(db, now, telegram_user_id=2, email=STRANGER.upper())
    third = await sign_up(db, now, telegram_user_id=3, email="third@example.org")
    later = now + dt.timedelta(minutes=5)
    await members.update_profile(db.unit_of_work(), third.id, "email", STRANGER, now=later)

    with pytest.raises(CodeMailsThrottled):
        await members.register(
            db.unit_of_work(),
            telegram_user_id=4,
            telegram_username=None,
            name="Mallory",
            email=STRANGER,
            organisation=None,
            sector="business",
            region_id=await region_id(db, "skane"),
            language="en",
            now=later,
        )
    assert await mails_to(db, STRANGER) == 3
    assert await members.find_by_telegram(db.unit_of_work(), 4) is None

    # An hour later the address may get a code again (at most five a day).
    await members.update_profile(
        db.unit_of_work(), third.id, "email", STRANGER, now=now + dt.timedelta(minutes=61)
    )


async def test_the_same_address_waits_a_minute_a_corrected_typo_does_not(
    db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now, email="karen@exmaple.dk")
    soon = now + dt.timedelta(seconds=5)
    await members.update_profile(db.unit_of_work(), karen.id, "email", "karen@example.dk", now=soon)
    with pytest.raises(ResendTooSoon):
        await members.update_profile(
            db.unit_of_work(), karen.id, "email", "karen@example.dk", now=soon
        )


async def test_old_throttle_rows_are_forgotten_after_a_day(db: Database, now: dt.datetime) -> None:
    await sign_up(db, now)
    async with db.unit_of_work() as uow:
        assert await verification.forget_old_sends(uow.session, now=now) == 0
        assert (
            await verification.forget_old_sends(
                uow.session, now=now + dt.timedelta(days=1, seconds=1)
            )
            == 1
        )
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(EmailCodeSend)) == 0


async def _check(db: Database, member_id: int, code: str, at: dt.datetime) -> CheckResult:
    return (await verification.check(db.unit_of_work(), member_id, code, now=at)).result


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_a_day_of_guessing_with_new_codes_gets_few_tries(
    db: Database, now: dt.datetime
) -> None:
    """Before: each new code (one a minute) reset the five tries, about 7,200 guesses a day.
    Now the tries carry over and each lock-out doubles: an attacker who asks for a new code
    and guesses whenever allowed gets a few dozen guesses a day."""
    karen = await sign_up(db, now)
    at, guesses = now, 0
    while at < now + dt.timedelta(days=1):
        with contextlib.suppress(ResendTooSoon, CodeMailsThrottled):
            await verification.resend(db.unit_of_work(), karen.id, now=at)
        check = await verification.check(
            db.unit_of_work(), karen.id, _wrong(await latest_code(db, karen.id)), now=at
        )
        if check.result is CheckResult.EXPIRED:  # no new code allowed yet (the mail throttle)
            at += dt.timedelta(minutes=15)
            continue
        guesses += 1
        # Wait exactly as long as the lock says, else a new code a minute later.
        at = check.locked_until or at + dt.timedelta(seconds=61)
    assert guesses <= 35


async def test_the_right_code_after_the_lock_ends_confirms(db: Database, now: dt.datetime) -> None:
    karen = await sign_up(db, now)
    code = await latest_code(db, karen.id)
    results = [await _check(db, karen.id, _wrong(code), now) for _ in range(5)]
    assert results[-1] is CheckResult.TOO_MANY_TRIES
    assert await _check(db, karen.id, code, now + dt.timedelta(minutes=14)) is (
        CheckResult.TOO_MANY_TRIES
    )
    assert await _check(db, karen.id, code, now + dt.timedelta(minutes=15)) is CheckResult.VERIFIED


async def test_the_stored_code_is_keyed_with_the_servers_secret(
    database_url: str, db: Database, now: dt.datetime
) -> None:
    karen = await sign_up(db, now)
    code = await latest_code(db, karen.id)
    async with db.unit_of_work() as uow:
        row = await uow.session.get(EmailVerification, karen.id)
        assert row is not None
        stored = row.code_hash
    assert stored != hashlib.sha256(f"{karen.id}:{code}".encode()).hexdigest()
    # The same database read with another secret: the code no longer verifies.
    other = Database(database_url, secret=b"another server's secret")
    try:
        assert await _check(other, karen.id, code, now) is CheckResult.WRONG
    finally:
        await other.dispose()
    assert await _check(db, karen.id, code, now) is CheckResult.VERIFIED
