"""Where built mails go: an SMTP server (one connection per batch) or ``.eml`` files on disk.

A transport opens a :class:`MailConnection`; the delivery loop sends a batch over it and closes
it. Errors are the transport's own (``aiosmtplib`` exceptions, ``OSError``); the delivery loop
decides what they mean for each outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Protocol

import aiosmtplib

from samvirke.settings import Settings, SmtpSecurity
from scheduler.mail.compose import OutgoingMail
from storage.db import make_private_folder

DEFAULT_SMTP_TIMEOUT = 30.0


class MailConnection(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Hand one message over; raise if it was not accepted."""

    async def close(self) -> None:
        """End the session politely; never raises for a connection that is already gone."""


class MailTransport(Protocol):
    @property
    def description(self) -> str:
        """Where mail goes, for log lines (no credentials)."""

    async def open(self) -> MailConnection:
        """Connect (and log in); raise if that fails. Nothing has been sent then."""


class SmtpConnection:
    """One authenticated SMTP session; messages are sent one after the other over it."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self._client = client

    async def send(self, mail: OutgoingMail) -> None:
        # The envelope is explicit: recipients never come from parsing headers.
        await self._client.sendmail(mail.sender, list(mail.recipients), mail.data)

    async def close(self) -> None:
        try:
            if self._client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await self._client.quit()
        finally:
            self._client.close()


class SmtpTransport:
    """SMTP with aiosmtplib: ``none`` (plain), ``starttls`` (upgrade required) or ``tls``."""

    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        security: SmtpSecurity,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_SMTP_TIMEOUT,
        local_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._tls_context = tls_context

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        timeout: float = DEFAULT_SMTP_TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
    ) -> SmtpTransport:
        if settings.smtp_host is None:
            raise ValueError("no SMTP host configured")
        password = settings.smtp_password
        return cls(
            hostname=settings.smtp_host,
            port=settings.effective_smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            timeout=timeout,
            tls_context=tls_context,
        )

    @property
    def description(self) -> str:
        return f"smtp://{self.hostname}:{self.port} ({self.security})"

    async def _ehlo_name(self) -> str:
        """Our name in EHLO, looked up once (``socket.getfqdn`` can be slow)."""
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname

    def client(self, *, local_hostname: str | None = None) -> aiosmtplib.SMTP:
        """An unconnected client configured for this server."""
        return aiosmtplib.SMTP(
            hostname=self.hostname,
            port=self.port,
            username=self._username,
            password=self._password,
            local_hostname=local_hostname,
            timeout=self._timeout,
            # ``tls``: TLS from the first byte. ``starttls``: the upgrade is required, a server
            # that does not offer it is an error. ``none``: no upgrade, even if offered.
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=self._tls_context,
        )

    async def open(self) -> SmtpConnection:
        client = self.client(local_hostname=await self._ehlo_name())
        await client.connect()
        return SmtpConnection(client)


class FileConnection:
    """Writes each message as ``<UTC time>-<outbox id>.eml``, atomically."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    @staticmethod
    def file_name(mail: OutgoingMail) -> str:
        return f"{mail.date.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{mail.outbox_id:06d}.eml"

    async def send(self, mail: OutgoingMail) -> None:
        await asyncio.to_thread(self._write, self.file_name(mail), mail.data)

    def _write(self, name: str, data: bytes) -> None:
        """Write to a temporary file in the same folder, then rename: readers never see half."""
        descriptor, temporary = tempfile.mkstemp(dir=self._directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self._directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def close(self) -> None:
        return None

    @staticmethod
    def outbox_id_of(name: str) -> int | None:
        """The outbox id in a file name this connection wrote, else None."""
        stem, dot, extension = name.rpartition(".")
        number = stem.rpartition("-")[2]
        if not dot or extension != "eml" or not (number.isascii() and number.isdigit()):
            return None
        return int(number[:18])


def delete_eml_files(directory: Path, outbox_ids: set[int]) -> int:
    """Delete the ``.eml`` files of these outbox rows (an erased member's mails)."""
    deleted = 0
    for path in directory.glob("*.eml"):
        if FileConnection.outbox_id_of(path.name) in outbox_ids:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
    return deleted


class FileTransport:
    """The embedded default when no SMTP host is set: mail lands in ``mail_dir``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def description(self) -> str:
        return f"files in {self.directory}"

    async def open(self) -> FileConnection:
        await asyncio.to_thread(make_private_folder, self.directory)
        return FileConnection(self.directory)


def transport_from_settings(
    settings: Settings, *, timeout: float = DEFAULT_SMTP_TIMEOUT
) -> SmtpTransport | FileTransport:
    """SMTP when ``SAMVIRKE_SMTP_HOST`` is set, else ``.eml`` files in ``SAMVIRKE_MAIL_DIR``."""
    if settings.smtp_host is not None:
        return SmtpTransport.from_settings(settings, timeout=timeout)
    return FileTransport(settings.mail_dir)
