"""A stand-in Telegram Bot API server for tests and benchmarks (aiohttp, on loopback).

It answers ``{base}/bot{token}/{method}`` as Telegram does, records every message it accepted,
and enforces Telegram's limits when ``enforce_limits`` is set: more than ``rate`` requests
accepted within one second, or a second request to one chat within ``chat_interval``, gets
``429 Too Many Requests`` with ``parameters.retry_after`` (what python-telegram-bot turns into
``RetryAfter``). Chats in ``blocked`` answer 403 "bot was blocked by the user", chats in
``missing`` 400 "chat not found", chats in ``broken`` 400 "can't parse entities";
``server_errors`` answers that many requests with 500 first. ``latency`` delays every answer.

Run alone (``python tests/botapi_server.py PORT``) it serves until interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

HOST = "127.0.0.1"
COUNTED = ("sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption")


@dataclass(frozen=True)
class Accepted:
    """A request the server accepted (a message sent or edited)."""

    method: str
    chat_id: int
    text: str
    parse_mode: str | None
    message_id: int
    at: float  # time.monotonic() when accepted
    photo: str | None = None
    document: str | None = None
    reply_markup: Any = None


@dataclass
class BotApiServer:
    token: str
    enforce_limits: bool = True
    rate: int = 30
    chat_interval: float = 1.0
    retry_after: int = 1
    latency: float = 0.0
    blocked: set[int] = field(default_factory=set)
    missing: set[int] = field(default_factory=set)
    broken: set[int] = field(default_factory=set)
    server_errors: int = 0
    port: int = 0
    webhook_url: str = ""  # set by setWebhook, cleared by deleteWebhook
    webhook_error: str | None = None  # what getWebhookInfo reports as the last error

    accepted: list[Accepted] = field(default_factory=list)
    too_many: int = 0  # 429s answered
    refused: int = 0  # 400/403 answered
    requests: int = 0
    calls: list[str] = field(default_factory=list)
    last_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    _window: deque[float] = field(default_factory=deque)
    _last_by_chat: dict[int, float] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event | None = None

    # --- serving -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> BotApiServer:
        self._changed = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/_stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, seconds: float = 60.0) -> None:
        """Until ``count`` messages were accepted."""
        assert self._changed is not None
        async with asyncio.timeout(seconds):
            while len(self.sent()) < count:
                self._changed.clear()
                await self._changed.wait()

    # --- what tests look at ----------------------------------------------------------------

    def sent(self) -> list[Accepted]:
        return [a for a in self.accepted if a.method.startswith("send")]

    def edits(self) -> list[Accepted]:
        return [a for a in self.accepted if a.method.startswith("edit")]

    def sent_to(self, chat_id: int) -> list[Accepted]:
        return [a for a in self.sent() if a.chat_id == chat_id]

    def max_in_one_second(self) -> int:
        """The most messages accepted within any one second."""
        times = sorted(a.at for a in self.accepted if a.method in COUNTED)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def stats(self) -> dict[str, Any]:
        """What a benchmark prints: counts, the span of the sends, the busiest second."""
        sent = self.sent()
        per_chat: dict[int, int] = {}
        for a in sent:
            per_chat[a.chat_id] = per_chat.get(a.chat_id, 0) + 1
        return {
            "sent": len(sent),
            "edits": len(self.edits()),
            "chats": len(per_chat),
            "chats_twice": sum(1 for n in per_chat.values() if n > 1),
            "too_many": self.too_many,
            "first": min((a.at for a in sent), default=None),
            "last": max((a.at for a in sent), default=None),
            "max_in_one_second": self.max_in_one_second(),
            "times": [a.at for a in sent],
        }

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    # --- the Bot API ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.server_errors > 0 and method in COUNTED:
            self.server_errors -= 1
            return _error(500, "Internal Server Error")
        self.last_params[method] = params
        if method == "getUpdates":  # long polling: nothing new, after a short wait
            await asyncio.sleep(min(float(params.get("timeout") or 0), 0.5))
            return _ok([])
        if method == "getMe":
            return _ok(
                {"id": 999_000, "is_bot": True, "first_name": "Samvirke", "username": "sv_bot"}
            )
        if method == "setWebhook":
            self.webhook_url = str(params.get("url") or "")
        if method == "deleteWebhook":
            self.webhook_url = ""
        if method == "getWebhookInfo":
            info: dict[str, Any] = {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": 0,
            }
            if self.webhook_error is not None:
                info |= {
                    "last_error_date": int(time.time()),
                    "last_error_message": self.webhook_error,
                }
            return _ok(info)
        if method not in COUNTED:
            return _ok(True)
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            self.refused += 1
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.missing:
            self.refused += 1
            return _error(400, "Bad Request: chat not found")
        if chat_id in self.broken:
            self.refused += 1
            return _error(400, "Bad Request: can't parse entities: unexpected end tag")
        now = time.monotonic()
        if self.enforce_limits:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            last = self._last_by_chat.get(chat_id)
            if len(self._window) >= self.rate or (
                last is not None and now - last < self.chat_interval
            ):
                self.too_many += 1
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {self.retry_after}",
                        "parameters": {"retry_after": self.retry_after},
                    },
                    status=429,
                )
        self._window.append(now)
        self._last_by_chat[chat_id] = now
        message_id = int(params.get("message_id") or next(self._ids))
        text = str(params.get("text") or params.get("caption") or "")
        self.accepted.append(
            Accepted(
                method,
                chat_id,
                text,
                params.get("parse_mode"),
                message_id,
                now,
                photo=params.get("photo"),
                document=params.get("document"),
                reply_markup=params.get("reply_markup"),
            )
        )
        assert self._changed is not None
        self._changed.set()
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
        }
        if method in ("sendMessage", "editMessageText"):
            result["text"] = text
        else:
            result["caption"] = text
        return _ok(result)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        return {k: v for k, v in data.items()} if isinstance(data, dict) else {}
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str):
            params[key] = value
    for key in ("reply_markup", "allowed_updates", "commands"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


async def _serve(port: int, token: str, latency: float) -> None:
    server = await BotApiServer(token=token, port=port, latency=latency).start()
    print(f"stand-in Bot API on {server.url}/bot{token}/ (statistics: /_stats)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    # python tests/botapi_server.py [PORT [TOKEN [LATENCY_SECONDS]]]
    arguments = sys.argv[1:]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _serve(
                int(arguments[0]) if arguments else 8081,
                arguments[1] if len(arguments) > 1 else "123:TEST",
                float(arguments[2]) if len(arguments) > 2 else 0.0,
            )
        )
