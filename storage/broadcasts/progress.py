"""How far a broadcast has got, counted from its outbox rows (rows withdrawn since count
nowhere); the progress message and the final report the organiser sees, and which progress
messages are due for an edit (``scheduler.telegram.progress`` makes the edits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from babel.numbers import format_decimal
from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.broadcasts.content import report_key
from storage.errors import InvalidInput
from storage.models import (
    Broadcast,
    OutboxMessage,
    OutboxStatus,
)
from storage.scheduling import UNREACHABLE
from storage.uow import UnitOfWork
from templates.i18n import Translator, translator


@dataclass(frozen=True)
class Progress:
    """Counted from the broadcast's outbox rows. Rows withdrawn since (a recipient erased their
    data) count nowhere, so the parts may add up to less than ``total``."""

    total: int
    delivered: int = 0
    unreachable: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def done(self) -> bool:
        return self.pending == 0

    def signature(self) -> str:
        return f"{self.delivered}/{self.unreachable}/{self.failed}/{self.pending}"


async def _count(session: AsyncSession, broadcast_id: int, total: int) -> Progress:
    unreachable = case(
        (OutboxMessage.last_error.like(f"{UNREACHABLE}:%"), True),
        else_=False,
    )
    rows = await session.execute(
        select(OutboxMessage.status, unreachable, func.count())
        .where(OutboxMessage.key.like(f"broadcast:{broadcast_id}:%"))
        .group_by(OutboxMessage.status, unreachable)
    )
    counts = {"delivered": 0, "unreachable": 0, "failed": 0, "pending": 0}
    for status, is_unreachable, n in rows.all():
        if status == OutboxStatus.SENT:
            counts["delivered"] += n
        elif status == OutboxStatus.FAILED:
            counts["unreachable" if is_unreachable else "failed"] += n
        else:
            counts["pending"] += n
    return Progress(total=total, **counts)


async def progress(uow: UnitOfWork, broadcast_id: int) -> Progress:
    async with uow:
        broadcast = await uow.session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise InvalidInput("broadcast_unknown")
        return await _count(uow.session, broadcast.id, broadcast.total)


def _n(t: Translator, n: int) -> str:
    return format_decimal(n, locale=t.language)


def progress_text(t: Translator, progress: Progress) -> str:
    """The organiser's progress message while the broadcast goes out."""
    lines = [
        t(
            "Sending your broadcast: sent {sent} of {total}.",
            sent=_n(t, progress.delivered),
            total=_n(t, progress.total),
        )
    ]
    missed = progress.unreachable + progress.failed
    if missed:
        lines.append(t("Not delivered so far: {n}.", n=_n(t, missed)))
    return "\n".join(lines)


def report_text(t: Translator, progress: Progress) -> str:
    """The final report: one message to the organiser, from the outbox (the progress message
    is taken away then)."""
    lines = [
        t("Your broadcast is done."),
        t("Delivered: {n}", n=_n(t, progress.delivered)),
        t(
            "Unreachable (blocked the bot or left Telegram): {n}",
            n=_n(t, progress.unreachable),
        ),
        t("Failed: {n}", n=_n(t, progress.failed)),
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class ProgressUpdate:
    """An edit the scheduler owes an organiser's progress message."""

    broadcast_id: int
    chat_id: int
    message_id: int
    text: str
    final: bool


async def _finish(
    session: AsyncSession, broadcast: Broadcast, counted: Progress, *, now: dt.datetime
) -> None:
    """Nothing is left to send: the broadcast is finished, its report queued and audited."""
    broadcast.finished_at = now
    if broadcast.progress_chat_id is not None:
        await outbox.enqueue_telegram(
            session,
            key=report_key(broadcast.id),
            chat_id=broadcast.progress_chat_id,
            text=report_text(translator(broadcast.language), counted),
            now=now,
            member_id=broadcast.author_member_id,
        )
    audit.record(
        session,
        "broadcast.finished",
        now=now,
        broadcast_id=broadcast.id,
        delivered=counted.delivered,
        unreachable=counted.unreachable,
        failed=counted.failed,
    )


async def due_progress(
    uow: UnitOfWork, *, now: dt.datetime, interval: dt.timedelta
) -> list[ProgressUpdate]:
    """Broadcasts whose progress message should change now (not more often than ``interval``).

    A broadcast with nothing left to send is finished here: its report is queued (once: the
    outbox key) in the same transaction. Row locks (SKIP LOCKED) keep two workers from
    reporting the same broadcast at the same moment.
    """
    async with uow:
        rows = (
            await uow.session.scalars(
                select(Broadcast)
                .where(
                    Broadcast.finished_at.is_(None),
                    or_(Broadcast.progress_at.is_(None), Broadcast.progress_at <= now - interval),
                )
                .order_by(Broadcast.id)
                .with_for_update(skip_locked=True)
            )
        ).all()
        updates = []
        for broadcast in rows:
            counted = await _count(uow.session, broadcast.id, broadcast.total)
            t = translator(broadcast.language)
            if counted.done:
                await _finish(uow.session, broadcast, counted, now=now)
                text = t("Sending finished: the report follows.")  # if it cannot be deleted
            elif counted.signature() == broadcast.progress_shown:
                continue
            else:
                text = progress_text(t, counted)
            broadcast.progress_at = now
            broadcast.progress_shown = counted.signature()
            if broadcast.progress_chat_id is not None and broadcast.progress_message_id:
                updates.append(
                    ProgressUpdate(
                        broadcast.id,
                        broadcast.progress_chat_id,
                        broadcast.progress_message_id,
                        text,
                        final=counted.done,
                    )
                )
        await uow.commit()
        return updates
