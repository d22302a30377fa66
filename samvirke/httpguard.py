"""What the HTTP server does with bad or hostile input, in one place.

- A middleware (``refuse_bad_input``) turns every error that input can cause in a handler
  (``BadInput``, and ``ValueError``, ``TypeError``, ``UnicodeError``, ``LookupError``,
  ``RecursionError`` escaping from parsing) into a 4xx answer and ONE warning line naming the
  route and the kind of error, never the request's content and never a traceback. It also reads
  request bodies with a deadline (408 when a client trickles its body).
- Request heads that aiohttp's parser refuses (a path or header over the size limits, garbage)
  are answered 400 by aiohttp; ``MalformedRequestLog`` makes its ERROR-with-traceback (which
  quotes the request) one WARNING line without content.
- ``GuardedSite`` listens with a connection limit: past it, new connections are closed at once.
  Heads must arrive within the header timeout (aiohttp's keep-alive timer also runs from the
  start of a connection, so a client trickling its headers is closed when it runs out).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

log = logging.getLogger("samvirke.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INPUT_ERRORS = (ValueError, TypeError, UnicodeError, LookupError, RecursionError)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class ServerLimits:
    """How long and how much a client may take; the defaults suit a server behind a proxy."""

    header_timeout: float = 10.0  # seconds to send a request head (also the idle keep-alive)
    body_timeout: float = 20.0  # seconds to send a request body
    max_connections: int = 200  # open connections at once; more are closed at once
    max_line_size: int = 8190  # request line (the path)
    max_field_size: int = 8190  # one header
    max_body: int = 2 * 1024 * 1024


class BadInput(Exception):
    """A request that cannot be served as sent: answered ``status`` with one warning line.
    ``str()`` is the reason for the log: it must not quote the request."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def _route(request: web.Request) -> str:
    """The route's pattern (``/unsubscribe/{token}``), never the path a client sent."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def make_middleware(limits: ServerLimits) -> Middleware:
    @web.middleware
    async def refuse_bad_input(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route(request)
        try:
            if request.method in BODY_METHODS and request.body_exists:
                try:
                    async with asyncio.timeout(limits.body_timeout):
                        await request.read()  # cached: the handler reads it again for free
                except TimeoutError:
                    log.warning("HTTP %s %s: body not sent in time (408)", request.method, route)
                    response = web.Response(status=408, text="Request timeout.\n")
                    response.force_close()
                    return response
            return await handler(request)
        except web.HTTPException:
            raise
        except BadInput as error:
            log.warning("HTTP %s %s: %s (%d)", request.method, route, error, error.status)
            return web.Response(status=error.status, text="Bad request.\n")
        except INPUT_ERRORS as error:
            log.warning(
                "HTTP %s %s: refused input (%s, 400)", request.method, route, type(error).__name__
            )
            return web.Response(status=400, text="Bad request.\n")

    return refuse_bad_input


class MalformedRequestLog(logging.Filter):
    """aiohttp's parser errors as one WARNING line without the request's content."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "HTTP: refused a malformed request (%s, %s)"
            record.args = (type(error).__name__, error.code or 400)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def server_logger() -> logging.Logger:
    """The logger given to aiohttp's request handler (its errors go through the filter)."""
    logger = logging.getLogger("samvirke.http.server")
    if not any(isinstance(f, MalformedRequestLog) for f in logger.filters):
        logger.addFilter(MalformedRequestLog())
    return logger


class _Refused(asyncio.Protocol):
    """Past the connection limit: close at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are counted: past ``max_connections`` new ones are closed."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._max_connections = max_connections
        self._refused = 0

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def refused(self) -> int:
        return self._refused

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.Protocol:
            if len(server.connections) >= self._max_connections:
                self._refused += 1
                if self._refused == 1 or self._refused % 100 == 0:
                    log.warning("HTTP: connection limit reached; %d refused", self._refused)
                return _Refused()
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, reuse_address=True
        )

    @property
    def port(self) -> int:
        """The port listened on (the real one when started with port 0)."""
        assert self._server is not None
        sockets = getattr(self._server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self._port


def runner_options(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner``: timeouts, size limits, the quiet logger."""
    return {
        "access_log": None,
        "keepalive_timeout": limits.header_timeout,
        # After an early answer (408, 413), read and drop what a client still sends this long.
        "lingering_time": 2.0,
        "max_line_size": limits.max_line_size,
        "max_field_size": limits.max_field_size,
        "logger": server_logger(),
    }
