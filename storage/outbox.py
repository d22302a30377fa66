"""The durable outbox: rows inserted with the change that caused them, claimed and marked by
the scheduler. A unique ``key`` per cause means a retried or double-tapped action queues once.

Payloads by channel:

- ``email``: ``{"template": name of templates/mail/<name>.txt|.html, "language": "da"|"sv"|"en",
  "to_name": str, "to_email": str, "context": {...template variables...}}``, plus optional keys a
  template kind needs (e.g. a calendar part).
- ``telegram``: ``{"chat_id": int, "text": str, "parse_mode": "HTML" | None,
  "buttons": [[{"text": str, "callback_data": str} | {"text": str, "url": str}, ...], ...] | None}``
  (see ``enqueue_telegram``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member, OutboxMessage, OutboxStatus
from storage.sql import insert_ignore
from storage.uow import UnitOfWork

EMAIL = "email"
TELEGRAM = "telegram"
INSERT_CHUNK = 500  # rows per statement when queueing many


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    key: str
    channel: str
    member_id: int | None
    payload: dict[str, Any]
    attempts: int


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    channel: str,
    payload: dict[str, Any],
    now: dt.datetime,
    member_id: int | None = None,
) -> bool:
    """Queue a message in the caller's transaction. False if ``key`` was queued before."""
    values = {
        "key": key,
        "channel": channel,
        "member_id": member_id,
        "payload": payload,
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    statement = insert_ignore(session, OutboxMessage, unique=["key"]).values(**values)
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Queued:
    """One message of many queued at once (see ``enqueue_many``)."""

    key: str
    member_id: int | None
    payload: dict[str, Any]


async def enqueue_many(
    session: AsyncSession, channel: str, messages: Sequence[Queued], *, now: dt.datetime
) -> int:
    """Queue many messages on one channel in the caller's transaction, in a few statements;
    a message whose key was queued before is skipped. Returns how many were queued."""
    rows = [
        {
            "key": message.key,
            "channel": channel,
            "member_id": message.member_id,
            "payload": message.payload,
            "status": OutboxStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for message in messages
    ]
    queued = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        statement = insert_ignore(session, OutboxMessage, unique=["key"])
        inserted = await session.scalars(
            statement.returning(OutboxMessage.key), rows[start : start + INSERT_CHUNK]
        )
        queued += len(inserted.all())
    return queued


async def enqueue_telegram(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    text: str,
    now: dt.datetime,
    member_id: int | None = None,
    parse_mode: str | None = None,
    buttons: list[list[dict[str, str]]] | None = None,
) -> bool:
    """Queue a Telegram message in the caller's transaction. False if ``key`` was queued before."""
    return await enqueue(
        session,
        key=key,
        channel=TELEGRAM,
        member_id=member_id,
        payload={"chat_id": chat_id, "text": text, "parse_mode": parse_mode, "buttons": buttons},
        now=now,
    )


def _claimable(now: dt.datetime) -> Any:
    return or_(
        and_(
            OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.RETRY]),
            OutboxMessage.next_attempt_at <= now,
        ),
        # A row whose worker died mid-send: its lease ran out, so another worker takes it over.
        and_(OutboxMessage.status == OutboxStatus.IN_FLIGHT, OutboxMessage.locked_until < now),
    )


async def claim(
    uow: UnitOfWork,
    *,
    channel: str,
    limit: int,
    now: dt.datetime,
    lease: dt.timedelta,
) -> list[ClaimedMessage]:
    """Take up to ``limit`` due rows for this worker (row locks skip rows others hold)."""
    async with uow:
        rows = (
            await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == channel, _claimable(now))
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        claimed = []
        for row in rows:
            row.status = OutboxStatus.IN_FLIGHT
            row.locked_until = now + lease
            row.attempts += 1
            claimed.append(
                ClaimedMessage(
                    row.id, row.key, row.channel, row.member_id, row.payload, row.attempts
                )
            )
        await uow.commit()
        return claimed


# What a sent message keeps (for the member's data export): not its content, such as a code.
KEPT_AFTER_SENDING = ("template", "language", "to_email")


async def mark_sent(uow: UnitOfWork, message: ClaimedMessage, *, now: dt.datetime) -> bool:
    """Record that ``message`` went out. False if the row is no longer ours (see ``_settle``)."""
    return await mark_sent_many(uow, [message], now=now) == 1


# One statement, compiled once, run with many parameter sets (see mark_sent_many).
_MARK_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("row_id"),
        OutboxMessage.status == OutboxStatus.IN_FLIGHT,
        OutboxMessage.attempts == bindparam("claim_attempts"),
    )
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("when_sent", type_=OutboxMessage.sent_at.type),
        last_error=None,
        locked_until=None,
        payload=bindparam("kept", type_=OutboxMessage.payload.type),
    )
)


async def mark_sent_many(
    uow: UnitOfWork, messages: list[ClaimedMessage], *, now: dt.datetime
) -> int:
    """``mark_sent`` for several rows in one transaction and one statement (the mail delivery
    records rows this way while it sends the next ones); returns how many were still ours."""
    if not messages:
        return 0
    params = [
        {
            "row_id": message.id,
            "claim_attempts": message.attempts,
            "when_sent": now,
            "kept": {k: v for k, v in message.payload.items() if k in KEPT_AFTER_SENDING},
        }
        for message in messages
    ]
    async with uow:
        connection = await uow.session.connection()
        result = await connection.execute(_MARK_SENT, params)
        await uow.commit()
        return int(result.rowcount)


async def of_erased_members(uow: UnitOfWork, outbox_ids: Iterable[int]) -> set[int]:
    """Which of these rows were to members who have since erased their data."""
    wanted = list(outbox_ids)
    if not wanted:
        return set()
    async with uow:
        return set(
            (
                await uow.session.scalars(
                    select(OutboxMessage.id)
                    .join(Member, Member.id == OutboxMessage.member_id)
                    .where(OutboxMessage.id.in_(wanted), Member.deleted_at.is_not(None))
                )
            ).all()
        )


async def mark_retry(
    uow: UnitOfWork,
    message: ClaimedMessage,
    *,
    error: str,
    next_attempt_at: dt.datetime,
    count_attempt: bool = True,
) -> bool:
    """Due again at ``next_attempt_at``. ``count_attempt=False``: the message never reached the
    other side (the server was unreachable), so this claim does not use up an attempt."""
    extra: dict[str, Any] = {}
    if not count_attempt:
        extra["attempts"] = max(message.attempts - 1, 0)
    return await _settle(
        uow,
        message,
        status=OutboxStatus.RETRY,
        next_attempt_at=next_attempt_at,
        last_error=error[:1000],
        **extra,
    )


async def mark_failed(uow: UnitOfWork, message: ClaimedMessage, *, error: str) -> bool:
    return await _settle(uow, message, status=OutboxStatus.FAILED, last_error=error[:1000])


async def _settle(uow: UnitOfWork, message: ClaimedMessage, **values: Any) -> bool:
    """Record the outcome of this claim. False if the row is no longer ours (its lease ran out
    and another worker claimed it, or it was withdrawn): then that worker's outcome stands."""
    async with uow:
        settled = await _settle_in(uow, message, **values)
        await uow.commit()
        return settled


async def _settle_in(uow: UnitOfWork, message: ClaimedMessage, **values: Any) -> bool:
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == OutboxStatus.IN_FLIGHT,
            OutboxMessage.attempts == message.attempts,
        )
        .values(locked_until=None, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def counts(uow: UnitOfWork) -> dict[str, int]:
    """How many rows are in each status (for the worker's log line and for tests)."""
    async with uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: n for status, n in rows.all()}
