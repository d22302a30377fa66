"""Telegram's limits for one process.

Telegram allows a bot about 30 messages per second overall and one per second per
chat, and answers 429 with ``retry_after`` beyond that. :class:`RateLimiter` keeps both limits
*as the server sees them*, whatever the network's latency:

* a request holds one of ``rate`` slots from the moment it is sent until one second after its
  answer came back. Every request the server received in the second before a new one arrives
  was therefore either still unanswered or answered less than a second before the new one was
  sent, so it holds a slot: the server never sees more than ``rate`` in any second. Starts are
  also paced (one per 1/``rate`` s), so the messages flow evenly instead of in bursts;
* the next message to a chat is sent only ``chat_interval`` (1 s) after the answer to the
  previous one, so two never arrive within a second of each other.

* a group or channel (a negative chat id) gets at most ``group_rate`` (20) messages a minute.

One limiter serves the whole process: the bot's own calls (replies and edits in handlers, through
:class:`scheduler.telegram.botcalls.SharedRateLimiter`) and the outbox's deliveries. Replies come
first: *background* work (the outbox, broadcast progress) may use only ``rate - reserve`` of the
slots and starts nothing while a reply waits, so a member's answer never queues behind a
broadcast to thousands.

A batch does not wait in line behind a chat that is cooling down: it sends the next row whose
chat is ready. A 429 nonetheless (another process using the same bot) pauses every send for
``retry_after`` and the row is sent again after it, without counting as a failed attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Callable

from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

Monotonic = Callable[[], float]


class RateLimiter:
    """Telegram's limits for one process (see the module's docstring)."""

    def __init__(
        self,
        *,
        rate: int = 30,
        chat_interval: float = 1.0,
        window: float = 1.0,
        group_rate: int = 20,
        group_window: float = 60.0,
        reserve: int | None = None,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        if rate < 1 or chat_interval < 0 or window <= 0 or group_rate < 1 or group_window <= 0:
            raise ValueError("rate must be at least 1, intervals positive")
        self.rate = rate
        # Slots background work leaves free for replies (5 of 30); none when the rate is tiny.
        self.reserve = min(rate - 1, rate // 6 if reserve is None else reserve)
        self.group_rate = group_rate
        self.group_window = group_window
        self._group_sent: dict[int, deque[float]] = {}
        self._interactive_waiting = 0
        self.chat_interval = chat_interval
        self.window = window
        self._now = monotonic
        self._active = 0
        self._answered: deque[float] = deque()  # answer times within the last window
        self._busy: set[int] = set()  # chats with a request under way
        self._chat_free_at: dict[int, float] = {}
        self._paused_until = 0.0
        # Starts are also paced, one per window/rate: no bursts (kinder to the server, and
        # fewer requests under way at any moment).
        self._pace = window / rate
        self._next_start = 0.0
        self._changed = asyncio.Event()
        self.throttled = 0  # 429s seen

    def now(self) -> float:
        return self._now()

    def _forget(self, now: float) -> None:
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        if len(self._chat_free_at) > 10_000:
            self._chat_free_at = {c: t for c, t in self._chat_free_at.items() if t > now}

    def ready(self, now: float, *, background: bool = False) -> bool:
        """A request may start now (the overall limit and any 429 pause). ``background`` work
        leaves ``reserve`` slots free and waits while a reply is waiting."""
        self._forget(now)
        limit = self.rate
        if background:
            if self._interactive_waiting:
                return False
            limit -= self.reserve
        return (
            now >= self._paused_until
            and now >= self._next_start
            and self._active + len(self._answered) < limit
        )

    def _group_free_at(self, chat_id: int, now: float) -> float:
        """When a group or channel may get its next message (``group_rate`` a minute)."""
        sent = self._group_sent.get(chat_id)
        if not sent:
            return 0.0
        while sent and sent[0] <= now - self.group_window:
            sent.popleft()
        if len(sent) < self.group_rate:
            return 0.0
        return sent[0] + self.group_window

    def chat_ready(self, chat_id: int, now: float) -> bool:
        return (
            chat_id not in self._busy
            and self._chat_free_at.get(chat_id, 0.0) <= now
            and (chat_id >= 0 or self._group_free_at(chat_id, now) <= now)
        )

    def start(self, chat_id: int) -> None:
        # On a fixed beat: a start that woke a little late does not push the next ones back.
        self._next_start = max(self._next_start, self._now() - self._pace / 2) + self._pace
        self._active += 1
        self._busy.add(chat_id)
        if chat_id < 0:
            self._group_sent.setdefault(chat_id, deque()).append(self._now())

    def finish(self, chat_id: int) -> None:
        """The answer to a request to ``chat_id`` came back (whatever it said)."""
        now = self._now()
        self._active -= 1
        self._answered.append(now)
        self._busy.discard(chat_id)
        self._chat_free_at[chat_id] = now + self.chat_interval
        self._changed.set()

    def paused_for(self) -> float:
        """Seconds left of a 429 pause (0 when none)."""
        return max(self._paused_until - self._now(), 0.0)

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing starts for ``seconds``."""
        self.throttled += 1
        self._paused_until = max(self._paused_until, self._now() + seconds)
        self._changed.set()

    def next_change(self, now: float, chats: list[int] | None = None) -> float:
        """Seconds until waiting may end: a slot frees, a pause ends, or one of ``chats``
        cools down (answers also wake waiters at once)."""
        moments = [self._paused_until, self._next_start]
        if self._answered:
            moments.append(self._answered[0] + self.window)
        for chat_id in chats or ():
            if chat_id not in self._busy:
                moments.append(self._chat_free_at.get(chat_id, 0.0))
                if chat_id < 0:
                    moments.append(self._group_free_at(chat_id, now))
        future = [m - now for m in moments if m > now]
        return min(future, default=self.window)

    def wake(self) -> None:
        """Something else changed (a send finished its bookkeeping): waiters look again."""
        self._changed.set()

    async def wait(self, seconds: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.001)):
                await self._changed.wait()

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int, *, background: bool = False) -> AsyncIterator[None]:
        """Hold a slot for one request to ``chat_id`` (waiting for it), e.g. an edit. A reply
        (not ``background``) is served before any background work that waits."""
        holding_back = False  # background work is held back while this reply's chat is ready
        try:
            while True:
                now = self._now()
                chat_ready = self.chat_ready(chat_id, now)
                if chat_ready and self.ready(now, background=background):
                    break
                if holding_back != (chat_ready and not background):
                    holding_back = not holding_back
                    self._interactive_waiting += 1 if holding_back else -1
                await self.wait(self.next_change(now, [chat_id]))
        finally:
            if holding_back:
                self._interactive_waiting -= 1
                self._changed.set()  # background work may go on
        self.start(chat_id)
        try:
            yield
        finally:
            self.finish(chat_id)


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # python-telegram-bot 22 warns that retry_after will become a timedelta.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
