"""Updates of different people handled side by side; each chat's and each person's in order.

python-telegram-bot handles one update at a time unless told otherwise: at a busy moment (a
broadcast, then hundreds of Going presses) every member waits behind everybody else's database
round trips. ``OrderedUpdateProcessor`` lets up to ``SAMVIRKE_CONCURRENT_UPDATES`` updates run
at once, with one rule: two updates that share a key run one after the other, in the order they
arrived. An update's keys are its chat (``effective_chat``) and its person (``effective_user``):

- a message, a button press or a member change in a chat: that chat and that person, so a
  group's updates stay in order and so do one person's across their private chat and groups;
- updates without a chat (inline queries, chosen inline results, presses on inline messages,
  poll answers): the person only;
- updates with neither (polls, the bot's own errors): no key, they run whenever there is room.

Why conversation state stays correct: python-telegram-bot warns that ``ConversationHandler``
relies on updates being processed one by one. What it relies on is narrower: a conversation is
keyed by chat and person (``per_chat``, ``per_user``; never ``per_message`` here), and its next
state is decided by the previous update of that same key. Because both keys of an update are
ordered, the updates of one conversation (and of one person's ``user_data`` and one chat's
``chat_data``) never overlap and never overtake each other; updates of other conversations do
not read or write that state. The database's own rules (seats, the ledger) never relied on
ordering: they hold under concurrent transactions on their own (row locks, ``BEGIN IMMEDIATE``).

How order is kept: an update takes its place in the queue of each of its keys at once, when it
arrives (synchronously, so arrival order is the order of ``Application.update_queue``: PTB
starts one task per update in that order and its semaphore wakes waiters first in, first out).
It runs when it is first in all its queues. Since every queue is in arrival order, the earliest
waiting update is always first in all of its queues: no update waits on another that waits on
it. A queue is removed when its last update is done, so only keys with updates in flight are
held (not one lock per person ever seen).

An update waiting for its chat's turn holds one of the places: a chat that sends many updates at
once occupies that many places while they run one after the other.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(f"samvirke.{__name__}")


def update_keys(update: object) -> tuple[Hashable, ...]:
    """What an update must not overtake: its chat and its person (see the module docstring)."""
    if not isinstance(update, Update):
        return ()
    keys: list[Hashable] = []
    if update.effective_chat is not None:
        keys.append(("chat", update.effective_chat.id))
    if update.effective_user is not None:
        keys.append(("user", update.effective_user.id))
    return tuple(keys)


class _Turn:
    """One update's place in the queues of its keys."""

    __slots__ = ("keys", "ready")

    def __init__(self, keys: tuple[Hashable, ...]) -> None:
        self.keys = keys
        self.ready = asyncio.get_running_loop().create_future()


class OrderedUpdateProcessor(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` updates at once; those sharing a chat or a person one at a
    time, in arrival order."""

    __slots__ = ("_queues",)

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._queues: dict[Hashable, deque[_Turn]] = {}

    @property
    def keys_in_flight(self) -> int:
        """How many chats and people have updates running or waiting (0 when idle)."""
        return len(self._queues)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        turn = self._enter(update_keys(update))
        try:
            try:
                await turn.ready
            except BaseException:  # cancelled while waiting for its turn: it never runs
                if inspect.iscoroutine(coroutine):
                    coroutine.close()
                raise
            await coroutine
        finally:
            self._leave(turn)

    def _enter(self, keys: tuple[Hashable, ...]) -> _Turn:
        turn = _Turn(keys)
        for key in keys:
            self._queues.setdefault(key, deque()).append(turn)
        self._wake(turn)
        return turn

    def _leave(self, turn: _Turn) -> None:
        if not turn.ready.done():  # cancelled while waiting
            turn.ready.cancel()
        following = []
        for key in turn.keys:
            queue = self._queues[key]
            queue.remove(turn)  # first in the queue unless cancelled while waiting
            if queue:
                following.append(queue[0])
            else:
                del self._queues[key]
        for candidate in following:
            self._wake(candidate)

    def _wake(self, turn: _Turn) -> None:
        if turn.ready.done():
            return
        if all(self._queues[key][0] is turn for key in turn.keys):
            turn.ready.set_result(None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: updates in flight finish (or are cancelled) with the Application."""
        if self._queues:
            log.warning("stopping with updates of %s chats or people in flight", len(self._queues))
