"""The scheduler's memory: when each periodic job last ran, and who runs it now."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class SchedulerRun(Base):
    """One row per periodic job.

    ``last_fire_at`` is the scheduled time of the last run that finished: on start, a job whose
    trigger fired after it (while the system was down) runs once to make up. ``running_fire_at``
    and ``locked_until`` are the lease of the worker running it now, so that several workers run
    each scheduled time once; a worker that dies mid-run leaves a lease that runs out.
    """

    __tablename__ = "scheduler_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_fire_at: Mapped[dt.datetime | None]
    running_fire_at: Mapped[dt.datetime | None]
    locked_until: Mapped[dt.datetime | None]
    last_started_at: Mapped[dt.datetime | None]
    last_finished_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0)
