"""The directory's periodic job: requests for an introduction nobody answered in time expire.

It can run at any moment and in several workers at once: each request expires once (row
locks, status check) and the asker's note is an outbox row with a unique key
(``pp:expired:{introduction}:{member}``).
"""

from __future__ import annotations

import datetime as dt
import logging

from samvirke.settings import Settings
from storage.people import introductions
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")

BATCH_SIZE = 100


async def expire_introductions(db: Database, _settings: Settings, now: dt.datetime) -> int:
    total = 0
    while True:
        expired = await introductions.expire_due(db.unit_of_work(), now=now, limit=BATCH_SIZE)
        total += expired
        if expired < BATCH_SIZE:
            break
    if total:
        log.info("expired %d requests for an introduction", total)
    return total
