"""Redrawing a message into the state it already has is not an error (issue 17 item 7): a
double tap gets a calm answer, never the apology."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.uow import Database
from tests.support.botkit import (
    ApiCall,
    BotHarness,
    Clock,
    sign_up_member,
    snapshot,
    start_bot,
    stop_bot,
)

KAREN = 3201
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


@pytest.fixture
async def bot(
    db: Database, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    answer = harness.request.do_request

    async def like_telegram(url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        """Telegram refuses an edit that changes nothing with 400 "message is not modified"."""
        params = dict(request_data.parameters) if request_data is not None else {}
        message = harness.request.messages.get(int(params.get("message_id", 0)))
        name = url.rsplit("/", 1)[-1]
        unchanged = message is not None and (
            (
                name == "editMessageReplyMarkup"
                and not message.buttons
                and not params.get("reply_markup")
            )
            or (name == "editMessageText" and message.text == params.get("text"))
        )
        if unchanged:
            harness.request.calls.append(ApiCall(name, url, params, {}))
            body = {"ok": False, "error_code": 400, "description": NOT_MODIFIED}
            return 400, json.dumps(body).encode()
        return await answer(url, method, request_data, **kw)

    monkeypatch.setattr(harness.request, "do_request", like_telegram)
    await sign_up_member(harness, KAREN, email="karen@example.dk")
    yield harness
    await stop_bot(harness)


async def test_a_double_tap_that_removes_buttons_twice_gets_no_apology(bot: BotHarness) -> None:
    [privacy] = await bot.chat.send(KAREN, "/privacy")
    [question] = await bot.chat.press(KAREN, privacy, "pv:delete")
    as_seen = snapshot(question)  # both taps come from the message as the member saw it

    edits_before = len(bot.request.calls_of("editMessageReplyMarkup"))
    first = await bot.chat.press(KAREN, as_seen, "pv:delete:no")
    second = await bot.chat.press(KAREN, as_seen, "pv:delete:no")

    assert [m.text for m in first] == ["Good: nothing was deleted."]
    assert APOLOGY not in [m.text for m in second]
    # Both taps took the buttons off; the second was "not modified" on Telegram's side.
    assert len(bot.request.calls_of("editMessageReplyMarkup")) == edits_before + 2


async def test_choosing_the_setting_already_shown_is_calm(bot: BotHarness) -> None:
    [settings] = await bot.chat.send(KAREN, "/settings")
    first = await bot.chat.press(KAREN, settings, "st:lang:en")  # English already
    assert APOLOGY not in [m.text for m in first]
    answers = bot.request.calls_of("answerCallbackQuery")
    assert answers[-1].params.get("text") == "Saved."
