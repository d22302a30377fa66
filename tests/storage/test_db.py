"""The SQLite file and its folder are private to the service's user (like the ``.eml`` files)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import create_engine, make_private_folder
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
