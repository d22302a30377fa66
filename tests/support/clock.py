"""A clock tests can set and move, passed wherever the code takes a ``now`` callable."""

from __future__ import annotations

import datetime as dt


class Clock:
    """A clock tests can move: ``clock.advance(minutes=5)`` or ``clock.advance(MINUTE)``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta | None = None, /, **kwargs: float) -> None:
        self.now += (delta or dt.timedelta()) + dt.timedelta(**kwargs)
