"""The mail delivery loop: claim due e-mail rows, send them over one connection, record outcomes.

What a failure means (retry, failed at once) is decided in ``scheduler.mail.failures``.

Each row is recorded as sent right after its own send, in the background while the next mail
goes out (``SentMarker``), so a crash mid-batch re-sends at most ``max_unmarked`` rows (they stay
in flight until their lease runs out). A retry re-sends the same Message-ID.

Log lines carry outbox ids, counts, SMTP codes and exception class names, never addresses,
names, subjects or server replies (which often quote the address).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from dataclasses import dataclass

from samvirke.settings import Settings
from scheduler.mail.compose import MailBuildError, OutgoingMail, build_message
from scheduler.mail.failures import Failure, backoff, classify, connect_failure
from scheduler.mail.transports import (
    DEFAULT_SMTP_TIMEOUT,
    MailConnection,
    MailTransport,
    transport_from_settings,
)
from storage import outbox
from storage.clock import Clock, utcnow
from storage.outbox import ClaimedMessage
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")


@dataclass(frozen=True, kw_only=True)
class DeliveryOptions:
    batch_size: int = 50
    poll_interval: float = 2.0
    backoff_base: dt.timedelta = dt.timedelta(seconds=60)
    backoff_cap: dt.timedelta = dt.timedelta(hours=6)
    max_attempts: int = 10
    # How long a claimed row belongs to this worker. A batch stops sending at half the lease
    # (the rest is retried), so a slow server cannot make another worker send a row twice.
    lease: dt.timedelta = dt.timedelta(minutes=10)
    smtp_timeout: float = DEFAULT_SMTP_TIMEOUT
    # At most this many rows are being sent or sent but not yet recorded (see SentMarker): the
    # most a killed worker can send twice. The README promises three; 1 records each row
    # before the next mail goes out.
    max_unmarked: int = 3
    # After a connection failure the next try comes at most this much later, so that delivery
    # resumes within half a minute of the server's return (not after a backoff grown during
    # the outage).
    connection_retry_cap: dt.timedelta = dt.timedelta(seconds=30)
    # SMTP connections a large batch is sent over side by side (one per
    # MAILS_PER_EXTRA_CONNECTION mails, at most this many); small batches use one.
    connections: int = 2

    def __post_init__(self) -> None:
        if min(self.batch_size, self.max_attempts, self.max_unmarked, self.connections) < 1:
            raise ValueError(
                "batch_size, max_attempts, max_unmarked and connections must be positive"
            )
        if self.poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if self.lease <= dt.timedelta(0) or self.backoff_base <= dt.timedelta(0):
            raise ValueError("lease and backoff_base must be positive")


MAILS_PER_EXTRA_CONNECTION = 20


class SentMarker:
    """Records sent rows in the background while the next mails go out.

    Recording a row costs about as much as sending a mail, so doing the two one after the
    other would halve the rate. Here the write runs beside the next sends, and rows accepted
    while a write is under way are recorded together by the next one.

    A sender takes a slot (``reserve``) before it sends; the slot is freed when the row is
    recorded or the send failed. With ``limit`` slots, at most ``limit`` rows are ever being
    sent or sent but unrecorded: the most a crash (``kill -9``) can make this worker send twice,
    each with its Message-ID unchanged.
    """

    def __init__(self, database: Database, clock: Clock, *, limit: int) -> None:
        self._database = database
        self._clock = clock
        self._slots = asyncio.Semaphore(limit)
        self._waiting: list[ClaimedMessage] = []
        self._task: asyncio.Task[None] | None = None

    async def reserve(self) -> None:
        """Wait for a free slot. Raises if recording failed: then nothing more is sent (the
        unrecorded rows stay in flight and are retried when their lease runs out)."""
        self._raise_if_failed()
        await self._slots.acquire()
        try:
            self._raise_if_failed()
        except BaseException:
            self._slots.release()
            raise

    def release(self) -> None:
        """The send failed (the outcome is recorded by the caller): free its slot."""
        self._slots.release()

    def add(self, message: ClaimedMessage) -> None:
        """The server accepted ``message``: record it as sent (its slot is freed then)."""
        self._waiting.append(message)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write())

    async def flush(self) -> None:
        """Wait until every accepted row is recorded (raises if recording failed)."""
        if self._task is not None:
            await self._task

    def _raise_if_failed(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            error = self._task.exception()
            if error is not None:
                raise error

    async def _write(self) -> None:
        while self._waiting:
            rows, self._waiting = self._waiting, []
            try:
                await outbox.mark_sent_many(self._database.unit_of_work(), rows, now=self._clock())
            finally:
                for _ in rows:
                    self._slots.release()


STOPPING = "worker stopping"


@dataclass
class DeliveryReport:
    """What one run did (counts only)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


class MailDelivery:
    """Delivers the e-mail outbox: ``run_once`` for one batch, ``run_forever`` for the worker."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        options: DeliveryOptions | None = None,
        transport: MailTransport | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._database = database
        self._settings = settings
        self.options = options or DeliveryOptions(connections=settings.smtp_connections)
        self.transport: MailTransport = transport or transport_from_settings(
            settings, timeout=self.options.smtp_timeout
        )
        self._clock = clock
        self.totals = DeliveryReport()  # since start, for /metrics
        self._stop: asyncio.Event | None = None  # set: stop sending, hand back the rest

    async def run_once(self, now: dt.datetime | None = None) -> DeliveryReport:
        """Claim up to ``batch_size`` due rows and deliver them over one connection."""
        now = now or self._clock()
        claimed = await outbox.claim(
            self._database.unit_of_work(),
            channel=outbox.EMAIL,
            limit=self.options.batch_size,
            now=now,
            lease=self.options.lease,
        )
        report = DeliveryReport(claimed=len(claimed))
        if not claimed:
            return report
        await self._send_all(deque(claimed), report, now=now)
        for name in ("claimed", "sent", "retried", "failed"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(report, name))
        log.info(
            "mail batch: claimed=%d sent=%d retry=%d failed=%d",
            report.claimed,
            report.sent,
            report.retried,
            report.failed,
        )
        return report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run batches until ``stop`` is set; a full batch is followed at once by the next."""
        log.info("mail delivery started: %s", self.transport.description)
        self._stop = stop
        while not stop.is_set():
            try:
                report = await self.run_once()
            except Exception as exc:  # keep the worker alive; the rows' leases will run out
                # Only the class name: database errors may quote parameters (addresses).
                log.error("mail delivery run failed: %s", type(exc).__name__)  # noqa: TRY400
                report = DeliveryReport()
            if report.claimed >= self.options.batch_size:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.poll_interval):
                    await stop.wait()
        log.info("mail delivery stopped")

    async def _next_mail(
        self, queue: deque[ClaimedMessage], report: DeliveryReport, *, now: dt.datetime
    ) -> tuple[ClaimedMessage, OutgoingMail] | None:
        """Build the next row of the queue that makes a mail; rows that cannot are settled.

        Mails are built one at a time, right before they are sent, so building one overlaps
        with the other connections waiting for the server."""
        while queue:
            message = queue.popleft()
            try:
                return message, build_message(message, self._settings, now=now)
            except MailBuildError as exc:
                failure = Failure(
                    error=str(exc), reason=type(exc).__name__, permanent=exc.permanent
                )
            except Exception as exc:  # a bug: the row waits for a fix instead of blocking others
                failure = Failure(
                    error=f"{type(exc).__name__}: {exc}", reason=type(exc).__name__, permanent=False
                )
            await self._settle(message, failure, report)
        return None

    async def _send_all(
        self, queue: deque[ClaimedMessage], report: DeliveryReport, *, now: dt.datetime
    ) -> None:
        first = await self._next_mail(queue, report, now=now)
        if first is None:  # nothing to send: no connection is opened
            return
        try:
            connections = [await self.transport.open()]
        except Exception as exc:
            failure = connect_failure(exc)
            rows = [first[0], *queue]
            log.warning("mail: cannot connect (%s), %d row(s) wait", failure.reason, len(rows))
            for message in rows:
                await self._settle(message, failure, report)
            return
        wanted = min(self.options.connections, 1 + len(queue) // MAILS_PER_EXTRA_CONNECTION)
        while len(connections) < wanted:
            try:
                connections.append(await self.transport.open())
            except Exception as exc:  # the batch goes over the connections there are
                log.info("mail: no extra connection (%s)", classify(exc).reason)
                break
        marker = SentMarker(self._database, self._clock, limit=self.options.max_unmarked)
        firsts: list[tuple[ClaimedMessage, OutgoingMail] | None] = [first] + [None] * (
            len(connections) - 1
        )
        try:
            outcomes = await asyncio.gather(
                *(
                    self._send_over(connection, first, queue, marker, report, now=now)
                    for connection, first in zip(connections, firsts, strict=True)
                ),
                return_exceptions=True,
            )
        finally:
            for connection in connections:
                await connection.close()
        await marker.flush()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        if queue:
            why = next((o for o in outcomes if isinstance(o, str)), "not sent")
            if why == STOPPING:  # claimable again at once, by this worker's successor
                for message in queue:
                    await outbox.mark_retry(
                        self._database.unit_of_work(),
                        message,
                        error=f"not sent: {why}",
                        next_attempt_at=self._clock(),
                    )
                report.retried += len(queue)
                log.info("mail: stopping; %d row(s) handed back", len(queue))
                return
            await self._postpone(list(queue), why, report)

    async def _send_over(
        self,
        connection: MailConnection,
        first: tuple[ClaimedMessage, OutgoingMail] | None,
        queue: deque[ClaimedMessage],
        marker: SentMarker,
        report: DeliveryReport,
        *,
        now: dt.datetime,
    ) -> str | None:
        """Send from the shared queue until it is empty (None) or this connection must stop
        (the reason, for the rows left in the queue). Sending stops at half the lease, so a
        slow server cannot make another worker take over a row this one is still sending."""
        deadline = now + self.options.lease / 2
        next_mail = first
        while True:
            if self._stop is not None and self._stop.is_set():
                if next_mail is not None:
                    queue.appendleft(next_mail[0])
                return STOPPING
            if self._clock() >= deadline:
                if next_mail is not None:
                    queue.appendleft(next_mail[0])
                return "lease running out"
            if next_mail is None:
                next_mail = await self._next_mail(queue, report, now=now)
                if next_mail is None:
                    return None
            message, mail = next_mail
            next_mail = None
            await marker.reserve()
            failure = await self._send_one(connection, mail)
            if failure is None:
                marker.add(message)
                report.sent += 1
                continue
            marker.release()
            await self._settle(message, failure, report)
            if failure.connection_lost:
                return f"connection lost ({failure.reason})"

    async def _postpone(self, rows: list[ClaimedMessage], why: str, report: DeliveryReport) -> None:
        """Rows of the batch that were not tried: they wait for a retry like any other."""
        failure = Failure(error=f"not sent: {why}", reason=why, permanent=False)
        for message in rows:
            await self._settle(message, failure, report)

    @staticmethod
    async def _send_one(connection: MailConnection, mail: OutgoingMail) -> Failure | None:
        try:
            await connection.send(mail)
        except Exception as exc:
            return classify(exc)
        return None

    async def _settle(
        self, message: ClaimedMessage, failure: Failure, report: DeliveryReport
    ) -> None:
        """Mark a row failed (permanent, or out of attempts) or due again after a backoff."""
        uow = self._database.unit_of_work()
        out_of_attempts = message.attempts >= self.options.max_attempts and not failure.unreachable
        if failure.permanent or out_of_attempts:
            error = failure.error
            if not failure.permanent:
                error = f"gave up after {message.attempts} attempts: {error}"
            await outbox.mark_failed(uow, message, error=error)
            report.failed += 1
            log.warning(
                "mail outbox %d failed (attempt %d): %s",
                message.id,
                message.attempts,
                failure.reason,
            )
            return
        cap = self.options.backoff_cap
        if failure.connection_lost or failure.unreachable:
            cap = min(cap, self.options.connection_retry_cap)
        delay = backoff(message.attempts, base=self.options.backoff_base, cap=cap)
        await outbox.mark_retry(
            uow,
            message,
            error=failure.error,
            next_attempt_at=self._clock() + delay,
            count_attempt=not failure.unreachable,
        )
        report.retried += 1
        log.info(
            "mail outbox %d: retry in %ds (attempt %d): %s",
            message.id,
            int(delay.total_seconds()),
            message.attempts,
            failure.reason,
        )
