"""/people through the real Application: consent first, the card, topics, search and pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from storage.uow import Database
from tests.support.botkit import (
    BotHarness,
    Clock,
    asked_again,
    sign_up_member,
    start_bot,
    stop_bot,
)
from tests.support.people_kit import forged, member

KAREN = 7001
LARS = 7002
INGRID = 7003
OLE = 7004


@pytest.fixture
async def bot(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now))
    yield harness
    await stop_bot(harness)


async def test_the_first_people_explains_and_asks_and_no_hides(
    bot: BotHarness, db: Database
) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    await member(bot, db, LARS, "Lars", "Holm", listed=None, sector="public")
    [question] = await bot.chat.send(LARS, "/people")
    assert "Do you want to be listed in the directory?" in question.text
    assert "never shown" in question.text
    assert question.button_texts == ["Yes, list me", "No, thank you"]
    replies = await bot.chat.press(LARS, question, "No, thank you")
    # One message: the answer taken, in the directory's menu.
    assert [m.text for m in replies] == [
        "The member directory\n\nAll right: you are not listed, and nobody can find you.\n\n"
        "Search by words: send /people followed by the words, e.g. /people housing aarhus."
    ]
    assert "My directory card" in replies[0].button_texts
    # Karen searches: Lars, who said no, is not there.
    menu = (await bot.chat.send(KAREN, "/people"))[-1]
    [found] = await bot.chat.press(KAREN, menu, "Everyone")
    assert found.text == "Nobody in the directory matches that yet."
    # Lars says yes on his card: found at once; then hides again: gone at once.
    card = (await bot.chat.press(LARS, replies[0], "My directory card"))[-1]
    await bot.chat.press(LARS, card, "List me in the directory")
    [found] = await bot.chat.press(KAREN, menu, "Everyone")
    assert "Lars Holm" in found.text
    assert "larsh" not in found.text
    assert "@example.dk" not in found.text
    card = (await bot.chat.press(LARS, replies[0], "My directory card"))[-1]
    [hidden, _card] = await bot.chat.press(LARS, card, "Hide me from the directory")
    assert hidden.text == "Done: you are hidden from the directory and every list."
    [found] = await bot.chat.press(KAREN, menu, "Everyone")
    assert found.text == "Nobody in the directory matches that yet."


async def test_strangers_and_unverified_members_are_told_what_to_do(
    bot: BotHarness, db: Database
) -> None:
    bot.chat.user(OLE, "Ole", "Dahl", language_code="en")
    [reply] = await bot.chat.send(OLE, "/people")
    assert reply.text == "Please sign up first: send /start."
    await member(bot, db, KAREN, "Karen", "Jensen", listed=None, verified=False)
    [reply] = await bot.chat.send(KAREN, "/people")
    assert reply.text.startswith("The member directory is for members who have confirmed")
    [reply] = await bot.chat.press(KAREN, forged(KAREN, "pp:find:all"), "x")
    assert reply.text.startswith("The member directory is for members who have confirmed")


async def test_the_card_shows_the_lines_and_topics_but_never_the_email(
    bot: BotHarness, db: Database
) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    lars = await member(bot, db, LARS, "Lars", "Holm", sector="public")
    menu = (await bot.chat.send(LARS, "/people"))[-1]
    card = (await bot.chat.press(LARS, menu, "My directory card"))[-1]
    [question] = await bot.chat.press(LARS, card, "Change “I can help with”")
    assert question.text.startswith("What can you help with?")
    replies = await bot.chat.send(LARS, "x" * 201)
    assert [m.text for m in replies] == [
        asked_again("That is too long: at most 200 characters, please.", question.text)
    ]
    replies = await bot.chat.send(LARS, "Procurement with social clauses")
    assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    card = replies[-1]
    await bot.chat.press(LARS, card, "Change “I am looking for”")
    card = (await bot.chat.send(LARS, "A <b>partner</b> in civil society"))[-1]
    topics = (await bot.chat.press(LARS, card, "Choose topics"))[-1]
    for name in ["Employment", "Inclusion", "Health", "Housing", "Funding"]:
        topics = (await bot.chat.press(LARS, topics, name))[-1]
    assert "✓ Funding" in topics.button_texts
    [refused] = await bot.chat.press(LARS, topics, "Elderly people")
    assert refused.text == "You can choose at most 5 topics. Remove one first."
    topics = (await bot.chat.press(LARS, topics, "✓ Funding"))[-1]
    assert "Funding" in topics.button_texts
    menu = (await bot.chat.send(KAREN, "/people"))[-1]
    [found] = await bot.chat.press(KAREN, menu, "Everyone")
    assert "I can help with: Procurement with social clauses" in found.text
    assert "I am looking for: A &lt;b&gt;partner&lt;/b&gt; in civil society" in found.text
    assert "Topics: " in found.text
    assert "Housing" in found.text
    assert "Funding" not in found.text
    assert "@example.dk" not in found.text
    assert found.button(f"pp:ask:{lars.id}")["text"] == "Ask Lars Holm for an introduction"
    # A plain member is not offered the organisers' "Introduce … to …".
    assert not any(b.startswith("Introduce") for b in found.button_texts)


async def test_search_by_sector_region_topic_and_folded_words(
    bot: BotHarness, db: Database
) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen", region="Region Skåne")
    await member(bot, db, LARS, "Lars", "Holm", sector="public", organisation="Ærø Kommune")
    await member(
        bot,
        db,
        INGRID,
        "Ingrid",
        "Berg",
        sector="academia",
        organisation="Lunds universitet",
        region="Region Skåne",
    )
    [found] = await bot.chat.send(KAREN, "/people aeroe")
    assert "Lars Holm" in found.text
    assert "Ingrid" not in found.text
    [found] = await bot.chat.send(KAREN, "/people LUNDS Universitet")
    assert "Ingrid Berg" in found.text
    assert "Lars" not in found.text
    [found] = await bot.chat.send(KAREN, "/people nobody-has-this")
    assert found.text == "Nobody in the directory matches that yet."
    menu = (await bot.chat.send(KAREN, "/people"))[-1]
    sectors = (await bot.chat.press(KAREN, menu, "By sector"))[-1]
    [found] = await bot.chat.press(KAREN, sectors, "University or research")
    assert "Ingrid Berg" in found.text
    assert "Lars" not in found.text
    regions = (await bot.chat.press(KAREN, menu, "By region"))[-1]
    [found] = await bot.chat.press(KAREN, regions, "Region Midtjylland")
    assert "Lars Holm" in found.text
    assert "Ingrid" not in found.text
    # Everyone: the searcher's own region (Skåne) first.
    [found] = await bot.chat.press(KAREN, menu, "Everyone")
    assert found.text.index("Ingrid Berg") < found.text.index("Lars Holm")
    # By topic: only those who chose it.
    card = (
        await bot.chat.press(LARS, (await bot.chat.send(LARS, "/people"))[-1], "My directory card")
    )[-1]
    topics = (await bot.chat.press(LARS, card, "Choose topics"))[-1]
    await bot.chat.press(LARS, topics, "Housing")
    by_topic = (await bot.chat.press(KAREN, menu, "By topic"))[-1]
    [found] = await bot.chat.press(KAREN, by_topic, "Housing")
    assert "Lars Holm" in found.text
    assert "Ingrid" not in found.text


async def test_results_are_paged(bot: BotHarness, db: Database) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    for n in range(6):
        await member(bot, db, 7100 + n, f"Member{n}", "Test")
    menu = (await bot.chat.send(KAREN, "/people"))[-1]
    [first] = await bot.chat.press(KAREN, menu, "Everyone")
    assert first.text.startswith("6 members found (page 1 of 2)")
    assert first.text.count("Test</b>") == 5
    [second] = await bot.chat.press(KAREN, first, "Next ›")
    assert second.text.startswith("6 members found (page 2 of 2)")
    assert second.text.count("Test</b>") == 1
    assert "‹ Previous" in second.button_texts
    assert "Next ›" not in second.button_texts


async def test_forged_directory_buttons_change_nothing(bot: BotHarness, db: Database) -> None:
    await member(bot, db, KAREN, "Karen", "Jensen")
    for data in ["pp:tp:99999", "pp:fs:nonsense"]:
        replies = await bot.chat.press(KAREN, forged(KAREN, data), "x")
        assert replies, data
        assert "Sorry, something went wrong" not in replies[0].text
    for data in ["pp:tp:9999999999", "pp:fr:9999999999", "pp:tp:\u0663"]:  # no such id; "٣"
        assert await bot.chat.press(KAREN, forged(KAREN, data), "x") == [], data
        answer = bot.request.calls_of("answerCallbackQuery")[-1].params
        assert answer.get("text") == "This button is no longer active.", data
    [reply] = await bot.chat.press(KAREN, forged(KAREN, "pp:tp:99999"), "x")
    assert reply.text == "That topic is no longer on the list."


async def test_administrators_keep_the_topics(bot: BotHarness, db: Database) -> None:
    from tests.support.botkit import ADMIN_ID

    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    await member(bot, db, KAREN, "Karen", "Jensen")
    [refused] = await bot.chat.send(KAREN, "/topics")
    assert refused.text == "Sorry, that is for administrators."
    replies = await bot.chat.send(ADMIN_ID, "/topics add Rural areas | Landdistrikter | Landsbygd")
    assert replies[0].text == "Added: Rural areas"
    listing = replies[-1]
    assert "Rural areas / Landdistrikter / Landsbygd" in listing.button_texts
    [twice] = await bot.chat.send(ADMIN_ID, "/topics add Rural areas")
    assert twice.text == "That topic is on the list already."
    listing = (await bot.chat.press(ADMIN_ID, listing, "Rural areas / Landdistrikter / Landsbygd"))[
        -1
    ]
    assert "✗ Rural areas / Landdistrikter / Landsbygd" in listing.button_texts
    card = (
        await bot.chat.press(
            KAREN, (await bot.chat.send(KAREN, "/people"))[-1], "My directory card"
        )
    )[-1]
    topics = (await bot.chat.press(KAREN, card, "Choose topics"))[-1]
    assert "Rural areas" not in topics.button_texts
