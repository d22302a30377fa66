"""``samvirke backup`` and ``samvirke restore``: a consistent copy while the bot runs.

SQLite: the online backup API (a snapshot of one moment, whatever is being written), into a
temporary file renamed into place, readable only by the owner. PostgreSQL: ``pg_dump
--format=custom`` (a snapshot in one transaction), when the client tools are installed.
``restore`` refuses to overwrite a database holding members or events without ``force``, and
migrates what it restored when the copy is older than this version.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection, make_url

from storage.uow import Database

PREFIX = "samvirke-"


class BackupError(Exception):
    """What went wrong, as one line for the operator."""


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("SAMVIRKE_DATABASE_URL is an in-memory database: nothing to back up")
    return Path(url.database)


def target_for(output: str | None, url: URL, now: dt.datetime) -> Path:
    """``--output``: a file, or a folder (existing, or ending in ``/``) to put a dated file in;
    default ``var/backups/``."""
    suffix = ".db" if _is_sqlite(url) else ".dump"
    name = f"{PREFIX}{now:%Y%m%d-%H%M%S}{suffix}"
    if output is None:
        base = _sqlite_path(url).parent if _is_sqlite(url) else Path("var")
        return base / "backups" / name
    if Path(output).is_dir() or output.endswith(os.sep):
        return Path(output) / name
    return Path(output)


def _pg_env(url: URL) -> dict[str, str]:
    """libpq's variables (the password never on a command line)."""
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", str(url.port) if url.port else None),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value:
            env[key] = str(value)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: `apt-get install postgresql-client` (the same major "
            "version as the server, or newer)"
        )
    return found


def backup(database_url: str, output: str | None, *, now: dt.datetime) -> Path:
    url = make_url(database_url)
    target = target_for(output, url, now)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_name(f".{target.name}.partial")
    try:
        if _is_sqlite(url):
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupError(f"no database at {source_path}")
            source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # one consistent snapshot
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                copy.close()
                source.close()
        else:
            done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}"],
                env=_pg_env(url),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
        partial.chmod(0o600)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def prune(folder: Path, keep: int, suffix: str) -> list[Path]:
    """Delete all but the newest ``keep`` dated backups in ``folder``; returns those deleted."""
    dated = sorted(p for p in folder.glob(f"{PREFIX}*{suffix}") if p.is_file())
    doomed = dated[:-keep] if keep > 0 else dated
    for path in doomed:
        path.unlink()
    return doomed


async def holdings(database_url: str) -> int:
    """Members and events in the database (0 for a new or empty one)."""
    database = Database(database_url)

    def count(connection: Connection) -> int:
        tables = set(inspect(connection).get_table_names())
        total = 0
        for table in ("members", "events"):
            if table in tables:
                total += int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
        return total

    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(count)
    finally:
        await database.dispose()


def restore(database_url: str, source: Path, *, force: bool) -> int:
    """Replace the database's contents with ``source``; returns how many migrations ran after.
    Call outside a running event loop."""
    from storage.migrate import pending_for, upgrade

    url = make_url(database_url)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    if _is_sqlite(url):
        _check_sqlite_file(source)
    held = 0
    if not _is_sqlite(url) or _sqlite_path(url).exists():
        held = asyncio.run(holdings(database_url))
    if held and not force:
        raise BackupError(
            f"the database holds data ({held} members and events); stop Samvirke and add "
            "--force to replace it with the backup"
        )
    if _is_sqlite(url):
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        backup_copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(target)
        try:
            backup_copy.backup(live)
        finally:
            live.close()
            backup_copy.close()
        target.chmod(0o600)
    else:
        _restore_postgres(url, source)
    todo = len(pending_for(database_url))
    if todo:
        upgrade(database_url)
    return todo


def _check_sqlite_file(source: Path) -> None:
    try:
        connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} is not a SQLite database ({error})") from None
    if result is None or result[0] != "ok":
        raise BackupError(f"{source} is damaged (SQLite quick_check failed)")


def _restore_postgres(url: URL, source: Path) -> None:
    tool = _tool("pg_restore")
    env = _pg_env(url)
    psql = _tool("psql")
    reset = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            psql,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if reset.returncode != 0:
        raise BackupError(f"cannot empty the database: {reset.stderr.strip()[:200]}")
    done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [tool, "--no-owner", "--exit-on-error", f"--dbname={url.database}", str(source)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:300]}")
