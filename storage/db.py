"""Engine and session factory: SQLite tuned for concurrency, PostgreSQL through asyncpg."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 15_000
# What SQLite may keep of the file in memory, for all connections of the process together: past
# it, pages are recycled rather than allocated. Without it each pooled connection caches up to
# 2 MB, and a digest run over 100,000 members took SQLite's own memory to about 20 MB.
SQLITE_SOFT_HEAP_LIMIT = 8 * 2**20
# Execution option of a read-only unit of work (storage.uow.Database.reader): on SQLite its
# transaction begins deferred, so pure reads do not queue behind writers for the write lock.
READ_ONLY = "samvirke_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents readable only by this user (0700); folders
    that already exist are left as they are."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file (the embedded default lives under ``./var/``) and the
    file itself, private to this user: folders 0700, the file 0600. SQLite gives the ``-wal``
    and ``-shm`` files the permissions of the database file, so they are private too."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    database = str(parsed.database)
    if database.startswith("file:") or parsed.query.get("mode") == "memory":
        return  # a URI filename: SQLite opens it as the URI says
    path = Path(database)
    make_private_folder(path.parent)
    # O_EXCL: an existing database keeps its permissions (the administrator may have chosen).
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # hide_parameters: SQL errors and logs never show the values (names, addresses) bound.
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    ensure_sqlite_folder(url)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted and overwritten content is zeroed in the file, not left in free pages: after
        # erasure a member's name and address are not in the database file (the WAL is
        # checkpointed by the erasure, see storage.members.privacy).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA soft_heap_limit={SQLITE_SOFT_HEAP_LIMIT}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at the start: two writers queue on busy_timeout instead of one of
        # them failing when it upgrades a read lock. Rules such as "at most one active code"
        # therefore hold on SQLite as they do under row locks on PostgreSQL. A read-only unit of
        # work (which never commits) reads a snapshot without the write lock (WAL).
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
