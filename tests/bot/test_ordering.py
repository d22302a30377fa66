"""Updates run side by side through the real Application's update queue, each chat's and each
person's in arrival order (bot.ordering)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.ordering import OrderedUpdateProcessor, update_keys
from storage.uow import Database
from tests.support.botkit import BotHarness, start_bot, stop_bot
from tests.support.clock import Clock

GROUP = -100_500


@pytest.fixture
async def running(db: Database, clock: Clock) -> AsyncIterator[BotHarness]:
    """The bot taking updates from its queue, as ``samvirke run`` does (webhook or polling)."""
    harness = await start_bot(db, clock, concurrent_updates=8)
    await harness.app.start()
    yield harness
    await harness.app.stop()
    await stop_bot(harness)


async def feed(harness: BotHarness, updates: list[dict[str, Any]]) -> None:
    """Put the updates on the queue in this order, and wait until all are handled."""
    for data in updates:
        await harness.app.update_queue.put(Update.de_json(data, harness.app.bot))
    await asyncio.wait_for(harness.app.update_queue.join(), timeout=60)


def interleaved(sequences: list[list[dict[str, Any]]], seed: int) -> list[dict[str, Any]]:
    """All updates, each sequence's in its order, the sequences shuffled into each other."""
    randomly = random.Random(seed)
    pending = [list(s) for s in sequences if s]
    out = []
    while pending:
        sequence = randomly.choice(pending)
        out.append(sequence.pop(0))
        if not sequence:
            pending.remove(sequence)
    return out


async def test_interleaved_sign_ups_each_get_their_own_answers_in_order(
    running: BotHarness,
) -> None:
    chat, request = running.chat, running.request
    steps = ["/start", "Karen Holm", "{email}", "Aarhus Kommune"]
    # One person alone, one update at a time: what each step answers.
    alone = 500_000
    for step in steps:
        await chat.send(alone, step.format(email="alone@example.dk"))
    expected = [m.text for m in request.sent_to(alone)]
    assert expected[-1] == "Hvilken sektor arbejder du i?"  # Danish: the default language

    people = list(range(600_000, 600_040))
    updates = [
        [chat.message_update(p, step.format(email=f"p{p}@example.dk")) for step in steps]
        for p in people
    ]
    await feed(running, interleaved(updates, seed=16))

    for person in people:
        assert [m.text for m in request.sent_to(person)] == expected
        draft = running.app.user_data[person]["signup"]
        assert (draft["name"], draft["email"]) == ("Karen Holm", f"p{person}@example.dk")
        assert draft["organisation"] == "Aarhus Kommune"
    assert isinstance(running.app.update_processor, OrderedUpdateProcessor)
    assert running.app.update_processor.keys_in_flight == 0


@dataclass
class Timeline:
    """When each update entered and left a handler that takes a while (and stops there)."""

    spans: dict[int, tuple[float, float]] = field(default_factory=dict)
    running: int = 0
    most: int = 0

    async def record(self, update: Update, _context: Any) -> None:
        entered = time.perf_counter()
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        self.spans[update.update_id] = (entered, time.perf_counter())
        raise ApplicationHandlerStop


def in_order_without_overlap(spans: list[tuple[float, float]]) -> bool:
    return all(before[1] <= after[0] for before, after in itertools.pairwise(spans))


async def test_one_chat_and_one_person_never_overlap_while_different_ones_do(
    running: BotHarness,
) -> None:
    timeline = Timeline()
    running.app.add_handler(TypeHandler(Update, timeline.record), group=-10)
    chat = running.chat
    ids = iter(range(10_000, 20_000))
    sequences = []
    for person in range(700_000, 700_006):
        # Their private chat, a group they share with the others, and inline queries.
        sequence: list[dict[str, Any]] = []
        for n in range(6):
            if n % 3 == 0:
                data = chat.message_update(person, f"hello {n}")
            elif n % 3 == 1:
                data = chat.message_update(person, f"in the group {n}")
                data["message"]["chat"] = {"id": GROUP, "type": "supergroup", "title": "Midt"}
            else:
                query = {"id": "q", "from": chat.users[person], "query": "", "offset": ""}
                data = {"inline_query": query}
            sequence.append({**data, "update_id": next(ids)})
        sequences.append(sequence)
    updates = interleaved(sequences, seed=7)
    # Each chat's and each person's updates, in the order of the queue.
    by_key: dict[tuple[str, int], list[int]] = defaultdict(list)
    for data in updates:
        if "message" in data:
            by_key[("chat", data["message"]["chat"]["id"])].append(data["update_id"])
            by_key[("user", data["message"]["from"]["id"])].append(data["update_id"])
        else:
            by_key[("user", data["inline_query"]["from"]["id"])].append(data["update_id"])
    await feed(running, updates)

    assert len(timeline.spans) == len(updates)
    for key, update_ids in by_key.items():
        assert in_order_without_overlap([timeline.spans[u] for u in update_ids]), key
    assert 1 < timeline.most <= 8  # side by side, never more than SAMVIRKE_CONCURRENT_UPDATES
    assert isinstance(running.app.update_processor, OrderedUpdateProcessor)
    assert running.app.update_processor.keys_in_flight == 0


def test_keys_of_updates_with_and_without_a_chat() -> None:
    person = {"id": 42, "is_bot": False, "first_name": "Karen"}
    message = {"message_id": 1, "date": 0, "chat": {"id": GROUP, "type": "supergroup"}}
    in_group = Update.de_json({"update_id": 1, "message": {**message, "from": person}}, None)
    inline = {"id": "1", "from": person, "query": "", "offset": ""}
    assert update_keys(in_group) == (("chat", GROUP), ("user", 42))
    assert update_keys(Update.de_json({"update_id": 2, "inline_query": inline}, None)) == (
        ("user", 42),
    )
    assert update_keys(Update(update_id=3)) == ()  # neither chat nor person
    assert update_keys("an error, not an update") == ()
