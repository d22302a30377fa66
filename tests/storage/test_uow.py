"""Issue 17, item 23: the one retry mechanism for transactions that lost a race."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from storage.models import Region
from storage.uow import RETRY_ATTEMPTS, Database, is_transient, retry_conflicts


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _refused(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE timebank_accounts ...", None, _DriverError(sqlstate))


@pytest.mark.parametrize(
    ("sqlstate", "transient"), [("40P01", True), ("40001", True), ("23505", False)]
)
def test_deadlocks_and_serialisation_failures_are_transient(sqlstate: str, transient: bool) -> None:
    assert is_transient(_refused(sqlstate)) is transient
    assert not is_transient(ValueError("40P01"))


async def test_a_service_that_lost_a_race_runs_again_until_it_succeeds() -> None:
    calls: list[int] = []

    @retry_conflicts
    async def service(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise _refused("40P01")
        return value * 2

    assert await service(21) == 42
    assert calls == [21, 21, 21]


async def test_other_errors_and_endless_conflicts_reach_the_caller() -> None:
    calls: list[str] = []

    @retry_conflicts
    async def unique_violation() -> None:
        calls.append("unique")
        raise _refused("23505")

    @retry_conflicts
    async def always_deadlocked() -> None:
        calls.append("deadlock")
        raise _refused("40P01")

    with pytest.raises(DBAPIError):
        await unique_violation()
    with pytest.raises(DBAPIError):
        await always_deadlocked()
    assert calls.count("unique") == 1
    assert calls.count("deadlock") == RETRY_ATTEMPTS


# --- issue 16: pure reads in a read-only unit of work ------------------------------------------


async def test_a_reader_cannot_commit_and_leaves_nothing_behind(db: Database) -> None:
    reader = db.reader()
    async with reader:
        await reader.session.execute(insert(Region).values(code="gotland", name="Gotland"))
        with pytest.raises(RuntimeError):
            await reader.commit()
    async with db.unit_of_work() as uow:
        assert await uow.session.scalar(select(Region).where(Region.code == "gotland")) is None


async def test_a_reader_reads_while_a_writer_holds_its_transaction(db: Database) -> None:
    """On SQLite a writer holds the write lock for its whole transaction; a pure read (the
    member lookup of every update) does not wait for it, and sees what was committed."""
    async with db.unit_of_work() as writer:
        await writer.session.execute(insert(Region).values(code="gotland", name="Gotland"))
        await writer.session.flush()  # the writer's transaction has begun and holds its lock
        reader = db.reader()
        async with reader:
            found = await asyncio.wait_for(
                reader.session.scalar(select(func.count()).select_from(Region)), timeout=5
            )
        await writer.commit()
    async with db.reader() as after:
        assert found is not None
        assert await after.session.scalar(select(func.count()).select_from(Region)) == found + 1
