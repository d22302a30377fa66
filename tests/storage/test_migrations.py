"""The Alembic migrations: they build exactly the schema the models describe, on both backends,
and they can be undone and redone."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from storage.migrate import alembic_config, upgrade_engine
from storage.models import Base, Region
from storage.uow import Database

APP_TABLES = {
    "regions",
    "members",
    "email_verifications",
    "outbox",
    "audit_log",
    "bot_conversations",
    "bot_user_data",
}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_models_and_migrations_agree(db: Database) -> None:
    """What `alembic check` does: autogenerate finds nothing to add after `upgrade head`."""
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_upgrade_reaches_the_single_head(db: Database) -> None:
    script = ScriptDirectory.from_config(alembic_config(db.url))
    heads = script.get_heads()
    assert len(heads) == 1
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_revision) == heads[0]
        assert await connection.run_sync(_tables) >= APP_TABLES


async def test_upgrade_again_changes_nothing(db: Database) -> None:
    await upgrade_engine(db.engine)
    async with db.unit_of_work() as uow:
        codes = (await uow.session.scalars(select(Region.code).order_by(Region.id))).all()
    assert codes == [
        "hovedstaden",
        "sjaelland",
        "syddanmark",
        "midtjylland",
        "nordjylland",
        "skane",
    ]


async def test_downgrade_to_base_and_up_again(db: Database) -> None:
    cfg = alembic_config(db.url)

    def downgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")

    async with db.engine.begin() as connection:
        await connection.run_sync(downgrade)
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_revision) is None
        assert not (await connection.run_sync(_tables)) & APP_TABLES

    await upgrade_engine(db.engine)
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
    async with db.unit_of_work() as uow:
        assert len((await uow.session.scalars(select(Region))).all()) == 6
