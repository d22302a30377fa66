"""Apply the Alembic migrations shipped inside the package (no alembic.ini needed)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import ensure_sqlite_folder


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("storage") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Migrate the database at ``url``; call outside a running event loop."""
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "heads") -> None:
    """Migrate through an existing engine (from inside an event loop, as the tests do)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))

    def _upgrade(connection: object) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _pending_on(connection: Connection, cfg: Config) -> list[Script]:
    """The revisions not yet applied on ``connection``, oldest first."""
    script = ScriptDirectory.from_config(cfg)
    current = set(MigrationContext.configure(connection).get_current_heads())
    applied: set[str] = set()
    for head in current:
        applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    todo = [rev for rev in script.walk_revisions("base", "heads") if rev.revision not in applied]
    return list(reversed(todo))


async def pending(engine: AsyncEngine) -> list[Script]:
    """The migrations ``upgrade`` would apply (empty when the database is current)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: _pending_on(sync, cfg))


def pending_for(url: str) -> list[Script]:
    """``pending`` for a URL, outside a running event loop (the CLI)."""
    import asyncio

    from storage.uow import Database

    async def read() -> list[Script]:
        database = Database(url)
        try:
            return await pending(database.engine)
        finally:
            await database.dispose()

    return asyncio.run(read())
