"""With a public URL, the organiser's share text after publishing gives the event's page beside
the deep link; without one, only the deep link."""

from __future__ import annotations

import pytest

from storage.uow import Database
from tests.bot.events.test_organiser import ANNE, draft_until_preview, saved_events
from tests.support.botkit import (
    BOT_USERNAME,
    Clock,
    sign_up_member,
    start_bot,
    stop_bot,
    verify_member,
)
from tests.support.events_kit import NOW


@pytest.mark.parametrize("public_url", ["https://samvirke.example.org/", None])
async def test_publishing_shares_the_deep_link_and_the_page(
    db: Database, public_url: str | None
) -> None:
    extra = {"public_url": public_url} if public_url else {}
    bot = await start_bot(db, Clock(NOW), **extra)
    try:
        await sign_up_member(bot, ANNE, first_name="Anne", email="anne@example.dk")
        await verify_member(bot, db, ANNE)
        preview = await draft_until_preview(bot)
        [published, _card] = await bot.chat.press(ANNE, preview, "Publish")
        [event] = await saved_events(db)
        lines = published.text.splitlines()
        assert lines[1] == (
            f"Share this link to invite people: https://t.me/{BOT_USERNAME}?start=event_{event.id}"
        )
        if public_url:
            assert lines[2] == (
                "Its page for everyone, also outside Telegram: "
                f"https://samvirke.example.org/events/{event.id}"
            )
        else:
            assert len(lines) == 2
    finally:
        await stop_bot(bot)
