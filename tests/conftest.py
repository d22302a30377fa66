"""Shared fixtures: a migrated database on SQLite and, when a server is given, on PostgreSQL;
the test clock; Hypothesis's settings.

Set ``SAMVIRKE_TEST_POSTGRES_URL`` (``postgresql+asyncpg://user@127.0.0.1:port/db``) to run every
database test on PostgreSQL too; ``.ci/run`` starts a server and sets it. Without it the
PostgreSQL variants are skipped, and ``bin/test`` says so in one line.

Hypothesis keeps the examples it found (failing ones first) in ``.hypothesis/`` at the repository
root (ignored by git, and by pytest as a dot folder), whatever folder pytest runs from, so a
failure found once is tried again first on the next run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase
from sqlalchemy import text

from storage.migrate import upgrade_engine
from storage.uow import Database
from tests.support.clock import Clock
from tests.support.mailserver import RecordingHandler, SmtpServer

REPOSITORY = Path(__file__).resolve().parent.parent
settings.register_profile(
    "samvirke", database=DirectoryBasedExampleDatabase(REPOSITORY / ".hypothesis" / "examples")
)
settings.load_profile("samvirke")

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


@pytest.fixture
def clock(now: dt.datetime) -> Clock:
    """A clock the test moves (``clock.advance(minutes=5)``), starting at ``now``."""
    return Clock(now)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port that records every mail."""
    server = await SmtpServer(RecordingHandler()).start()
    try:
        yield server
    finally:
        await server.stop()
