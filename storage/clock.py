"""The one clock: the current time, aware and in UTC. Services take ``now`` as a parameter;
the bot, the scheduler and the HTTP server read it here (tests pass their own ``Clock``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
