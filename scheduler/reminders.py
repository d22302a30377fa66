"""Telegram reminders to members going to an event (by default a day and two hours before).

``queue_due_reminders`` may run at any moment, as often as wanted, and on start: each reminder
is an outbox row whose key names the event, the member, the offset and the start time, so
nothing is queued twice; a reminder that fell due while the bot was down is queued on the next
run as long as the event has not begun (only the latest one due, not a burst). Cancelled events
get none, and reminders still queued when an event is cancelled or moved are withdrawn by the
change itself (see storage.events.publishing).
"""

from __future__ import annotations

import datetime as dt
import logging

from samvirke.settings import Settings
from storage.events import views as events
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")


async def queue_due_reminders(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Queue the reminders due at ``now``; returns how many were queued."""
    queued = await events.queue_reminders(
        db.unit_of_work(),
        offsets=settings.reminder_offsets,
        now=now,
        public_url=str(settings.public_url) if settings.public_url else None,
    )
    if queued:
        log.info("event reminders queued: %d", queued)
    return queued
