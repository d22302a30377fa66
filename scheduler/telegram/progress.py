"""Broadcast progress in the organiser's chat: the progress message edited as rows are sent,
ended with the report (counts from ``storage.broadcasts.progress``)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from telegram import Bot
from telegram.error import BadRequest, RetryAfter, TelegramError

from scheduler.telegram.ratelimit import RateLimiter, retry_after_seconds
from storage.broadcasts import progress as broadcast_progress
from storage.clock import Clock, utcnow
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")


class BroadcastProgress:
    """Edits each running broadcast's progress message in the organiser's chat (at most once
    per ``interval``), and ends it with the report once nothing is left to send."""

    def __init__(
        self,
        database: Database,
        bot: Bot,
        *,
        interval: dt.timedelta = dt.timedelta(seconds=3),
        tick: float = 1.0,
        limiter: RateLimiter | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._database = database
        self.bot = bot
        self.interval = interval
        self.tick = tick
        self.limiter = limiter or RateLimiter()
        self._clock = clock

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Make the edits due now; how many were made."""
        updates = await broadcast_progress.due_progress(
            self._database.unit_of_work(), now=now or self._clock(), interval=self.interval
        )
        edited = 0
        for update in updates:
            if update.final:
                # The report itself comes as one message from the outbox (it notifies the
                # organiser and survives a restart): the progress message makes way for it.
                await self._close(update)
                log.info("broadcast %d finished", update.broadcast_id)
                continue
            try:
                async with self.limiter.slot(update.chat_id, background=True):
                    await self.bot.edit_message_text(
                        update.text, chat_id=update.chat_id, message_id=update.message_id
                    )
                edited += 1
            except RetryAfter as exc:
                self.limiter.pause(retry_after_seconds(exc))  # the next edit shows newer counts
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.warning("broadcast %d: progress not shown: %s", update.broadcast_id, exc)
            except TelegramError as exc:
                log.warning(
                    "broadcast %d: progress not shown: %s", update.broadcast_id, type(exc).__name__
                )
        return edited

    async def _close(self, update: broadcast_progress.ProgressUpdate) -> None:
        """Take the finished progress message away; if Telegram will not, leave it with a
        closing line (never a second copy of the report)."""
        try:
            async with self.limiter.slot(update.chat_id):
                await self.bot.delete_message(update.chat_id, update.message_id)
        except TelegramError:
            try:
                async with self.limiter.slot(update.chat_id):
                    await self.bot.edit_message_text(
                        update.text, chat_id=update.chat_id, message_id=update.message_id
                    )
            except TelegramError as exc:
                log.warning(
                    "broadcast %d: progress not closed: %s", update.broadcast_id, type(exc).__name__
                )

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                log.error("broadcast progress failed: %s", type(exc).__name__)  # noqa: TRY400
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick):
                    await stop.wait()
