"""Telegram delivery from the outbox, at Telegram's limits (kept by
``scheduler.telegram.ratelimit``).

**Outcomes** (``scheduler.telegram.messages.classify``). 403 (the member blocked the bot, or
their account is gone) and 400 "chat not found" mark the member unreachable: the row fails as
``unreachable``, and the member's other rows are skipped from then on (until Telegram tells the
bot they unblocked it). Other 400s (a malformed message) fail at once: sending it again cannot
help. Network errors, time-outs, 5xx and the like are retried with exponential backoff, then
failed.

Each row is marked right after its answer, so a crash re-sends at most the rows whose request
was under way at that moment (Telegram has no idempotency key to make even those exactly-once).

Log lines carry outbox ids, counts and error classes, never chat ids, texts or names.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from dataclasses import dataclass, field

from telegram import Bot
from telegram.error import (
    RetryAfter,
)
from telegram.request import HTTPXRequest

from samvirke.settings import Settings
from scheduler.mail.failures import backoff
from scheduler.telegram.messages import Outcome, PayloadError, TelegramMessage, classify
from scheduler.telegram.ratelimit import RateLimiter, retry_after_seconds
from storage import outbox, scheduling
from storage.channels import posts as channel_posts
from storage.clock import Clock, utcnow
from storage.outbox import ClaimedMessage
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")


def make_bot(settings: Settings, *, connections: int = 64, timeout: float = 30.0) -> Bot:
    """A Bot for the scheduler, talking to ``SAMVIRKE_TELEGRAM_API_URL`` like the bot does."""
    if settings.telegram_token is None:
        raise ValueError("SAMVIRKE_TELEGRAM_TOKEN is not set")
    request = HTTPXRequest(
        connection_pool_size=connections,
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    return Bot(
        settings.telegram_token.get_secret_value(),
        base_url=f"{settings.api_base}/bot",
        base_file_url=f"{settings.api_base}/file/bot",
        request=request,
        get_updates_request=request,  # never used: one connection pool
    )


# --- the delivery --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TelegramOptions:
    batch_size: int = 100
    poll_interval: float = 1.0
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    max_attempts: int = 8
    # How long a claimed row belongs to this worker. A batch starts no send after half of it.
    lease: dt.timedelta = dt.timedelta(minutes=5)
    # 429s one row may meet in one batch before it waits for a later one.
    max_throttled: int = 5

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_attempts < 1 or self.poll_interval <= 0:
            raise ValueError("batch_size, max_attempts and poll_interval must be positive")
        if self.lease <= dt.timedelta(0) or self.backoff_base <= dt.timedelta(0):
            raise ValueError("lease and backoff_base must be positive")


@dataclass
class TelegramReport:
    """What one batch did (counts only)."""

    claimed: int = 0
    sent: int = 0
    unreachable: int = 0
    retried: int = 0
    failed: int = 0
    throttled: int = 0


@dataclass
class _Item:
    row: ClaimedMessage
    message: TelegramMessage
    deadline: dt.datetime  # no send starts after this (half the row's lease)
    throttled: int = 0


@dataclass
class _Run:
    """Rows claimed and not yet settled: per-chat queues (in id order) and sends under way."""

    report: TelegramReport
    limiter: RateLimiter
    queues: dict[int, deque[_Item]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.limiter.wake()  # the loop may be waiting for the last sends

    def add(self, item: _Item, *, front: bool = False) -> None:
        queue = self.queues.setdefault(item.message.chat_id, deque())
        if front:
            queue.appendleft(item)
        else:
            queue.append(item)


class TelegramDelivery:
    """Delivers the Telegram outbox: ``run_once`` for one batch, ``run_forever`` for the worker.

    ``run_forever`` claims the next batch as soon as the last row of the current one has been
    sent off (the answers of the last ones may still be on their way), so the rate does not dip
    between batches.
    """

    def __init__(
        self,
        database: Database,
        bot: Bot,
        *,
        options: TelegramOptions | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._database = database
        self.bot = bot
        self.options = options or TelegramOptions()
        self.limiter = limiter or RateLimiter()
        self._clock = clock
        self.totals = TelegramReport()  # since start, for /metrics

    async def run_once(self, now: dt.datetime | None = None) -> TelegramReport:
        """Claim up to ``batch_size`` due rows and send them all at the allowed rate."""
        run = _Run(TelegramReport(), self.limiter)
        await self._claim(run, now or self._clock())
        while run.queues or run.tasks:
            await self._step(run)
        self._log(run.report)
        return run.report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; rows not yet sent off then are given back at once."""
        log.info("telegram delivery started (%d messages per second)", self.limiter.rate)
        run = _Run(self.totals, self.limiter)
        while not stop.is_set() or run.queues or run.tasks:
            if stop.is_set() and run.queues:
                await self._postpone(run, "worker stopping")
                continue
            if not run.queues and not stop.is_set():
                try:
                    claimed = await self._claim(run, self._clock())
                except Exception as exc:  # keep the worker alive; leases will run out
                    log.error("telegram delivery: claim failed: %s", type(exc).__name__)  # noqa: TRY400
                    claimed = 0
                if claimed:
                    self._log(run.report, "telegram totals since start")
                    continue
                if not run.tasks:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.options.poll_interval):
                            await stop.wait()
                    continue
            await self._step(run)
        log.info("telegram delivery stopped")

    @staticmethod
    def _log(report: TelegramReport, what: str = "telegram") -> None:
        log.info(
            "%s: claimed=%d sent=%d unreachable=%d retry=%d failed=%d 429s=%d",
            what,
            report.claimed,
            report.sent,
            report.unreachable,
            report.retried,
            report.failed,
            report.throttled,
        )

    # --- claiming and sending ---------------------------------------------------------------

    async def _claim(self, run: _Run, now: dt.datetime) -> int:
        claimed = await outbox.claim(
            self._database.unit_of_work(),
            channel=outbox.TELEGRAM,
            limit=self.options.batch_size,
            now=now,
            lease=self.options.lease,
        )
        if not claimed:
            return 0
        run.report.claimed += len(claimed)
        skipped = await scheduling.unreachable_among(
            self._database.unit_of_work(),
            [r.member_id for r in claimed if r.member_id is not None],
        )
        deadline = now + self.options.lease / 2
        for row in claimed:
            try:
                message = TelegramMessage.from_payload(row.payload)
            except PayloadError as exc:
                await self._settle(row, Outcome("failed", str(exc), "payload"), run.report)
                continue
            if row.member_id in skipped:
                await self._unreachable(row, message.chat_id, "marked unreachable before", run)
                continue
            run.add(_Item(row, message, deadline))
        return len(claimed)

    async def _step(self, run: _Run) -> None:
        """Send off the next row whose chat is ready, if the limits allow; else wait a little."""
        limiter = self.limiter
        now = limiter.now()
        chat_id = None
        if run.queues and limiter.ready(now, background=True):
            chat_id = next((c for c in run.queues if limiter.chat_ready(c, now)), None)
        if chat_id is None:
            await limiter.wait(limiter.next_change(now, list(run.queues)[:50]))
            return
        queue = run.queues[chat_id]
        item = queue.popleft()
        if not queue:
            del run.queues[chat_id]
        if self._clock() >= item.deadline:
            # The lease runs low: another worker may soon take the row; let it wait for then.
            await self._retry_at(item.row, "not sent: lease running out", self._clock(), run)
            return
        limiter.start(chat_id)
        task = asyncio.create_task(self._deliver(item, run))
        run.tasks.add(task)
        task.add_done_callback(run.done)

    async def _deliver(self, item: _Item, run: _Run) -> None:
        chat_id = item.message.chat_id
        try:
            sent_id = await item.message.send(self.bot)
        except RetryAfter as exc:
            self.limiter.finish(chat_id)
            seconds = retry_after_seconds(exc)
            self.limiter.pause(seconds)
            run.report.throttled += 1
            item.throttled += 1
            if item.throttled <= self.options.max_throttled:
                run.add(item, front=True)
                return
            await self._retry_at(
                item.row, f"429 {exc}", self._clock() + dt.timedelta(seconds=seconds), run
            )
            return
        except Exception as exc:
            self.limiter.finish(chat_id)
            outcome = classify(exc)
            if outcome.kind == "unreachable":
                await self._unreachable(item.row, chat_id, outcome.error, run)
                # The chat's other rows would meet the same answer.
                for other in run.queues.pop(chat_id, deque()):
                    await self._unreachable(other.row, chat_id, outcome.error, run)
                return
            await self._settle(item.row, outcome, run.report)
            return
        self.limiter.finish(chat_id)
        try:
            await outbox.mark_sent(self._database.unit_of_work(), item.row, now=self._clock())
        except Exception as exc:  # the message went; the row stays in flight until its lease
            log.error(  # noqa: TRY400
                "telegram outbox %d sent but not recorded: %s", item.row.id, type(exc).__name__
            )
            return
        run.report.sent += 1
        if item.message.post_id is not None and sent_id is not None:
            try:
                await channel_posts.record_sent(
                    self._database.unit_of_work(), item.message.post_id, sent_id
                )
            except Exception as exc:  # the post stays, but will not be edited
                log.error(  # noqa: TRY400
                    "telegram outbox %d: post id not recorded: %s", item.row.id, type(exc).__name__
                )

    async def _postpone(self, run: _Run, why: str) -> None:
        """Rows not sent off wait for a later claim (by this worker or another)."""
        queues, run.queues = run.queues, {}
        for queue in queues.values():
            for item in queue:
                await self._retry_at(item.row, f"not sent: {why}", self._clock(), run)

    async def _retry_at(self, row: ClaimedMessage, error: str, at: dt.datetime, run: _Run) -> None:
        await outbox.mark_retry(self._database.unit_of_work(), row, error=error, next_attempt_at=at)
        run.report.retried += 1

    async def _unreachable(self, row: ClaimedMessage, chat_id: int, reason: str, run: _Run) -> None:
        await scheduling.settle_unreachable(
            self._database.unit_of_work(), row, chat_id=chat_id, reason=reason, now=self._clock()
        )
        run.report.unreachable += 1
        log.info("telegram outbox %d: member unreachable", row.id)

    async def _settle(self, row: ClaimedMessage, outcome: Outcome, report: TelegramReport) -> None:
        """Failed (permanent, or out of attempts) or due again after a backoff."""
        uow = self._database.unit_of_work()
        if outcome.kind == "failed" or row.attempts >= self.options.max_attempts:
            error = outcome.error
            if outcome.kind != "failed":
                error = f"gave up after {row.attempts} attempts: {error}"
            await outbox.mark_failed(uow, row, error=error)
            report.failed += 1
            log.warning(
                "telegram outbox %d failed (attempt %d): %s", row.id, row.attempts, outcome.reason
            )
            return
        delay = backoff(row.attempts, base=self.options.backoff_base, cap=self.options.backoff_cap)
        await outbox.mark_retry(
            uow, row, error=outcome.error, next_attempt_at=self._clock() + delay
        )
        report.retried += 1
        log.info(
            "telegram outbox %d: retry in %ds (attempt %d): %s",
            row.id,
            int(delay.total_seconds()),
            row.attempts,
            outcome.reason,
        )
