"""The shared guard of the HTTP server: bad input is a 4xx with one warning line (never a 500
with a traceback), slow clients are cut off, the connection limit holds, malformed heads are
one warning without their content."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from samvirke.http import start_http
from samvirke.httpguard import BadInput, GuardedSite, ServerLimits, make_middleware

LIMITS = ServerLimits(header_timeout=1.0, body_timeout=1.0, max_connections=5)


def demo_app() -> web.Application:
    app = web.Application(middlewares=[make_middleware(LIMITS)])

    async def fine(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(text=f"ok {len(body)}")

    async def bad_input(request: web.Request) -> web.Response:
        raise BadInput("thing is not a number")

    async def value_error(request: web.Request) -> web.Response:
        int(request.match_info["x"])  # "²".isdigit() is true, int("²") is not
        return web.Response(text="never")

    async def type_error(request: web.Request) -> web.Response:
        raise TypeError("unsupported operand")

    async def deep(request: web.Request) -> web.Response:
        def down(n: int) -> int:
            return down(n + 1)

        return web.Response(text=str(down(0)))

    async def not_found(request: web.Request) -> web.Response:
        raise web.HTTPNotFound

    app.router.add_route("*", "/fine", fine)
    app.router.add_get("/bad", bad_input)
    app.router.add_get("/int/{x}", value_error)
    app.router.add_get("/type", type_error)
    app.router.add_get("/deep", deep)
    app.router.add_get("/missing", not_found)
    return app


@pytest.fixture
async def server() -> AsyncIterator[GuardedSite]:
    runner, site = await start_http(demo_app(), 0, limits=LIMITS)
    try:
        yield site
    finally:
        await runner.cleanup()


def url(site: GuardedSite, path: str) -> str:
    return f"http://127.0.0.1:{site.port}{path}"


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/bad", 400, "thing is not a number"),
        ("/int/%C2%B2", 400, "ValueError"),
        ("/type", 400, "TypeError"),
        ("/deep", 400, "RecursionError"),
    ],
)
async def test_bad_input_is_a_4xx_and_one_warning_line(
    server: GuardedSite, caplog: pytest.LogCaptureFixture, path: str, status: int, kind: str
) -> None:
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as client, client.get(url(server, path)) as response:
        assert response.status == status
        assert "Traceback" not in await response.text()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    [line] = warnings
    assert line.levelno == logging.WARNING
    assert line.exc_info is None
    assert kind in line.getMessage()
    assert "%C2%B2" not in line.getMessage()  # the route's pattern, not what was sent
    assert "²" not in line.getMessage()


async def test_http_errors_pass_through(server: GuardedSite) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(url(server, "/missing")) as response:
            assert response.status == 404
        async with client.get(url(server, "/nowhere")) as response:
            assert response.status == 404
        async with client.post(url(server, "/fine"), data=b"x" * 10) as response:
            assert await response.text() == "ok 10"


async def open_raw(site: GuardedSite) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", site.port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before closing; fails if it keeps the connection open longer."""
    async with asyncio.timeout(seconds):
        return await reader.read()


async def test_trickled_headers_are_cut_off_after_the_header_timeout(server: GuardedSite) -> None:
    """Slowloris: connections that send a header line every 0.2 s never finish their head."""
    connections = [await open_raw(server) for _ in range(4)]
    for _reader, writer in connections:
        writer.write(b"GET /fine HTTP/1.1\r\nHost: x\r\n")

    async def trickle(writer: asyncio.StreamWriter) -> None:
        for n in range(40):
            if writer.is_closing():
                return
            writer.write(f"X-Slow-{n}: y\r\n".encode())
            await asyncio.sleep(0.2)

    started = asyncio.get_running_loop().time()
    feeders = [asyncio.create_task(trickle(w)) for _r, w in connections]
    received = await asyncio.gather(*(closed_within(r, 4.0) for r, _w in connections))
    elapsed = asyncio.get_running_loop().time() - started
    for task in feeders:
        task.cancel()
    for _reader, writer in connections:
        writer.close()
    assert all(data == b"" for data in received)
    assert 0.8 < elapsed < 3.0


async def test_a_trickled_body_is_answered_408(server: GuardedSite) -> None:
    reader, writer = await open_raw(server)
    writer.write(b"POST /fine HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    answer = await closed_within(reader, 4.0)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")


async def test_connections_past_the_limit_are_closed_at_once(server: GuardedSite) -> None:
    idle = [await open_raw(server) for _ in range(LIMITS.max_connections)]
    await asyncio.sleep(0.1)
    reader, writer = await open_raw(server)
    assert await closed_within(reader, 0.5) == b""
    writer.close()
    assert server.refused == 1
    for _reader, idle_writer in idle:
        idle_writer.close()
    await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as client, client.get(url(server, "/fine")) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    "head",
    [
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /fine HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_000 + b"\r\n\r\n",
    ],
    ids=["path", "header"],
)
async def test_oversized_heads_are_400_and_one_warning_without_content(
    server: GuardedSite, caplog: pytest.LogCaptureFixture, head: bytes
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await open_raw(server)
    writer.write(head)
    answer = await closed_within(reader, 3.0)
    writer.close()
    assert answer.split(b" ")[1] == b"400", answer[:200]
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    [line] = logged
    assert line.levelno == logging.WARNING
    assert line.exc_info is None
    assert "aaaa" not in line.getMessage()
    assert "bbbb" not in line.getMessage()
    assert "malformed request" in line.getMessage()


async def test_listens_on_loopback_by_default() -> None:
    runner, site = await start_http(demo_app(), 0)
    try:
        assert site.name.startswith("http://127.0.0.1:")
        server = site._server
        assert server is not None
        hosts = {s.getsockname()[0] for s in getattr(server, "sockets", [])}
        assert hosts == {"127.0.0.1"}
    finally:
        await runner.cleanup()
