"""Upgrades: a database at every earlier migration head, filled with rows, upgraded to the
current head with every row intact (on SQLite and PostgreSQL); ``samvirke migrate --dry-run``
shows what would run and changes nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from storage.migrate import alembic_config, pending, upgrade_engine
from storage.uow import Database
from tests.conftest import _reset_postgres

SCRIPT = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
HEAD = SCRIPT.get_current_head()
# Every revision that was ever a head of a release: each one a database may still be at.
EARLIER = [rev.revision for rev in SCRIPT.walk_revisions() if rev.revision != HEAD]


def _value(table: Table, column: Any, n: int) -> Any:
    kind = column.type
    if isinstance(kind, Enum) and kind.enums:
        return kind.enums[0]
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return dt.datetime(2026, 1, 1, 12, n % 60, tzinfo=dt.UTC)
    if isinstance(kind, Date):
        return dt.date(2026, 1, 1 + n % 28)
    if isinstance(kind, Integer | Numeric | Float):
        return 1000 + n
    if isinstance(kind, JSON):
        return {"filled": n}
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 40
        return f"v{n}"[:length]
    return None


def _fill(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    """One row in each table that takes a generic one (others keep what the migrations seeded);
    returns every row of every table."""
    metadata = MetaData()
    metadata.reflect(connection)
    counter = itertools.count(1)
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.primary_key and isinstance(column.type, Integer) and not column.foreign_keys:
                continue
            if column.foreign_keys:
                [fk] = list(column.foreign_keys)
                target = fk.column
                values[column.name] = connection.execute(
                    select(target).order_by(target).limit(1)
                ).scalar()
            else:
                values[column.name] = _value(table, column, next(counter))
        savepoint = connection.begin_nested()
        try:
            connection.execute(insert(table).values(**values))
            savepoint.commit()
        except DBAPIError:  # a check constraint the generic row does not meet
            savepoint.rollback()
    return _rows(connection)


def _rows(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    metadata = MetaData()
    metadata.reflect(connection)
    found = {}
    for name, table in metadata.tables.items():
        if name == "alembic_version":
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        found[name] = [dict(r._mapping) for r in connection.execute(select(table).order_by(*order))]
    return found


@pytest.mark.parametrize("revision", EARLIER)
async def test_upgrade_from_every_earlier_head_keeps_the_data(
    database_url: str, revision: str
) -> None:
    if database_url.startswith("postgresql"):
        await _reset_postgres(database_url)
    database = Database(database_url)
    try:
        await upgrade_engine(database.engine, revision)
        async with database.engine.begin() as connection:
            before = await connection.run_sync(_fill)
        filled = [table for table, rows in before.items() if rows]
        assert len(filled) > len(before) // 2, sorted(set(before) - set(filled))

        await upgrade_engine(database.engine)

        assert await pending(database.engine) == []
        async with database.engine.connect() as connection:
            after = await connection.run_sync(_rows)
    finally:
        await database.dispose()
    for table, rows in before.items():
        assert table in after, f"table {table} is gone"
        kept = [{k: v for k, v in row.items() if k in rows[0]} for row in after[table]]
        for row in rows:
            assert row in kept, f"{table}: a row changed or was lost in the upgrade"


def test_migrate_dry_run_lists_what_would_run(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"

    async def at_first() -> None:
        database = Database(url)
        try:
            await upgrade_engine(database.engine, "0001")
        finally:
            await database.dispose()

    asyncio.run(at_first())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env["SAMVIRKE_DATABASE_URL"] = url
    samvirke = str(Path(sys.executable).with_name("samvirke"))

    def dry_run() -> list[str]:
        done = subprocess.run(
            [samvirke, "migrate", "--dry-run"], cwd=tmp_path, env=env, capture_output=True,
            text=True, timeout=120, check=True,
        )  # fmt: skip
        return done.stdout.splitlines()

    lines = dry_run()
    applied = [line.split(":")[0].removeprefix("would apply ") for line in lines]
    assert sorted(applied[:3]) == ["0002", "0003", "0004"]
    assert applied[3] == "0005"  # the merge comes after what it merges
    assert dry_run() == lines  # nothing was applied
    subprocess.run([samvirke, "migrate"], cwd=tmp_path, env=env, check=True, capture_output=True)
    assert dry_run() == ["The database is up to date: no migration would run."]
