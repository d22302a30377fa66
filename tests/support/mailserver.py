"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, served from the test's own event loop.

(Named ``mailserver`` rather than ``smtpd``: Python 3.11 still ships a deprecated ``smtpd``
module, and a test helper of the same top-level name would shadow it or be shadowed by it.)

The handler records every accepted message with its envelope, counts EHLOs, and can answer
chosen recipients or every DATA with an error reply, drop the connection at a given DATA, or
run a hook at each DATA before answering it.
The server counts the connections it accepted.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


def free_port() -> int:
    """A port on loopback that nothing listens on (for "the server is down")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def header_section(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[0]


@dataclass
class RecordingHandler:
    """aiosmtpd hooks. ``rcpt_replies``: address -> reply; ``data_reply``: reply to every DATA;
    ``drop_at_data``: close the connection, unanswered, at this DATA (1 = the first)."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    drop_at_data: int | None = None
    received: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)
    ehlo_count: int = 0
    data_count: int = 0
    logins: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each accepted DATA
    # Awaited at each DATA before it is answered (to look at the sender's state meanwhile).
    on_data: Callable[[], Awaitable[None]] | None = None

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.ehlo_count += 1
        session.host_name = hostname  # the 5-argument hook must set it (aiosmtpd docs)
        return responses

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_count += 1
        if self.on_data is not None:
            await self.on_data()
        mail = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
        )
        if self.drop_at_data == self.data_count:
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            await asyncio.sleep(30)  # connection_lost cancels this hook: no reply is sent
        if self.data_reply is not None:
            self.refused.append(mail)
            return self.data_reply
        self.received.append(mail)
        self.arrived.set()
        return "250 2.0.0 OK: queued"

    def authenticator(self, username: str, password: str) -> Callable[..., AuthResult]:
        """An aiosmtpd authenticator accepting exactly this login (recorded on success)."""

        def check(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == username.encode()
                and auth_data.password == password.encode()
            )
            if ok:
                self.logins.append(username)
            return AuthResult(success=ok, handled=False)

        return check


class SmtpServer:
    """aiosmtpd served by ``loop.create_server`` in the running loop (no thread, no port race
    when ``port`` is 0). ``tls_context`` offers STARTTLS; ``ssl_context`` is TLS from the first
    byte."""

    def __init__(
        self,
        handler: RecordingHandler,
        *,
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        authenticator: Callable[..., AuthResult] | None = None,
    ) -> None:
        self.handler = handler
        self.port = port
        self.connections = 0
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._ssl_context = ssl_context
        self._authenticator = authenticator
        self._protocols: list[SMTP] = []
        self._server: asyncio.Server | None = None

    def _protocol(self) -> SMTP:
        self.connections += 1
        kwargs: dict[str, Any] = {}
        if self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=self._require_starttls)
        if self._authenticator is not None:
            kwargs["authenticator"] = self._authenticator
        protocol = SMTP(
            self.handler,
            hostname="smtp.samvirke.test",
            enable_SMTPUTF8=True,
            loop=asyncio.get_running_loop(),
            **kwargs,
        )
        self._protocols.append(protocol)
        return protocol

    async def start(self) -> SmtpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, HOST, self.port, ssl=self._ssl_context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        await self._server.wait_closed()
        for _ in range(3):  # let connection_lost callbacks and cancelled hooks finish
            await asyncio.sleep(0)
        self._server = None
