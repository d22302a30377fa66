"""The scheduled follow-up after meetings (``SAMVIRKE_FOLLOWUP_DELAY`` after their end; empty:
only when an organiser sends it). Idempotent: it may run at any moment, on several workers."""

from __future__ import annotations

import datetime as dt
import logging

from samvirke.settings import Settings
from storage.events import followup
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")


async def queue_due_followups(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Queue the follow-ups due at ``now``; returns how many messages were queued."""
    queued = await followup.queue_due(db.unit_of_work(), delay=settings.followup_delay, now=now)
    if queued:
        log.info("event follow-ups queued: %d", queued)
    return queued
