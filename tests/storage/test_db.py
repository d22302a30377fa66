"""The SQLite file and its folder are private to the service's user (like the ``.eml`` files)."""

from __future__ import annotations

import _sqlite3
import ctypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import SQLITE_SOFT_HEAP_LIMIT, create_engine, make_private_folder
from storage.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask a service could run under: only our modes make files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_the_database_its_wal_and_shm_and_var_are_private(
    tmp_path: Path, open_umask: None
) -> None:
    var = tmp_path / "service" / "var"
    database = var / "samvirke.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("create table t (x integer)"))
            await connection.execute(text("insert into t values (1)"))
        async with engine.connect() as connection:  # keeps the -wal and -shm files open
            await connection.execute(text("select x from t"))
            assert mode(database.with_name("samvirke.db-wal")) == 0o600
            assert mode(database.with_name("samvirke.db-shm")) == 0o600
    finally:
        await engine.dispose()
    assert mode(database) == 0o600
    assert mode(var) == 0o700
    assert mode(var.parent) == 0o700  # every folder made for it


def test_migrating_a_fresh_database_creates_it_private(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "var" / "samvirke.db"
    upgrade(f"sqlite+aiosqlite:///{database}")
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700


def test_existing_folders_and_files_keep_the_permissions_chosen_for_them(
    tmp_path: Path, open_umask: None
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    make_private_folder(shared / "var")
    assert mode(shared) == 0o750
    assert mode(shared / "var") == 0o700


def sqlite_memory_used() -> int:
    """SQLite's own heap in this process (``sqlite3_memory_used``, all connections)."""
    library = ctypes.CDLL(_sqlite3.__file__)  # the symbol is found in the linked SQLite too
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


async def test_sqlite_keeps_at_most_its_soft_heap_limit_of_the_file_in_memory(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'big.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("create table t (x text)"))
            for _ in range(15):  # 30 MB of pages
                await connection.execute(
                    text(
                        "with recursive n(i) as (select 1 union all select i + 1 from n "
                        "where i < 1000) insert into t select hex(randomblob(1000)) from n"
                    )
                )
        async with engine.connect() as connection:
            # A cache that would hold the whole file, as a long-running connection's would grow.
            await connection.execute(text("PRAGMA cache_size=-100000"))
            total = await connection.scalar(text("select sum(length(x)) from t"))
            assert total == 30_000_000
            assert sqlite_memory_used() < SQLITE_SOFT_HEAP_LIMIT + 4 * 2**20
    finally:
        await engine.dispose()
