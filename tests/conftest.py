"""Shared fixtures: a migrated database on SQLite and, when a server is given, on PostgreSQL.

Set ``SAMVIRKE_TEST_POSTGRES_URL`` (``postgresql+asyncpg://user@127.0.0.1:port/db``) to run every
database test on PostgreSQL too; ``.ci/run`` starts a server and sets it. Without it the
PostgreSQL variants are skipped, with that reason shown.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.migrate import upgrade_engine
from storage.uow import Database

POSTGRES_URL = os.environ.get("SAMVIRKE_TEST_POSTGRES_URL", "")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="SAMVIRKE_TEST_POSTGRES_URL not set"),
        ],
    ),
]


async def _reset_postgres(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await database.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'samvirke.db'}"
    return POSTGRES_URL


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A freshly migrated database (the default regions are in it)."""
    if database_url.startswith("postgresql"):
        await _reset_postgres(database_url)
    database = Database(database_url)
    await upgrade_engine(database.engine)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
