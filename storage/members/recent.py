"""The member behind an update, remembered for a few seconds.

Every update starts by loading the member behind it (``bot.context.load_viewer``): their
language, role and region decide everything after. That lookup was most of what an update cost
before its handler ran, and the same members send many updates close together: someone tapping
through a conversation, or pressing Going on the cards of a broadcast. So the process keeps the
views it loaded last, for ``TTL_SECONDS`` at most.

When a remembered view would be wrong:

- This process wrote to a table a view is built from (``members``, ``email_verifications``,
  ``regions``), by the ORM, a bulk statement or raw SQL: every remembered view is forgotten when
  the statement is sent, and again when its connection goes back to the pool (after the commit),
  so a lookup that ran while the write was in flight is not kept either. The engine's own events
  see every statement, so no service has to remember to invalidate anything.
- Another process (``samvirke worker``, a CLI command such as granting a role) wrote: this
  process sees the change after ``TTL_SECONDS`` at most.

Memory is bounded: at most ``SIZE`` views (least recently used dropped first).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.members.profiles import MemberView, find_by_telegram
from storage.uow import UnitOfWork

TTL_SECONDS = 10.0
SIZE = 4096

_WRITE = re.compile(r"\s*(?:WITH|INSERT|UPDATE|DELETE|REPLACE|UPSERT|TRUNCATE|ALTER|DROP)\b", re.I)
_VIEW_TABLES = re.compile(r"\b(?:members|email_verifications|regions)\b", re.I)


def writes_member_views(statement: str) -> bool:
    """Whether a SQL statement may change what a member's view is built from (a false "yes"
    only costs a lookup)."""
    return _WRITE.match(statement) is not None and _VIEW_TABLES.search(statement) is not None


class RecentMembers:
    """Views of the members behind recent updates, keyed by Telegram user id."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float = TTL_SECONDS,
        size: int = SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        # telegram user id -> (expires at, the view; None for someone who is not a member)
        self._views: OrderedDict[int, tuple[float, MemberView | None]] = OrderedDict()
        self._generation = 0
        # Marks a pooled connection that wrote (its info dict lives as long as the connection).
        self._wrote = ("samvirke.members_written", id(self))
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "checkin", self._released)

    async def find_by_telegram(self, uow: UnitOfWork, telegram_user_id: int) -> MemberView | None:
        """``profiles.find_by_telegram``, from memory when this process loaded it recently."""
        now = self._clock()
        remembered = self._views.get(telegram_user_id)
        if remembered is not None and remembered[0] > now:
            self._views.move_to_end(telegram_user_id)
            return remembered[1]
        generation = self._generation
        member = await find_by_telegram(uow, telegram_user_id)
        if generation == self._generation:  # nothing was written while it loaded
            self._views[telegram_user_id] = (now + self._ttl, member)
            self._views.move_to_end(telegram_user_id)
            if len(self._views) > self._size:
                self._views.popitem(last=False)
        return member

    def forget_all(self) -> None:
        self._generation += 1
        self._views.clear()

    def _statement(
        self, connection: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
    ) -> None:
        if writes_member_views(statement):
            connection.info[self._wrote] = True
            self.forget_all()

    def _released(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(self._wrote, False):
            self.forget_all()
