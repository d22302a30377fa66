"""``samvirke backup`` / ``restore`` as an operator runs them: a consistent copy made while
another process writes, restored and compared table by table; refusal to overwrite data;
older copies migrated; old backups pruned; PostgreSQL through pg_dump."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

import storage
from storage.migrate import pending, upgrade_engine
from storage.uow import Database
from tests.conftest import POSTGRES_URL

SAMVIRKE = str(Path(sys.executable).with_name("samvirke"))


def samvirke(cwd: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env["SAMVIRKE_DATABASE_URL"] = url
    return subprocess.run(
        [SAMVIRKE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def migrated(url: str, revision: str = "heads") -> None:
    database = Database(url)
    try:
        await upgrade_engine(database.engine, revision)
    finally:
        await database.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def add_member(connection: sqlite3.Connection, n: int) -> None:
    connection.execute(
        "INSERT INTO members (telegram_user_id, name, email, sector, language, role, "
        "digest_frequency, created_at, updated_at) VALUES (?, ?, ?, 'academia', 'da', 'member', "
        "'off', '2026-11-25 12:00:00', '2026-11-25 12:00:00')",
        (1000 + n, f"Medlem {n}", f"m{n}@example.dk"),
    )


async def every_table(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order."""
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            tables = {}
            for name, table in sorted(metadata.tables.items()):
                order = list(table.primary_key.columns) or list(table.columns)
                rows = await connection.execute(select(table).order_by(*order))
                tables[name] = [tuple(row) for row in rows]
            return tables
    finally:
        await database.dispose()


async def test_backup_during_writes_then_restore_compares_every_table(tmp_path: Path) -> None:
    live = tmp_path / "var" / "samvirke.db"
    live.parent.mkdir()
    await migrated(sqlite_url(live))
    with sqlite3.connect(live) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(members)")}
    if not {"telegram_user_id", "role", "digest_frequency"} <= columns:
        pytest.skip("members table differs from what this test writes")

    stop = threading.Event()
    enough = threading.Event()
    written = [0]

    def writer() -> None:
        """Another process's writes: members in transactions of five, as fast as possible."""
        connection = sqlite3.connect(live, timeout=30)
        try:
            while not stop.is_set():
                with connection:
                    for _ in range(5):
                        add_member(connection, written[0])
                        written[0] += 1
                if written[0] >= 50:
                    enough.set()
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        await asyncio.to_thread(enough.wait, 60)
        made = await asyncio.to_thread(
            samvirke, tmp_path, "backup", "--output", str(tmp_path / "backups") + os.sep,
            url=sqlite_url(live),
        )  # fmt: skip
    finally:
        stop.set()
        thread.join()
    assert made.returncode == 0, made.stderr
    [copy] = (tmp_path / "backups").glob("samvirke-*.db")
    assert f"backup written to {copy}" in made.stdout
    assert copy.stat().st_mode & 0o777 == 0o600

    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        count = connection.execute("SELECT count(*) FROM members").fetchone()[0]
    assert count >= 50
    assert count % 5 == 0  # whole transactions only: a snapshot of one moment
    assert count < written[0] or count == written[0]

    restored = tmp_path / "restored" / "samvirke.db"
    done = await asyncio.to_thread(
        samvirke, tmp_path, "restore", str(copy), url=sqlite_url(restored)
    )
    assert done.returncode == 0, done.stderr
    assert await every_table(sqlite_url(restored)) == await every_table(sqlite_url(copy))

    # The restored database now holds members: a second restore needs --force.
    again = await asyncio.to_thread(
        samvirke, tmp_path, "restore", str(copy), url=sqlite_url(restored)
    )
    assert again.returncode != 0
    assert "--force" in again.stderr
    assert "Traceback" not in again.stderr
    forced = await asyncio.to_thread(
        samvirke, tmp_path, "restore", str(copy), "--force", url=sqlite_url(restored)
    )
    assert forced.returncode == 0, forced.stderr


async def test_restore_migrates_an_older_copy(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    await migrated(sqlite_url(old), "0001")
    target = tmp_path / "var" / "samvirke.db"
    done = await asyncio.to_thread(samvirke, tmp_path, "restore", str(old), url=sqlite_url(target))
    assert done.returncode == 0, done.stderr
    later = len(list((Path(storage.__file__).parent / "migrations" / "versions").glob("0*.py"))) - 1
    assert f"then applied {later} migration(s)" in done.stdout
    database = Database(sqlite_url(target))
    try:
        assert await pending(database.engine) == []
    finally:
        await database.dispose()


async def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    done = await asyncio.to_thread(
        samvirke, tmp_path, "restore", str(junk), url=sqlite_url(tmp_path / "t.db")
    )
    assert done.returncode != 0
    assert done.stderr.startswith("samvirke: restore refused: ")
    assert "Traceback" not in done.stderr


async def test_keep_prunes_old_backups(tmp_path: Path) -> None:
    live = tmp_path / "var" / "samvirke.db"
    live.parent.mkdir()
    await migrated(sqlite_url(live))
    folder = live.parent / "backups"
    folder.mkdir()
    for day in range(1, 6):
        (folder / f"samvirke-202611{day:02d}-030000.db").write_bytes(b"old")
    (folder / "notes.txt").write_text("keep me")
    done = await asyncio.to_thread(
        samvirke, tmp_path, "backup", "--keep", "3", url=sqlite_url(live)
    )
    assert done.returncode == 0, done.stderr
    left = sorted(p.name for p in folder.iterdir())
    assert len(left) == 4
    assert left[:2] == ["notes.txt", "samvirke-20261104-030000.db"]
    assert "deleted old backup" in done.stdout


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SAMVIRKE_TEST_POSTGRES_URL not set")
async def test_postgresql_backup_and_restore(tmp_path: Path) -> None:
    from tests.conftest import _reset_postgres

    for tool in ("pg_dump", "pg_restore", "psql"):
        if not any((Path(d) / tool).exists() for d in os.environ["PATH"].split(os.pathsep)):
            pytest.skip(f"{tool} is not installed (apt-get install postgresql-client)")
    await _reset_postgres(POSTGRES_URL)
    await migrated(POSTGRES_URL)
    before = await every_table(POSTGRES_URL)
    made = await asyncio.to_thread(
        samvirke, tmp_path, "backup", "--output", str(tmp_path / "pg.dump"), url=POSTGRES_URL
    )
    assert made.returncode == 0, made.stderr
    refused = await asyncio.to_thread(
        samvirke, tmp_path, "restore", str(tmp_path / "pg.dump"), url=POSTGRES_URL
    )
    # a freshly migrated database holds no members or events: restoring into it is allowed
    assert refused.returncode == 0, refused.stderr
    assert await every_table(POSTGRES_URL) == before


def test_backup_without_pg_dump_says_what_to_install(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env["SAMVIRKE_DATABASE_URL"] = "postgresql+asyncpg://samvirke@127.0.0.1:1/samvirke"
    env["PATH"] = str(Path(sys.executable).parent)  # no pg_dump there
    done = subprocess.run(
        [SAMVIRKE, "backup"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "pg_dump is not installed: `apt-get install postgresql-client`" in done.stderr
