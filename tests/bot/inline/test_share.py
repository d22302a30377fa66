"""Inline mode through the real Application: ``inline_query`` lists matching upcoming events
(the member's region first, an empty query the next ones), personal and briefly cached; the
chosen card carries the deep link and the event page; ``chosen_inline_result`` is taken
quietly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.uow import Database
from tests.support.botkit import BOT_USERNAME, BotHarness, Clock, start_bot, stop_bot
from tests.support.events_kit import NOW, add_member, going, publish, region_id

PUBLIC = "https://samvirke.example.org"
MALMO = 501


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(NOW), public_url=PUBLIC)
    harness.chat.user(MALMO, first_name="Sven", language_code="sv")
    harness.chat.user(777, first_name="Guest", language_code="en")
    yield harness
    await stop_bot(harness)


async def ask(bot: BotHarness, user_id: int, words: str) -> dict[str, Any]:
    before = len(bot.request.calls)
    replies = await bot.chat.send_update(
        "inline_query", {"id": f"q{before}", "from": user_id, "query": words, "offset": ""}
    )
    assert replies == []  # inline mode posts nothing by itself
    [call] = [c for c in bot.request.calls[before:] if c.method == "answerInlineQuery"]
    params = dict(call.params)
    if isinstance(params["results"], str):
        params["results"] = json.loads(params["results"])
    return params


async def test_inline_mode_lists_upcoming_events_region_first(
    bot: BotHarness, db: Database
) -> None:
    aarhus = await publish(db, title="Netværksmøde i Aarhus")
    skane = await publish(
        db,
        title="Nätverksträff i Malmö",
        location="Malmö stadsbibliotek",
        region_id=await region_id(db, "skane"),
    )
    late = await publish(db, title="Online for alle", region_id=None, location=None,
                         online_url="https://meet.example.org/x")  # fmt: skip
    member = await add_member(db, MALMO, region="skane", language="sv")
    await going(db, member, skane.id)

    answer = await ask(bot, MALMO, "")
    assert answer["is_personal"] is True
    assert answer["cache_time"] == 30
    ids = [r["id"] for r in answer["results"]]
    # Skåne's and the whole network's before Midtjylland's (each soonest first).
    assert ids == [f"event:{skane.id}", f"event:{late.id}", f"event:{aarhus.id}"]
    [first, *_] = answer["results"]
    assert first["title"] == "Nätverksträff i Malmö"
    assert "Malmö stadsbibliotek" in first["description"]
    text = first["input_message_content"]["message_text"]
    assert text.startswith("📅 Nätverksträff i Malmö")
    assert "Kommer: 1" in text  # counts only; nobody's own answer
    assert "✅" not in text
    assert first["reply_markup"]["inline_keyboard"] == [
        [
            {"text": "Anmäl dig / svara i Telegram",
             "url": f"https://t.me/{BOT_USERNAME}?start=event_{skane.id}"},
            {"text": "Evenemangets sida", "url": f"{PUBLIC}/events/{skane.id}"},
        ]
    ]  # fmt: skip

    found = await ask(bot, 777, "aarhus")  # not signed up: still works, in English
    assert [r["id"] for r in found["results"]] == [f"event:{aarhus.id}"]
    assert "Sign up / answer in Telegram" in json.dumps(found["results"])
    assert (await ask(bot, 777, "nowhere at all"))["results"] == []
    odd = await ask(bot, 777, "<b>%_\\' OR 1=1 --" + "x" * 300)
    assert odd["results"] == []


async def test_a_chosen_result_is_taken_quietly(bot: BotHarness, db: Database) -> None:
    event = await publish(db)
    before = len(bot.request.calls)
    for result_id in (f"event:{event.id}", "forged:x", "event:abc"):
        replies = await bot.chat.send_update(
            "chosen_inline_result",
            {"result_id": result_id, "from": 777, "query": "", "inline_message_id": "AAA"},
        )
        assert replies == []
    assert bot.request.calls[before:] == []  # nothing sent, no error shown anywhere
