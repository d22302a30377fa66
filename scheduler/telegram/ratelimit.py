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
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        if rate < 1 or chat_interval < 0 or window <= 0:
            raise ValueError("rate must be at least 1, intervals positive")
        self.rate = rate
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

    def ready(self, now: float) -> bool:
        """A request may start now (the overall limit and any 429 pause)."""
        self._forget(now)
        return (
            now >= self._paused_until
            and now >= self._next_start
            and self._active + len(self._answered) < self.rate
        )

    def chat_ready(self, chat_id: int, now: float) -> bool:
        return chat_id not in self._busy and self._chat_free_at.get(chat_id, 0.0) <= now

    def start(self, chat_id: int) -> None:
        # On a fixed beat: a start that woke a little late does not push the next ones back.
        self._next_start = max(self._next_start, self._now() - self._pace / 2) + self._pace
        self._active += 1
        self._busy.add(chat_id)

    def finish(self, chat_id: int) -> None:
        """The answer to a request to ``chat_id`` came back (whatever it said)."""
        now = self._now()
        self._active -= 1
        self._answered.append(now)
        self._busy.discard(chat_id)
        self._chat_free_at[chat_id] = now + self.chat_interval
        self._changed.set()

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
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        """Hold a slot for one request to ``chat_id`` (waiting for it), e.g. an edit."""
        while True:
            now = self._now()
            if self.ready(now) and self.chat_ready(chat_id, now):
                break
            await self.wait(self.next_change(now, [chat_id]))
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
