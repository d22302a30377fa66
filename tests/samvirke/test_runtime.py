"""``samvirke run`` as a real process against the stand-in Bot API: SAMVIRKE_TELEGRAM_MODE decides
between long polling and the webhook (the webhook route exists only in webhook mode), the HTTP
server listens on loopback, and SIGTERM stops everything within 10 seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from samvirke.http import webhook_secret
from tests.support.botapi_server import BotApiServer
from tests.support.mailserver import free_port

TOKEN = "999000:RUNTIME-TOKEN"
SAMVIRKE = str(Path(sys.executable).with_name("samvirke"))


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    server = await BotApiServer(token=TOKEN).start()
    try:
        yield server
    finally:
        await server.stop()


async def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Poll (the stand-in has no event to wait on)."""
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("mode", "webhook"), [("polling", False), ("auto", True), ("webhook", True)]
)
async def test_telegram_mode_and_clean_stop(
    tmp_path: Path, api: BotApiServer, mode: str, webhook: bool
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env |= {
        "SAMVIRKE_TELEGRAM_TOKEN": TOKEN,
        "SAMVIRKE_TELEGRAM_API_URL": api.url,
        "SAMVIRKE_PUBLIC_URL": "https://bot.example.org",
        "SAMVIRKE_TELEGRAM_MODE": mode,
        "SAMVIRKE_HTTP_PORT": str(port),
        "SAMVIRKE_SECRET_KEY": "k",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            SAMVIRKE, "run", cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        expected = "setWebhook" if webhook else "getUpdates"
        await until(lambda: expected in api.calls, 90)
        if webhook:
            assert api.webhook_url == "https://bot.example.org/telegram/webhook"
        else:
            assert "setWebhook" not in api.calls
            assert "deleteWebhook" in api.calls
        url = f"http://127.0.0.1:{port}"
        headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(TOKEN)}
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{url}/healthz") as response:
                assert response.status == 200
            async with client.post(
                f"{url}/telegram/webhook", data=b'{"update_id": 1}', headers=headers
            ) as response:
                assert response.status == (200 if webhook else 404)
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        async with asyncio.timeout(15):
            code = await process.wait()
        took = time.monotonic() - began
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = log.read_text()
    assert code == 0, text[-2000:]
    assert took < 10, f"stopping took {took:.1f} s"
    assert "HTTP on 127.0.0.1:" in text
    assert "Traceback" not in text
    assert TOKEN not in text
