"""``/metrics`` (Prometheus text format) and ``/readyz``.

Every figure is a number with bounded labels (channel, status, job, handler kind): never an id,
a name or a text. What the database knows (outbox rows, members, events, job runs) is read at
each scrape, so it covers every worker process; what only this process knows (deliveries since
start, Telegram 429s, update-handling latency) comes from its own counters.

``/metrics`` answers loopback clients, and others only with ``Authorization: Bearer
<SAMVIRKE_METRICS_TOKEN>``: never public by accident, even behind a proxy that forwards it
(the proxy connects from loopback, so Caddy's configuration in ``deploy/`` does not route it).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update
from telegram.ext import Application, TypeHandler

from storage import health
from storage.uow import Database

log = logging.getLogger("samvirke.http")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOOPBACK = {"127.0.0.1", "::1"}

# Handler-kind labels: a command we know, a callback prefix we know, else "other" (forged
# input must not create labels without end).
_MAX_KINDS = 60


@dataclass
class Live:
    """What this process counts: the deliveries' totals since start, the Telegram limiter."""

    mail: Any = None  # scheduler.mail.delivery.DeliveryReport
    telegram: Any = None  # scheduler.telegram.delivery.TelegramReport
    limiter: Any = None  # scheduler.telegram.delivery.RateLimiter
    update_kinds: set[str] = field(default_factory=set)


class DatabaseFigures(Collector):
    """Samples filled from the last snapshot (taken in the request just before collecting)."""

    def __init__(self, live: Live) -> None:
        self.snapshot: health.Snapshot | None = None
        self.migrations_pending = 0
        self.live = live

    def collect(self) -> Iterable[Metric]:
        yield from self._database()
        yield from self._process()

    def _database(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "samvirke_migrations_pending",
            "Database migrations not yet applied",
            value=self.migrations_pending,
        )
        snap = self.snapshot
        if snap is None:
            return
        rows = GaugeMetricFamily(
            "samvirke_outbox_rows",
            "Outbox rows by channel and status",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(snap.outbox.items()):
            rows.add_metric([channel, status], count)
        yield rows
        oldest = GaugeMetricFamily(
            "samvirke_outbox_oldest_waiting_seconds",
            "How long the oldest row due to be sent has waited, by channel",
            labels=["channel"],
        )
        for channel in sorted({c for c, _s in snap.outbox} | set(snap.oldest_waiting_seconds)):
            oldest.add_metric([channel], snap.oldest_waiting_seconds.get(channel, 0.0))
        yield oldest
        yield GaugeMetricFamily(
            "samvirke_members", "Verified members (not erased)", value=snap.members
        )
        events = GaugeMetricFamily("samvirke_events", "Events by status", labels=["status"])
        for status, count in sorted(snap.events.items()):
            events.add_metric([status], count)
        yield events
        jobs = GaugeMetricFamily(
            "samvirke_job_last_success_timestamp_seconds",
            "When each scheduled job last finished without error (Unix time)",
            labels=["job"],
        )
        for name, finished in sorted(snap.job_success.items()):
            jobs.add_metric([name], finished.timestamp())
        yield jobs

    def _process(self) -> Iterator[Metric]:
        for suffix, what in (
            ("sent", "sent"),
            ("failed", "failed for good"),
            ("retried", "retried"),
        ):
            family = CounterMetricFamily(
                f"samvirke_outbox_{suffix}",
                f"Outbox messages {what} by this process since start, by channel",
                labels=["channel"],
            )
            for channel, totals in (("email", self.live.mail), ("telegram", self.live.telegram)):
                if totals is not None:
                    family.add_metric([channel], getattr(totals, suffix))
            yield family
        if self.live.limiter is not None:
            yield CounterMetricFamily(
                "samvirke_telegram_throttled",
                "Telegram 429 (Too Many Requests) answers seen by this process",
                value=self.live.limiter.throttled,
            )


class Metrics:
    """The registry of one process (not the global one: tests and processes stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.live = Live()
        self.figures = DatabaseFigures(self.live)
        self.registry.register(self.figures)
        self.update_seconds = Histogram(
            "samvirke_update_handling_seconds",
            "Time to handle one Telegram update, by handler kind",
            labelnames=["handler"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self._started: dict[int, float] = {}

    def attach_scheduler(self, scheduler: Any) -> None:
        """Read the deliveries' totals of ``scheduler.runner.Scheduler``."""
        if scheduler.mail is not None:
            self.live.mail = scheduler.mail.totals
        if scheduler.telegram is not None:
            self.live.telegram = scheduler.telegram.totals
            self.live.limiter = scheduler.telegram.limiter

    # --- update-handling latency: two TypeHandlers, first and last ------------------------

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Time every update from the first handler group to the last."""

        async def started(update: object, _context: object) -> None:
            if len(self._started) > 10_000:  # updates stopped by ApplicationHandlerStop
                self._started.clear()
            self._started[id(update)] = time.perf_counter()

        async def finished(update: object, _context: object) -> None:
            began = self._started.pop(id(update), None)
            if began is not None and isinstance(update, Update):
                kind = self.kind(update)
                self.update_seconds.labels(kind).observe(time.perf_counter() - began)

        application.add_handler(TypeHandler(Update, started), group=-(10**6))
        application.add_handler(TypeHandler(Update, finished), group=10**6)

    def kind(self, update: Update) -> str:
        """``command:/events``, ``callback:ev``, ``message``, ``inline``, ``other``."""
        if update.callback_query is not None:
            data = update.callback_query.data or ""
            prefix = data.split(":", 1)[0]
            label = f"callback:{prefix}" if prefix.isascii() and prefix.isalpha() else "callback"
        elif update.inline_query is not None:
            label = "inline"
        elif update.message is not None and update.message.text is not None:
            text = update.message.text
            if text.startswith("/"):
                command = text.split()[0].split("@")[0][:20]
                label = f"command:{command}" if command[1:].isascii() else "command"
            else:
                label = "message"
        elif update.my_chat_member is not None:
            label = "chat_member"
        else:
            label = "other"
        if label not in self.live.update_kinds:
            if len(self.live.update_kinds) >= _MAX_KINDS:
                return "other"
            self.live.update_kinds.add(label)
        return label

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _allowed(request: web.Request, token: str | None) -> bool:
    header = request.headers.get("Authorization", "")
    if token is not None and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].encode(errors="replace"), token.encode())
    forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    return request.remote in LOOPBACK and not forwarded


def add_routes(
    app: web.Application,
    db: Database,
    metrics: Metrics,
    *,
    token: str | None,
    ready_outbox: dt.timedelta,
    clock: Callable[[], dt.datetime],
) -> None:
    async def pending_migrations() -> int:
        from storage.migrate import pending

        return len(await pending(db.engine))

    async def serve_metrics(request: web.Request) -> web.Response:
        if not _allowed(request, token):
            raise web.HTTPForbidden(text="Forbidden.\n")
        waiting = await pending_migrations()
        metrics.figures.migrations_pending = waiting
        # With migrations pending the tables may not be there yet: only that figure then.
        snap = None if waiting else await health.snapshot(db.unit_of_work(), now=clock())
        metrics.figures.snapshot = snap
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def ready(_request: web.Request) -> web.Response:
        try:
            waiting = await pending_migrations()
            snap = None if waiting else await health.snapshot(db.unit_of_work(), now=clock())
        except Exception as error:
            log.warning("readyz: database not reachable (%s)", type(error).__name__)
            return web.json_response({"status": "database unavailable"}, status=503)
        problems = []
        if waiting:
            problems.append(f"{waiting} migration(s) pending")
        limit = ready_outbox.total_seconds()
        for channel, seconds in sorted(snap.oldest_waiting_seconds.items() if snap else []):
            if seconds > limit:
                problems.append(f"{channel} outbox not delivered for {int(seconds // 60)} min")
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready"})

    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/readyz", ready)
