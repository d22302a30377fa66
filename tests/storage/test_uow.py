"""Issue 17, item 23: the one retry mechanism for transactions that lost a race."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from storage.uow import RETRY_ATTEMPTS, is_transient, retry_conflicts


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
