"""The public event page in a real browser (headless Chromium, driven over the DevTools
protocol): at phone width (375 px) and on a laptop (1280 px) nothing scrolls sideways and
nothing is cut, with or without JavaScript.

Needs the Debian package ``chromium``; skipped (with the reason) where it is not installed.
Set ``SAMVIRKE_SCREENSHOTS=<folder>`` to keep the screenshots for a look.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from samvirke import pages
from samvirke.settings import Settings
from storage.events import programme
from storage.uow import Database
from tests.support.events_kit import ADMIN, NOW, add_member, going, publish

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((found for name in BROWSERS if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium here: apt-get install chromium (Debian package)"
)

LONG_WORD = "Samfundsinnovationsnetværkskoordineringsarbejdsgruppemøde" * 2
DESCRIPTION = (
    "Program:\n13:00 Velkomst\n13:15 Korte oplæg\n14:30 Workshop\n\n"
    f"Læs mere: https://example.org/{'meget-lang-sti/' * 12}program.pdf\n{LONG_WORD}"
)

# Run in the page: sideways scrolling, and elements that stick out of the viewport or are cut.
MEASURE = """(() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > width + 0.5) out.push(el.tagName + ' ' + el.className);
    const style = getComputedStyle(el);
    if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible'
        && el.tagName !== 'HTML' && el.tagName !== 'BODY') out.push('cut ' + el.tagName);
  }
  return JSON.stringify({
    scrollWidth: document.documentElement.scrollWidth, width: width, out: out,
    height: document.documentElement.scrollHeight,
    button: !!document.querySelector('a.button'),
  });
})()"""


class DevTools:
    """A minimal DevTools protocol client: one page, commands answered in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        command_id = next(self.ids)
        await self.ws.send_json({"id": command_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=30)
            if message.get("id") == command_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def wait_for(self, event: str) -> None:
        while True:
            message = await self.ws.receive_json(timeout=30)
            if message.get("method") == event:
                return


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[DevTools]:
    assert BROWSER is not None
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
            [
                BROWSER,
                "--headless=new",
                "--no-sandbox",  # as root in CI
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            for _ in range(300):
                if port_file.exists() and port_file.read_text().strip():
                    break
                await asyncio.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
                page = next(t for t in targets if t["type"] == "page")
                async with session.ws_connect(
                    page["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024
                ) as ws:
                    yield DevTools(ws)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def look(
    browser: DevTools, url: str, width: int, *, javascript: bool, shot: Path | None
) -> dict[str, Any]:
    await browser.send(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=800,
        deviceScaleFactor=1,
        mobile=width < 600,
    )
    await browser.send("Emulation.setScriptExecutionDisabled", value=not javascript)
    await browser.send("Page.enable")
    await browser.send("Page.navigate", url=url)
    await browser.wait_for("Page.loadEventFired")
    measured = await browser.send("Runtime.evaluate", expression=MEASURE, returnByValue=True)
    found: dict[str, Any] = json.loads(measured["result"]["value"])
    if shot is not None:
        image = await browser.send(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True
        )
        await asyncio.to_thread(shot.write_bytes, base64.b64decode(image["data"]))
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_event_page_fits_a_phone_and_a_laptop(db: Database, tmp_path: Path) -> None:
    event = await publish(
        db,
        title=f"Innovation på det sociale område – {LONG_WORD}",
        description=DESCRIPTION,
        online_url="https://meet.example.org/" + "x" * 120,
        capacity=36,
    )
    await going(db, await add_member(db, 100), event.id)
    items = programme.parse(
        "13:00 Velkomst – Karen Jensen, Sociale Entreprenører i Danmark\n"
        f"13:20 {LONG_WORD} – Søren Ærø, Teknologisk Institut\n"
        "15:00 Workshop\n"
    )
    await programme.replace(db.unit_of_work(), ADMIN, event.id, items, now=NOW)
    app = web.Application()
    settings = Settings(_env_file=None, secret_key="browser-test-key-0123456789")
    pages.add_routes(
        app, db, settings=settings, username=lambda: "samvirke_test_bot", clock=lambda: NOW
    )
    keep = os.environ.get("SAMVIRKE_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    async with TestServer(app, host="127.0.0.1") as server, chromium() as browser:
        for path, name in ((f"/events/{event.id}?lang=da", "event"), ("/events?lang=sv", "list")):
            for width in (375, 1280):
                for javascript in (False, True):
                    found = await look(
                        browser,
                        str(server.make_url(path)),
                        width,
                        javascript=javascript,
                        shot=folder / f"{name}-{width}.png" if javascript else None,
                    )
                    where = f"{path} at {width} px (JavaScript {javascript})"
                    assert found["scrollWidth"] <= found["width"], where
                    assert found["out"] == [], where
                    if name == "event":
                        assert found["button"], where
