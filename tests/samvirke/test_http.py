"""The HTTP server's routes with hostile input: unsubscribe tokens that do not verify, malformed
webhook bodies, and the webhook route that exists only in webhook mode."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from samvirke.http import WEBHOOK_PATH, build_http_app
from samvirke.settings import Settings
from storage import regions
from storage.digests import unsubscribe
from storage.members import privacy
from storage.members import profiles as members
from storage.uow import Database
from tests.support.botkit import BotHarness, Clock, start_bot, stop_bot

SECRET = "webhook-secret-for-tests"


@pytest.fixture
async def harness(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    bot = await start_bot(db, Clock(now), secret_key="unsubscribe-key")
    try:
        yield bot
    finally:
        await stop_bot(bot)


async def a_member(db: Database, now: dt.datetime) -> int:
    region = (await regions.list_active(db.unit_of_work()))[0]
    registration = await members.register(
        db.unit_of_work(),
        telegram_user_id=4242,
        telegram_username=None,
        name="Karen Ærø",
        email="karen@example.dk",
        organisation=None,
        sector="foundation",
        region_id=region.id,
        language="da",
        now=now,
    )
    return registration.member.id


def settings_of(harness: BotHarness) -> Settings:
    settings: Settings = harness.services.settings
    return settings


@pytest.mark.parametrize(
    "path",
    [
        "/unsubscribe/%C2%B2.abc",
        "/unsubscribe/5.%C3%A9%C3%A9",
        "/unsubscribe/%FF%FE.x",
        "/unsubscribe/5.",
        "/unsubscribe/99999999999999999999.abc",
        "/unsubscribe/.",
    ],
)
async def test_an_unsubscribe_token_that_does_not_verify_is_404(
    db: Database, harness: BotHarness, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.INFO)
    app = build_http_app(db, None, secret=None, settings=settings_of(harness))
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as client:
        for method in ("GET", "POST"):
            async with client.request(method, http.make_url(path)) as response:
                assert response.status == 404
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_erased_members_token_fails(
    db: Database, harness: BotHarness, now: dt.datetime
) -> None:
    """Tokens never expire (RFC 8058 links in old mails keep working), but an erased member's
    does not: there is nobody to unsubscribe any more."""
    settings = settings_of(harness)
    member_id = await a_member(db, now)
    token = unsubscribe.make_token(settings.signing_key(), member_id)
    app = build_http_app(db, None, secret=None, settings=settings)
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as client:
        async with client.get(http.make_url(f"/unsubscribe/{token}")) as response:
            assert response.status == 200
        await privacy.erase(db.unit_of_work(), member_id, now=now)
        for method in ("GET", "POST"):
            async with client.request(method, http.make_url(f"/unsubscribe/{token}")) as response:
                assert response.status == 404


NESTED = b"[" * 100_000 + b"]" * 100_000
MALFORMED = [
    pytest.param(b"[1, 2]", id="list"),
    pytest.param(b"null", id="null"),
    pytest.param(b'"an update"', id="string"),
    pytest.param(b'{"update_id": 7, "message": {"x": 1}}', id="message-without-fields"),
    pytest.param(b'{"update_id": "7"}', id="update-id-not-a-number"),
    pytest.param(NESTED, id="nested-lists"),
    pytest.param(b"\xff\xfe{", id="not-utf8"),
    pytest.param(b"{", id="truncated"),
]


@pytest.mark.parametrize("body", MALFORMED)
async def test_malformed_webhook_bodies_are_400_and_one_line(
    db: Database, harness: BotHarness, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.INFO)
    app = build_http_app(db, harness.app, secret=SECRET, settings=settings_of(harness))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with (
        TestServer(app, host="127.0.0.1") as http,
        aiohttp.ClientSession() as client,
        client.post(http.make_url(WEBHOOK_PATH), data=body, headers=headers) as answer,
    ):
        assert answer.status == 400
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].exc_info is None
    assert "webhook body" in logged[0].getMessage()
    assert harness.app.update_queue.empty()


async def test_webhook_takes_a_real_update_with_the_secret_only(
    db: Database, harness: BotHarness
) -> None:
    app = build_http_app(db, harness.app, secret=SECRET, settings=settings_of(harness))
    update = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 4242, "type": "private"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Karen"},
            "text": "/help",
        },
    }
    body = json.dumps(update).encode()
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as client:
        for wrong in ("", "nope", "ø" * 48):
            headers = {"X-Telegram-Bot-Api-Secret-Token": wrong}
            async with client.post(http.make_url(WEBHOOK_PATH), data=body, headers=headers) as a:
                assert a.status == 403
        assert harness.app.update_queue.empty()
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with client.post(http.make_url(WEBHOOK_PATH), data=body, headers=headers) as a:
            assert a.status == 200
    queued = harness.app.update_queue.get_nowait()
    assert queued.update_id == 7


async def test_no_webhook_route_in_polling_mode(
    db: Database, harness: BotHarness, tmp_path: Path
) -> None:
    """Long polling: the route does not exist, whatever secret is sent."""
    app = build_http_app(db, harness.app, secret=None, settings=settings_of(harness))
    body = b'{"update_id": 8, "message": {"message_id": 1}}'
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        TestServer(app, host="127.0.0.1") as http,
        aiohttp.ClientSession() as client,
        client.post(http.make_url(WEBHOOK_PATH), data=body, headers=headers) as a,
    ):
        assert a.status == 404
    assert harness.app.update_queue.empty()
