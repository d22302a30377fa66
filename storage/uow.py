"""The unit of work: one transaction that rolls back unless the service commits it."""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, create_session_factory


class UnitOfWork:
    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, secret: bytes) -> None:
        self._sessions = sessions
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
        await self.session.commit()

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
        self.secret = secret if secret is not None else secrets.token_bytes(32)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, secret=self.secret)

    async def dispose(self) -> None:
        await self.engine.dispose()
