"""The unit of work: one transaction that rolls back unless the service commits it."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import secrets
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import READ_ONLY, create_engine, create_session_factory


class UnitOfWork:
    session: AsyncSession

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret: bytes,
        read_only: bool = False,
    ) -> None:
        self._sessions = sessions
        # A read-only unit of work (Database.reader) never commits; on SQLite it reads without
        # taking the write lock, so it does not wait behind writers (nor they behind it).
        self.read_only = read_only
        # The server's secret, for keyed hashes of what must not be stored in the clear
        # (e-mail codes, addresses in the code-mail throttle).
        self.secret = secret

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self.session.commit()

    async def checkpoint(self) -> None:
        """SQLite: move the write-ahead log into the database file and empty it, so that what
        was just erased (zeroed there by ``secure_delete``) leaves no copy in the WAL. Call
        after the transaction; best effort (a busy reader may keep part of the log)."""
        bind = self._sessions.kw.get("bind")
        if bind is None or bind.dialect.name != "sqlite":
            return
        async with bind.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name


class Database:
    """The engine and the factory of units of work, shared by the bot and the scheduler."""

    def __init__(self, url: str, *, secret: bytes | None = None) -> None:
        """``secret``: the server's key (``Settings.signing_key()``); without one a random key
        for this process (codes mailed before a restart then no longer verify)."""
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self._sessions = create_session_factory(self.engine)
        self._readers = create_session_factory(self.engine.execution_options(**{READ_ONLY: True}))
        self.secret = secret if secret is not None else secrets.token_bytes(32)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, secret=self.secret)

    def reader(self) -> UnitOfWork:
        """A unit of work for pure reads (the member behind every update, listings): it cannot
        commit, and on SQLite it begins deferred instead of taking the write lock."""
        return UnitOfWork(self._readers, secret=self.secret, read_only=True)

    async def dispose(self) -> None:
        await self.engine.dispose()


# --- retrying a transaction that lost a race ---------------------------------------------------

log = logging.getLogger(__name__)

# PostgreSQL's codes for "try the transaction again": deadlock_detected, serialization_failure.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
RETRY_ATTEMPTS = 6
RETRY_FIRST_DELAY = 0.01  # seconds; doubled each time, with jitter

P = ParamSpec("P")
R = TypeVar("R")


def is_transient(error: BaseException) -> bool:
    """Whether the database refused the transaction only because of a concurrent one (a
    deadlock or a serialisation failure): running it again is safe and will succeed."""
    if not isinstance(error, DBAPIError):
        return False
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code in RETRY_SQLSTATES:
            return True
    return False


def retry_conflicts(
    service: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Run a service again when its transaction lost a race (``is_transient``), so that a
    deadlock or serialisation failure never reaches the member. The service must own its
    transaction (``async with uow``: a fresh session each time) and do nothing outside the
    database before it commits (messages go through the outbox), as every service here does."""

    @functools.wraps(service)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        attempt = 0
        while True:
            try:
                return await service(*args, **kwargs)
            except DBAPIError as error:
                attempt += 1
                if attempt >= RETRY_ATTEMPTS or not is_transient(error):
                    raise
                log.info("%s: transaction conflict, retry %d", service.__qualname__, attempt)
                await asyncio.sleep(random.uniform(0.5, 1.0) * RETRY_FIRST_DELAY * 2**attempt)

    return run
