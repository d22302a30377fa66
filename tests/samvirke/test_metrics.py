"""``/metrics`` and ``/readyz`` as Prometheus and a load balancer see them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from samvirke.http import build_http_app
from samvirke.metrics import Metrics
from samvirke.settings import Settings
from scheduler.mail.delivery import DeliveryOptions, MailDelivery
from storage import outbox
from storage.migrate import upgrade_engine
from storage.uow import Database
from tests.support.botkit import Clock, start_bot, stop_bot

TOKEN = "metrics-token-for-tests"


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "secret_key": "k",
        "mail_dir": tmp_path / "mail",
        "metrics_token": TOKEN,
        "ready_outbox_minutes": 30,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def queue_mail(db: Database, key: str, when: dt.datetime) -> None:
    async with db.unit_of_work() as uow:
        await outbox.enqueue(
            uow.session,
            key=key,
            channel=outbox.EMAIL,
            payload={"template": "nothing"},
            now=when,
        )
        await uow.commit()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_metrics_figures(
    db: Database, now: dt.datetime, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    settings = settings_for(tmp_path)
    await queue_mail(db, "a", now - dt.timedelta(minutes=5))
    await queue_mail(db, "b", now)
    metrics = Metrics()
    app = build_http_app(
        db, None, secret=None, settings=settings, clock=lambda: now, metrics=metrics
    )
    async with (
        TestServer(app, host="127.0.0.1") as http,
        client.get(http.make_url("/metrics")) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        figures = samples(await response.text())
    assert figures[("samvirke_outbox_rows", (("channel", "email"), ("status", "queued")))] == 2
    assert figures[("samvirke_outbox_oldest_waiting_seconds", (("channel", "email"),))] == 300
    assert figures[("samvirke_members", ())] == 0
    assert figures[("samvirke_migrations_pending", ())] == 0


async def test_metrics_counts_this_process_deliveries(
    db: Database, now: dt.datetime, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    """Mail that cannot be built fails for good: counted as failed for the email channel."""
    settings = settings_for(tmp_path)
    await queue_mail(db, "broken", now)
    delivery = MailDelivery(db, settings, options=DeliveryOptions(), clock=lambda: now)
    await delivery.run_once()
    metrics = Metrics()
    metrics.live.mail = delivery.totals
    app = build_http_app(
        db, None, secret=None, settings=settings, clock=lambda: now, metrics=metrics
    )
    async with (
        TestServer(app, host="127.0.0.1") as http,
        client.get(http.make_url("/metrics")) as response,
    ):
        figures = samples(await response.text())
    sent = figures[("samvirke_outbox_sent_total", (("channel", "email"),))]
    failed = figures[("samvirke_outbox_failed_total", (("channel", "email"),))]
    retried = figures[("samvirke_outbox_retried_total", (("channel", "email"),))]
    assert (sent, failed + retried) == (0, 1)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-Forwarded-For": "203.0.113.9"}, 403),  # a proxy passing on an outside request
        ({"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer wrong"}, 403),
        ({"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {TOKEN}"}, 200),
        ({"Authorization": "Bearer ø"}, 403),
        ({}, 200),  # loopback, no proxy: a local Prometheus
    ],
)
async def test_metrics_is_never_public_by_accident(
    db: Database,
    now: dt.datetime,
    tmp_path: Path,
    client: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
) -> None:
    app = build_http_app(db, None, secret=None, settings=settings_for(tmp_path), clock=lambda: now)
    async with (
        TestServer(app, host="127.0.0.1") as http,
        client.get(http.make_url("/metrics"), headers=headers) as response,
    ):
        assert response.status == status


async def test_readyz_fails_when_the_outbox_is_stuck(
    db: Database, now: dt.datetime, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    clock = Clock(now)
    app = build_http_app(db, None, secret=None, settings=settings_for(tmp_path), clock=clock)
    async with TestServer(app, host="127.0.0.1") as http:
        async with client.get(http.make_url("/readyz")) as response:
            assert response.status == 200
        await queue_mail(db, "stuck", now)
        clock.advance(minutes=29)
        async with client.get(http.make_url("/readyz")) as response:
            assert response.status == 200
        clock.advance(minutes=2)
        async with client.get(http.make_url("/readyz")) as response:
            assert response.status == 503
            assert (await response.json())["problems"] == ["email outbox not delivered for 31 min"]


async def test_readyz_fails_while_migrations_are_pending(
    tmp_path: Path, now: dt.datetime, client: aiohttp.ClientSession
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade_engine(database.engine, "0003")
        app = build_http_app(
            database, None, secret=None, settings=settings_for(tmp_path), clock=lambda: now
        )
        async with TestServer(app, host="127.0.0.1") as http:
            async with client.get(http.make_url("/readyz")) as response:
                assert response.status == 503
                problems = (await response.json())["problems"]
            assert problems[0].endswith("migration(s) pending")
            await upgrade_engine(database.engine)
            async with client.get(http.make_url("/readyz")) as response:
                assert response.status == 200
    finally:
        await database.dispose()


async def test_update_handling_latency_by_handler(db: Database, now: dt.datetime) -> None:
    harness = await start_bot(db, Clock(now))
    metrics = Metrics()
    metrics.install(harness.app)
    try:
        await harness.chat.send(4242, "/help")
        await harness.chat.send(4242, "/help")
        await harness.chat.send(4242, "/nonsense_" + "x" * 100)
        await harness.chat.send(4242, "hello")
    finally:
        await stop_bot(harness)
    figures = samples(metrics.render().decode())
    count = "samvirke_update_handling_seconds_count"
    assert figures[(count, (("handler", "command:/help"),))] == 2
    assert figures[(count, (("handler", "message"),))] == 1
    assert sum(v for (name, _labels), v in figures.items() if name == count) == 4
