"""The outbox: enqueue once per key, claim with a lease, mark the outcome, take over stuck rows;
and, on PostgreSQL, two workers never claim the same row."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, text

from storage import outbox
from storage.models import OutboxMessage, OutboxStatus
from storage.outbox import ClaimedMessage
from storage.uow import Database

LEASE = dt.timedelta(minutes=5)


async def enqueue(
    db: Database,
    key: str,
    now: dt.datetime,
    *,
    channel: str = outbox.EMAIL,
    payload: dict[str, Any] | None = None,
) -> bool:
    async with db.unit_of_work() as uow:
        queued = await outbox.enqueue(
            uow.session, key=key, channel=channel, payload=payload or {"key": key}, now=now
        )
        await uow.commit()
        return queued


async def row(db: Database, key: str) -> OutboxMessage:
    async with db.unit_of_work() as uow:
        found = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
        assert found is not None, key
        uow.session.expunge(found)
        return found


async def statuses(db: Database) -> dict[str, int]:
    """How many rows are in each status (what outbox.counts() reports; see its own test)."""
    async with db.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: n for status, n in rows}


async def claim(
    db: Database, now: dt.datetime, *, limit: int = 10, channel: str = outbox.EMAIL
) -> list[ClaimedMessage]:
    return await outbox.claim(db.unit_of_work(), channel=channel, limit=limit, now=now, lease=LEASE)


async def test_enqueue_refuses_a_key_twice(db: Database, now: dt.datetime) -> None:
    assert await enqueue(db, "invite:1:7:1", now, payload={"n": 1})
    assert not await enqueue(db, "invite:1:7:1", now + dt.timedelta(hours=1), payload={"n": 2})
    async with db.unit_of_work() as uow:
        # Within one transaction too.
        assert await outbox.enqueue(
            uow.session, key="digest:7:2026-48", channel=outbox.EMAIL, payload={}, now=now
        )
        assert not await outbox.enqueue(
            uow.session, key="digest:7:2026-48", channel=outbox.EMAIL, payload={}, now=now
        )
        await uow.commit()
    assert await statuses(db) == {"queued": 2}
    first = await row(db, "invite:1:7:1")
    assert first.payload == {"n": 1}
    assert first.created_at == now
    assert first.status == OutboxStatus.QUEUED
    assert first.attempts == 0


async def test_enqueue_many_skips_keys_queued_before_and_says_how_many_it_queued(
    db: Database, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "INSERT_CHUNK", 2)  # across statements
    assert await enqueue(db, "digest:2:2026-48", now, payload={"n": 0})
    messages = [outbox.Queued(f"digest:{n}:2026-48", None, {"n": n}) for n in range(1, 6)]
    async with db.unit_of_work() as uow:
        assert await outbox.enqueue_many(uow.session, outbox.EMAIL, messages, now=now) == 4
        assert await outbox.enqueue_many(uow.session, outbox.EMAIL, messages, now=now) == 0
        await uow.commit()
    assert await statuses(db) == {"queued": 5}
    assert (await row(db, "digest:2:2026-48")).payload == {"n": 0}


async def test_enqueue_is_part_of_the_callers_transaction(db: Database, now: dt.datetime) -> None:
    async with db.unit_of_work() as uow:
        await outbox.enqueue(uow.session, key="k", channel=outbox.EMAIL, payload={}, now=now)
        # no commit: the unit of work rolls back
    assert await statuses(db) == {}
    assert await enqueue(db, "k", now)


async def test_claim_takes_due_rows_of_one_channel_in_order(db: Database, now: dt.datetime) -> None:
    for n in range(3):
        await enqueue(db, f"mail:{n}", now)
    await enqueue(db, "tg:0", now, channel=outbox.TELEGRAM)
    await enqueue(db, "mail:later", now + dt.timedelta(minutes=4))

    first = await claim(db, now, limit=2)
    assert [m.key for m in first] == ["mail:0", "mail:1"]
    assert all(m.attempts == 1 for m in first)
    assert first[0].payload == {"key": "mail:0"}
    assert first[0].channel == outbox.EMAIL
    claimed = await row(db, "mail:0")
    assert claimed.status == OutboxStatus.IN_FLIGHT
    assert claimed.locked_until == now + LEASE
    assert claimed.attempts == 1

    assert [m.key for m in await claim(db, now)] == ["mail:2"]
    assert await claim(db, now) == []
    assert [m.key for m in await claim(db, now, channel=outbox.TELEGRAM)] == ["tg:0"]
    # Not due before its time (and the others' leases still run).
    assert [m.key for m in await claim(db, now + dt.timedelta(minutes=4))] == ["mail:later"]
    assert await statuses(db) == {"in_flight": 5}


async def test_mark_sent(db: Database, now: dt.datetime) -> None:
    await enqueue(db, "m", now)
    (message,) = await claim(db, now)
    sent_at = now + dt.timedelta(seconds=3)
    await outbox.mark_sent(db.unit_of_work(), message, now=sent_at)
    sent = await row(db, "m")
    assert sent.status == OutboxStatus.SENT
    assert sent.sent_at == sent_at
    assert sent.locked_until is None
    assert sent.last_error is None
    # A sent row is never taken again, also long after the lease.
    assert await claim(db, now + dt.timedelta(days=1)) == []


async def test_mark_retry_then_claim_again_when_due(db: Database, now: dt.datetime) -> None:
    await enqueue(db, "m", now)
    (message,) = await claim(db, now)
    retry_at = now + dt.timedelta(minutes=10)
    await outbox.mark_retry(
        db.unit_of_work(), message, error="421 try later " + "x" * 2000, next_attempt_at=retry_at
    )
    waiting = await row(db, "m")
    assert waiting.status == OutboxStatus.RETRY
    assert waiting.next_attempt_at == retry_at
    assert waiting.locked_until is None
    assert waiting.last_error is not None
    assert waiting.last_error.startswith("421 try later")
    assert len(waiting.last_error) == 1000

    assert await claim(db, retry_at - dt.timedelta(seconds=1)) == []
    (again,) = await claim(db, retry_at)
    assert again.id == message.id
    assert again.attempts == 2
    await outbox.mark_sent(db.unit_of_work(), again, now=retry_at)
    assert await statuses(db) == {"sent": 1}


async def test_mark_failed_is_final(db: Database, now: dt.datetime) -> None:
    await enqueue(db, "m", now)
    (message,) = await claim(db, now)
    await outbox.mark_failed(db.unit_of_work(), message, error="550 no such user")
    failed = await row(db, "m")
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error == "550 no such user"
    assert failed.locked_until is None
    assert await claim(db, now + dt.timedelta(days=30)) == []


async def test_marks_apply_only_to_rows_in_flight(db: Database, now: dt.datetime) -> None:
    await enqueue(db, "queued", now)
    await enqueue(db, "sent", now)
    queued = await row(db, "queued")
    never_claimed = outbox.ClaimedMessage(
        queued.id, queued.key, queued.channel, None, queued.payload, attempts=0
    )
    assert not await outbox.mark_sent(db.unit_of_work(), never_claimed, now=now)
    assert (await row(db, "queued")).status == OutboxStatus.QUEUED

    claimed = {m.key: m for m in await claim(db, now)}  # takes both
    assert await outbox.mark_sent(db.unit_of_work(), claimed["sent"], now=now)
    # A late report from a worker does not undo the outcome.
    assert not await outbox.mark_failed(db.unit_of_work(), claimed["sent"], error="timeout")
    await outbox.mark_retry(
        db.unit_of_work(), claimed["sent"], error="timeout", next_attempt_at=now
    )
    assert (await row(db, "sent")).status == OutboxStatus.SENT


async def test_an_expired_lease_makes_the_row_claimable_again(
    db: Database, now: dt.datetime
) -> None:
    await enqueue(db, "m", now)
    (first,) = await claim(db, now)
    # The worker died mid-send. Until its lease runs out nobody else takes the row.
    assert await claim(db, now + LEASE - dt.timedelta(seconds=1)) == []
    assert await claim(db, now + LEASE) == []
    takeover = now + LEASE + dt.timedelta(seconds=1)
    (second,) = await claim(db, takeover)
    assert second.id == first.id
    assert second.attempts == 2
    again = await row(db, "m")
    assert again.status == OutboxStatus.IN_FLIGHT
    assert again.locked_until == takeover + LEASE
    # The first worker wakes up late and reports a failure: the second claim's outcome stands.
    assert not await outbox.mark_failed(db.unit_of_work(), first, error="timeout")
    assert await outbox.mark_sent(db.unit_of_work(), second, now=takeover)
    assert not await outbox.mark_retry(
        db.unit_of_work(), first, error="late", next_attempt_at=takeover
    )
    assert await statuses(db) == {"sent": 1}


async def test_a_sent_message_keeps_no_content(db: Database, now: dt.datetime) -> None:
    await outbox_enqueue_with_content(db, now)
    (message,) = await claim(db, now)
    await outbox.mark_sent(db.unit_of_work(), message, now=now)
    assert (await row(db, "content")).payload == {
        "template": "verification",
        "language": "da",
        "to_email": "a@example.dk",
    }


async def outbox_enqueue_with_content(db: Database, now: dt.datetime) -> None:
    async with db.unit_of_work() as uow:
        await outbox.enqueue(
            uow.session,
            key="content",
            channel=outbox.EMAIL,
            now=now,
            payload={
                "template": "verification",
                "language": "da",
                "to_email": "a@example.dk",
                "to_name": "Åse",
                "context": {"code": "123456"},
            },
        )
        await uow.commit()


async def test_counts(db: Database, now: dt.datetime) -> None:
    for n in range(3):
        await enqueue(db, f"m:{n}", now)
    await claim(db, now, limit=1)
    assert await outbox.counts(db.unit_of_work()) == {"queued": 2, "in_flight": 1}


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are a PostgreSQL matter")


@pytest.mark.usefixtures("postgres_only")
async def test_claim_skips_rows_another_worker_holds(
    db: Database, database_url: str, now: dt.datetime
) -> None:
    for n in range(6):
        await enqueue(db, f"m:{n}", now)
    other = Database(database_url)
    try:
        async with other.engine.connect() as connection:
            transaction = await connection.begin()
            held = (
                (
                    await connection.execute(
                        text("SELECT id FROM outbox ORDER BY id LIMIT 3 FOR UPDATE")
                    )
                )
                .scalars()
                .all()
            )
            # The claim neither waits for the held rows nor takes them.
            claimed = await asyncio.wait_for(claim(db, now), timeout=10)
            await transaction.rollback()
    finally:
        await other.dispose()
    assert len(held) == 3
    assert sorted(m.id for m in claimed) == sorted(
        [(await row(db, f"m:{n}")).id for n in range(3, 6)]
    )


@pytest.mark.usefixtures("postgres_only")
async def test_two_workers_never_claim_the_same_row(
    db: Database, database_url: str, now: dt.datetime
) -> None:
    total = 200
    async with db.unit_of_work() as uow:
        for n in range(total):
            await outbox.enqueue(
                uow.session, key=f"m:{n}", channel=outbox.EMAIL, payload={"n": n}, now=now
            )
        await uow.commit()

    async def worker(database: Database) -> list[int]:
        taken: list[int] = []
        while batch := await claim(database, now, limit=7):
            taken.extend(m.id for m in batch)
            await asyncio.sleep(0)
        return taken

    first, second = Database(database_url), Database(database_url)
    try:
        results = await asyncio.gather(*(worker(d) for d in (first, second, first, second)))
    finally:
        await first.dispose()
        await second.dispose()
    taken = [message_id for result in results for message_id in result]
    assert len(taken) == total
    assert len(set(taken)) == total
    assert sum(1 for result in results if result) >= 2  # the work was shared
    async with db.unit_of_work() as uow:
        attempts = (await uow.session.scalars(select(OutboxMessage.attempts))).all()
    assert set(attempts) == {1}
