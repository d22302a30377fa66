"""The rate limiter on its own, with a fake monotonic clock (end to end, against a stand-in
Bot API server that enforces Telegram's limits, in test_delivery.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from telegram.error import RetryAfter

from scheduler.telegram.ratelimit import RateLimiter, retry_after_seconds

# python-telegram-bot 22 warns, when it builds a RetryAfter (a 429), that ``retry_after`` will
# become a timedelta; the limiter reads either.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_slot_is_held_until_one_second_after_the_answer() -> None:
    ticks = Ticks()
    limiter = RateLimiter(rate=2, monotonic=ticks)
    assert limiter.ready(ticks.now)
    limiter.start(1)
    limiter.start(2)
    assert not limiter.ready(ticks.now)  # two under way
    ticks.now += 0.3
    limiter.finish(1)
    assert not limiter.ready(ticks.now)  # answered, but less than a second ago
    ticks.now += 0.99
    assert not limiter.ready(ticks.now)
    ticks.now += 0.02
    assert limiter.ready(ticks.now)
    assert limiter.next_change(ticks.now) == pytest.approx(1.0)  # nothing pending: a window


def test_a_chat_waits_one_second_after_its_last_answer() -> None:
    ticks = Ticks()
    limiter = RateLimiter(rate=30, monotonic=ticks)
    limiter.start(7)
    assert not limiter.chat_ready(7, ticks.now)  # under way
    assert limiter.chat_ready(8, ticks.now)
    ticks.now += 0.5
    limiter.finish(7)
    ticks.now += 0.9
    assert not limiter.chat_ready(7, ticks.now)
    assert limiter.next_change(ticks.now, [7]) == pytest.approx(0.1)
    ticks.now += 0.1
    assert limiter.chat_ready(7, ticks.now)


def test_a_429_pauses_everything() -> None:
    ticks = Ticks()
    limiter = RateLimiter(rate=30, monotonic=ticks)
    limiter.pause(3)
    assert not limiter.ready(ticks.now + 2.9)
    assert limiter.ready(ticks.now + 3.0)
    assert limiter.throttled == 1


def test_retry_after_is_read_without_deprecation_warnings() -> None:
    assert retry_after_seconds(RetryAfter(7)) == 7.0
    assert retry_after_seconds(RetryAfter(dt.timedelta(seconds=2))) == 2.0
