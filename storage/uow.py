"""The unit of work: one transaction that rolls back unless the service commits it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, create_session_factory


class UnitOfWork:
    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self._sessions = create_session_factory(self.engine)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    async def dispose(self) -> None:
        await self.engine.dispose()
