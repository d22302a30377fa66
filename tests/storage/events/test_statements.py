"""What an answer costs the database (issue 16): the statements one press sends, counted with
SQLAlchemy's ``before_cursor_execute`` on the real engine, so that a query added to the path every
Going press takes shows up here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from storage.uow import Database
from tests.support.events_kit import add_member, going, publish


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The first word of each statement the engine sends meanwhile (on SQLite also the BEGIN
    IMMEDIATE; COMMIT and ROLLBACK are not cursor calls)."""
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", executed)


def _without_begin(seen: list[str]) -> list[str]:
    return [s for s in seen if s != "BEGIN"]


async def test_going_takes_a_seat_in_six_statements(db: Database) -> None:
    event_id = (await publish(db, capacity=1)).id
    karen = await add_member(db, 501)
    with statements(db) as seen:
        outcome = await going(db, karen, event_id)
    assert outcome.invited
    assert outcome.card.answer is not None
    # The event (locked); member, answer and the waiting list's end; the counts; the programme;
    # the answer; the invitation in the outbox.
    assert _without_begin(seen) == ["SELECT", "SELECT", "SELECT", "SELECT", "INSERT", "INSERT"]


async def test_joining_the_waiting_list_is_told_the_place_without_more_queries(
    db: Database,
) -> None:
    event_id = (await publish(db, capacity=1)).id
    for n in range(3):
        await going(db, await add_member(db, 510 + n), event_id)
    latecomer = await add_member(db, 520)
    with statements(db) as seen:
        outcome = await going(db, latecomer, event_id)
    assert outcome.card.answer is not None
    assert (outcome.card.answer.status, outcome.card.answer.position) == ("waitlist", 3)
    assert _without_begin(seen) == ["SELECT", "SELECT", "SELECT", "SELECT", "INSERT"]
