"""The bot's own Bot API calls (handlers' replies and edits) through the process's one
:class:`~scheduler.telegram.ratelimit.RateLimiter`, as python-telegram-bot's rate limiter.

Messages (``send*``, ``edit*``, ``copy*``, ``forward*``) to a chat wait for the chat's and the
overall limits, ahead of any background delivery; other calls (``answerCallbackQuery``,
``getUpdates``, ``setMyCommands``, …) are not spaced. A 429 on any call pauses the limiter for
``retry_after`` and the call is made again (up to ``max_retries`` times), so a handler sees an
answer, not ``RetryAfter``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from scheduler.telegram.ratelimit import RateLimiter, retry_after_seconds

log = logging.getLogger(__name__)

MESSAGE_METHODS = ("send", "edit", "copy", "forward")


def spaced_chat(endpoint: str, data: dict[str, Any]) -> int | None:
    """The chat a call puts a message into (spaced by the limits), or None."""
    if not endpoint.startswith(MESSAGE_METHODS) or endpoint == "sendChatAction":
        return None
    chat_id = data.get("chat_id")
    if isinstance(chat_id, int) and not isinstance(chat_id, bool):
        return chat_id
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        return int(chat_id)
    if chat_id is not None:  # "@channelname": a channel, kept to the group limit
        return -abs(hash(chat_id)) - 1
    return None


class SharedRateLimiter(BaseRateLimiter[None]):
    """python-telegram-bot's rate-limiter hook, backed by the shared :class:`RateLimiter`."""

    def __init__(self, limiter: RateLimiter, *, max_retries: int = 5) -> None:
        self.limiter = limiter
        self.max_retries = max_retries
        # python-telegram-bot 22 warns at every 429 that RetryAfter.retry_after will become a
        # timedelta; this reads either (see ratelimit.retry_after_seconds), as the scheduler does.
        warnings.filterwarnings("ignore", message=".*retry_after.*", category=PTBDeprecationWarning)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = spaced_chat(endpoint, data)
        attempt = 0
        while True:
            try:
                if chat_id is None:
                    await self._wait_out_pause()
                    return await callback(*args, **kwargs)
                async with self.limiter.slot(chat_id):
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                attempt += 1
                seconds = retry_after_seconds(exc)
                self.limiter.pause(seconds)
                if attempt > self.max_retries:
                    raise
                log.info("%s: 429, trying again in %.1f s", endpoint, seconds)

    async def _wait_out_pause(self) -> None:
        while (left := self.limiter.paused_for()) > 0:
            await self.limiter.wait(left)
