"""The mail delivery loop: claim due e-mail rows, send them over one connection, record outcomes.

What a failure means (after pretix's mail service):

* the connection cannot be made, is refused, times out or drops, or the server answers 4xx:
  **retry** later with exponential backoff (``backoff_base`` doubled per attempt, capped);
  after ``max_attempts`` attempts the row is **failed**;
* the server answers 5xx (recipient, sender or data refused): **failed** at once, with the
  server's reply in ``last_error``;
* the row cannot become a mail (no or invalid address, erased payload): **failed** at once;
  a template error (our bug, fixed by a deployment) is retried.

Each row is marked right after its own send, so a crash mid-batch re-sends at most the one row
in hand (it stays in flight until its lease runs out). A retry re-sends the same Message-ID.

Log lines carry outbox ids, counts, SMTP codes and exception class names, never addresses,
names, subjects or server replies (which often quote the address).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib

from samvirke.scheduler.mail import MailBuildError, OutgoingMail, build_message
from samvirke.scheduler.transports import (
    DEFAULT_SMTP_TIMEOUT,
    MailConnection,
    MailTransport,
    transport_from_settings,
)
from samvirke.settings import Settings
from samvirke.storage import outbox
from samvirke.storage.outbox import ClaimedMessage
from samvirke.storage.uow import Database

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_attempts < 1 or self.poll_interval <= 0:
            raise ValueError("batch_size, max_attempts and poll_interval must be positive")
        if self.lease <= dt.timedelta(0) or self.backoff_base <= dt.timedelta(0):
            raise ValueError("lease and backoff_base must be positive")


MARK_SENT_EVERY = 1


@dataclass
class DeliveryReport:
    """What one run did (counts only)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Failure:
    """Why a row was not delivered.

    ``error`` goes to ``last_error`` (it may quote the server); ``reason`` is safe to log.
    ``connection_lost``: the session is unusable, the rest of the batch waits for a retry.
    """

    error: str
    reason: str
    permanent: bool
    connection_lost: bool = False


def backoff(attempts: int, *, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: base, 2·base, 4·base, … at most cap."""
    exponent = min(max(attempts - 1, 0), 64)  # 2**64 times anything sensible exceeds the cap
    seconds = base.total_seconds() * 2.0**exponent
    return min(dt.timedelta(seconds=min(seconds, cap.total_seconds())), cap)


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def classify(exc: BaseException) -> Failure:
    """Sort a sending error into retry (temporary) or failed (permanent)."""
    name = type(exc).__name__
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        replies = "; ".join(_reply(r.code, r.message) for r in exc.recipients)
        return Failure(
            error=f"recipient refused: {replies}",
            reason=f"{name} {','.join(map(str, codes))}",
            permanent=bool(codes) and all(_is_permanent(code) for code in codes),
            connection_lost=421 in codes,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Failure(
            error=f"{name}: {_reply(exc.code, exc.message)}",
            reason=f"{name} {exc.code}",
            permanent=_is_permanent(exc.code),
            # 421: the server is closing the session.
            connection_lost=exc.code == 421 or isinstance(exc, OSError),
        )
    if isinstance(exc, OSError):  # refused, reset, timeouts, SMTPServerDisconnected, TLS errors
        return Failure(error=f"{name}: {exc}", reason=name, permanent=False, connection_lost=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        # e.g. an address the server cannot take (SMTPUTF8 missing): retrying cannot help.
        return Failure(error=f"{name}: {exc}", reason=name, permanent=True)
    return Failure(error=f"{name}: {exc}", reason=name, permanent=False)


def connect_failure(exc: BaseException) -> Failure:
    """Connecting or logging in failed: every row of the batch is retried, whatever the code."""
    failure = classify(exc)
    return Failure(
        error=f"connecting failed: {failure.error}", reason=failure.reason, permanent=False
    )


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
        self.options = options or DeliveryOptions()
        self.transport: MailTransport = transport or transport_from_settings(
            settings, timeout=self.options.smtp_timeout
        )
        self._clock = clock

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
        ready = await self._build_all(claimed, report, now=now)
        if ready:
            await self._send_all(ready, report, deadline=now + self.options.lease / 2)
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

    async def _build_all(
        self, claimed: list[ClaimedMessage], report: DeliveryReport, *, now: dt.datetime
    ) -> list[tuple[ClaimedMessage, OutgoingMail]]:
        ready = []
        for message in claimed:
            try:
                ready.append((message, build_message(message, self._settings, now=now)))
            except MailBuildError as exc:
                failure = Failure(
                    error=str(exc), reason=type(exc).__name__, permanent=exc.permanent
                )
                await self._settle(message, failure, report)
            except Exception as exc:  # a bug: the row waits for a fix instead of blocking others
                failure = Failure(
                    error=f"{type(exc).__name__}: {exc}", reason=type(exc).__name__, permanent=False
                )
                await self._settle(message, failure, report)
        return ready

    async def _send_all(
        self,
        ready: list[tuple[ClaimedMessage, OutgoingMail]],
        report: DeliveryReport,
        *,
        deadline: dt.datetime,
    ) -> None:
        try:
            connection = await self.transport.open()
        except Exception as exc:
            failure = connect_failure(exc)
            log.warning("mail: cannot connect (%s), %d row(s) wait", failure.reason, len(ready))
            for message, _ in ready:
                await self._settle(message, failure, report)
            return
        try:
            await self._send_over(connection, ready, report, deadline=deadline)
        finally:
            await connection.close()

    async def _send_over(
        self,
        connection: MailConnection,
        ready: list[tuple[ClaimedMessage, OutgoingMail]],
        report: DeliveryReport,
        *,
        deadline: dt.datetime,
    ) -> None:
        sent: list[ClaimedMessage] = []
        try:
            for index, (message, mail) in enumerate(ready):
                if self._clock() >= deadline:
                    await self._postpone(ready[index:], "lease running out", report)
                    return
                failure = await self._send_one(connection, mail)
                if failure is None:
                    sent.append(message)
                    report.sent += 1
                    if len(sent) >= MARK_SENT_EVERY:
                        await self._mark_sent(sent)
                    continue
                await self._settle(message, failure, report)
                if failure.connection_lost:
                    why = f"connection lost ({failure.reason})"
                    await self._postpone(ready[index + 1 :], why, report)
                    return
        finally:
            await self._mark_sent(sent)

    async def _mark_sent(self, sent: list[ClaimedMessage]) -> None:
        """Record sent rows a few at a time: one transaction for many rows keeps the database
        off the critical path (a crash in between re-sends at most these, with the same
        Message-ID, which receiving servers use to drop duplicates)."""
        if sent:
            await outbox.mark_sent_many(self._database.unit_of_work(), sent, now=self._clock())
            sent.clear()

    async def _postpone(
        self, rows: list[tuple[ClaimedMessage, OutgoingMail]], why: str, report: DeliveryReport
    ) -> None:
        """Rows of the batch that were not tried: they wait for a retry like any other."""
        failure = Failure(error=f"not sent: {why}", reason=why, permanent=False)
        for message, _ in rows:
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
        if failure.permanent or message.attempts >= self.options.max_attempts:
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
        delay = backoff(
            message.attempts, base=self.options.backoff_base, cap=self.options.backoff_cap
        )
        await outbox.mark_retry(
            uow, message, error=failure.error, next_attempt_at=self._clock() + delay
        )
        report.retried += 1
        log.info(
            "mail outbox %d: retry in %ds (attempt %d): %s",
            message.id,
            int(delay.total_seconds()),
            message.attempts,
            failure.reason,
        )
