"""The timebank's periodic job: pending exchanges nobody confirmed in time expire.

``expire_pending_exchanges`` can run at any moment, as often as wanted, in several workers at
once: each exchange expires once (row locks, status check), and both sides' notices are outbox
rows with unique keys (``tb:expired:{exchange}:{member}``).
"""

from __future__ import annotations

import datetime as dt
import logging

from samvirke.settings import Settings
from storage.timebank import expiry as timebank_expiry
from storage.timebank.ledger import Policy
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")

BATCH_SIZE = 100


async def expire_pending_exchanges(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Expire every exchange pending longer than ``SAMVIRKE_TIMEBANK_EXPIRY_DAYS``; how many."""
    policy = Policy.from_settings(settings)
    total = 0
    while True:
        expired = await timebank_expiry.expire_due(
            db.unit_of_work(), policy=policy, now=now, limit=BATCH_SIZE
        )
        total += expired
        if expired < BATCH_SIZE:
            break
    if total:
        log.info("expired %d pending timebank exchanges", total)
    return total
