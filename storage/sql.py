"""SQL that differs between the databases Samvirke runs on (PostgreSQL, SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def insert_ignore(session: AsyncSession, table: Any, *, unique: list[str]) -> Insert:
    """``INSERT … ON CONFLICT (unique) DO NOTHING`` into ``table`` in the session's dialect: a
    row whose ``unique`` columns are taken already is skipped (``rowcount`` says how many were
    inserted). Add the row with ``.values(...)``, or pass rows to ``session.execute``."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=unique)
