"""Membership by invitation or approval, through the real Application."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage.members import profiles as members
from storage.models import Admission, Invitation, Role
from storage.permissions import Actor
from storage.uow import Database
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    Clock,
    SentMessage,
    count_members,
    find_member,
    sign_up_member,
    start_bot,
    stop_bot,
    verify_member,
)
from tests.support.people_kit import delivered, forged, rows

STRANGER = 7501
SECOND = 7502
KAREN = 7503
ADMIN = Actor(telegram_user_id=ADMIN_ID, member_id=None, is_admin=True)
LINK = "https://t.me/samvirke_test_bot?start=join_"
INVALID_LINK = (
    "That invitation link is not valid. Please ask the person who invited you for a new one."
)


async def join(
    bot: BotHarness, user_id: int, start: str, language: str = "en"
) -> list[SentMessage]:
    """Sign up from ``start`` (e.g. "/start join_abc"); the replies to the consent, or the
    refusal if sign-up does not begin."""
    chat = bot.chat
    chat.user(user_id, "Sven", "Nilsson", language_code=language)
    replies = await chat.send(user_id, start)
    if not replies or "su:name" not in [b.get("callback_data") for b in replies[-1].buttons]:
        return replies
    replies = await chat.press(user_id, replies[-1], "su:name")
    replies = await chat.send(user_id, f"sven{user_id}@example.se")
    replies = await chat.press(user_id, replies[-1], "su:org:skip")
    replies = await chat.press(user_id, replies[-1], "su:sector:business")
    replies = await chat.press(user_id, replies[-1], "Region Midtjylland")
    return await chat.press(user_id, replies[-1], "su:consent:yes")


async def make_invitation(bot: BotHarness, user_id: int, people: str, days: str) -> str:
    [question] = await bot.chat.send(user_id, "/invite")
    [validity] = await bot.chat.press(user_id, question, people)
    [photo] = await bot.chat.press(user_id, validity, days)
    assert photo.document is not None
    assert photo.document.startswith(b"\x89PNG")  # the QR image
    link = photo.text.split("\n")[-1]
    assert link.startswith(LINK)
    return link.removeprefix("https://t.me/samvirke_test_bot?start=")


@pytest.fixture
async def invite_only(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now), membership="invite")
    yield harness
    await stop_bot(harness)


@pytest.fixture
async def approval(db: Database, now: dt.datetime) -> AsyncIterator[BotHarness]:
    harness = await start_bot(db, Clock(now), membership="approval")
    yield harness
    await stop_bot(harness)


async def test_an_invitation_only_network_refuses_strangers_and_admits_the_invited(
    invite_only: BotHarness, db: Database
) -> None:
    bot = invite_only
    [refused] = await join(bot, STRANGER, "/start", language="sv")
    assert refused.text.startswith("Det här nätverket är bara för inbjudna.")
    [refused] = await join(bot, STRANGER, "/start join_nonsense-code", language="en")
    assert refused.text.startswith("That invitation link is not valid.")
    assert await count_members(db) == 0
    # The administrator signs up without one and invites one person.
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    payload = await make_invitation(bot, ADMIN_ID, "For 1 person", "7 days")
    replies = await join(bot, STRANGER, f"/start {payload}")
    assert any("code" in r.text for r in replies)
    stranger = await find_member(db, STRANGER)
    admin = await find_member(db, ADMIN_ID)
    assert stranger is not None
    assert admin is not None
    async with db.unit_of_work() as uow:
        admission = await uow.session.get(Admission, stranger.id)
        assert admission is not None
        assert admission.invited_by_member_id == admin.id
        assert admission.status == "approved"
    # Used up for the next person.
    [refused] = await join(bot, SECOND, f"/start {payload}")
    assert refused.text.startswith("That invitation link has been used up.")


async def test_expired_and_revoked_invitations_get_a_clear_message(
    invite_only: BotHarness, db: Database
) -> None:
    bot = invite_only
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    short = await make_invitation(bot, ADMIN_ID, "For 5 people", "1 day")
    revoked = await make_invitation(bot, ADMIN_ID, "For 20 people", "30 days")
    [question] = await bot.chat.send(ADMIN_ID, "/invite")
    [listing] = await bot.chat.press(ADMIN_ID, question, "My open invitations")
    assert listing.text.count(LINK) == 2
    [done] = await bot.chat.press(ADMIN_ID, listing, "Revoke 2")
    assert done.text == "Revoked: that link no longer works."
    [refused] = await join(bot, STRANGER, f"/start {revoked}")
    assert refused.text.startswith("That invitation link was withdrawn.")
    bot.clock.advance(days=1, seconds=1)
    [refused] = await join(bot, STRANGER, f"/start {short}")
    assert refused.text.startswith("That invitation link has expired.")
    assert await count_members(db) == 1


async def test_who_may_invite(db: Database, now: dt.datetime) -> None:
    bot = await start_bot(db, Clock(now))
    try:
        await sign_up_member(bot, KAREN)
        [refused] = await bot.chat.send(KAREN, "/invite")
        assert refused.text == "Sorry, that is for the network's organisers."
        [refused] = await bot.chat.press(KAREN, forged(KAREN, "pp:inv:1:7"), "x")
        assert refused.text == "Sorry, that is for the network's organisers."
        [refused] = await bot.chat.press(KAREN, forged(KAREN, "pp:rv:1"), "x")
        assert refused.text == INVALID_LINK
    finally:
        await stop_bot(bot)
    bot = await start_bot(db, Clock(now), members_can_invite=True)
    try:
        payload = await make_invitation(bot, KAREN, "For 1 person", "7 days")
        assert payload.startswith("join_")
        async with db.unit_of_work() as uow:
            [invitation] = (await uow.session.scalars(select(Invitation))).all()
            assert invitation.max_uses == 1
        [refused] = await bot.chat.press(KAREN, forged(KAREN, "pp:inv:999:7"), "x")
        assert refused.text == "An invitation is for 1 to 500 people and valid for 1 to 365 days."
    finally:
        await stop_bot(bot)


async def test_approval_first_answer_wins_and_the_waiting_member_is_held(
    approval: BotHarness, db: Database
) -> None:
    bot = approval
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    await sign_up_member(bot, KAREN, first_name="Karen", last_name="Jensen")
    karen = await find_member(db, KAREN)
    assert karen is not None
    region = karen.region_id
    await members.set_role(
        db.unit_of_work(), ADMIN, karen.id, Role.ORGANISER, region_id=region, now=bot.clock.now
    )
    replies = await join(bot, STRANGER, "/start")
    assert "An organiser will look at your sign-up" in replies[0].text
    stranger = await find_member(db, STRANGER)
    assert stranger is not None
    # Held: only /help, /privacy and /cancel.
    [held] = await bot.chat.send(STRANGER, "/events")
    assert held.text.startswith("Your sign-up is waiting for approval by an organiser.")
    [held] = await bot.chat.send(STRANGER, "/people")
    assert held.text.startswith("Your sign-up is waiting for approval")
    assert (await bot.chat.send(STRANGER, "/help"))[0].text
    [confirmed] = await verify_member(bot, db, STRANGER)  # the e-mail code still works
    assert "confirmed" in confirmed.text
    assert not (await bot.chat.send(STRANGER, "/privacy"))[0].text.startswith(
        "Your sign-up is waiting"
    )
    # The region's organiser gets the card; a plain member's forged approval changes nothing.
    [card] = await rows(db, f"pp:approve:{stranger.id}:")
    assert card.member_id == karen.id
    assert "Sven Nilsson" in card.payload["text"]
    [refused] = await bot.chat.press(STRANGER, forged(STRANGER, f"pp:ap:{stranger.id}"), "x")
    assert refused.text.startswith("Your sign-up is waiting")
    [approved] = await bot.chat.press(KAREN, delivered(card), "Approve")
    assert approved.text == "Approved: Sven Nilsson is a member now and has been told."
    [told] = await rows(db, "pp:admission:", stranger.id)
    assert told.payload["text"].startswith("Welcome: your membership has been approved.")
    [late] = await bot.chat.press(ADMIN_ID, forged(ADMIN_ID, f"pp:dn:{stranger.id}"), "x")
    assert late.text == "Karen Jensen has already approved Sven Nilsson."
    [events] = await bot.chat.send(STRANGER, "/events")
    assert not events.text.startswith("Your sign-up is waiting")


async def test_approval_decline_with_a_reason(approval: BotHarness, db: Database) -> None:
    bot = approval
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    await join(bot, STRANGER, "/start")
    stranger = await find_member(db, STRANGER)
    assert stranger is not None
    [card] = await rows(db, "pp:approve:")  # no organiser in the region: the administrator
    assert card.payload["chat_id"] == ADMIN_ID
    [question] = await bot.chat.press(ADMIN_ID, delivered(card), "Decline")
    assert question.text.startswith("Type a reason for the person")
    [declined] = await bot.chat.send(ADMIN_ID, "The academy is for members of the five sectors.")
    assert declined.text == "Declined: Sven Nilsson has been told."
    [told] = await rows(db, "pp:admission:", stranger.id)
    assert (
        "The reason given: The academy is for members of the five sectors." in told.payload["text"]
    )
    [held] = await bot.chat.send(STRANGER, "/events")
    assert held.text.startswith("Your membership was not approved.")


async def test_administrators_see_who_invited_and_approved_whom(
    invite_only: BotHarness, db: Database
) -> None:
    import csv
    import io

    bot = invite_only
    await sign_up_member(bot, ADMIN_ID, first_name="Ada", last_name="Admin")
    payload = await make_invitation(bot, ADMIN_ID, "For 5 people", "7 days")
    await join(bot, STRANGER, f"/start {payload}")
    replies = await bot.chat.send(ADMIN_ID, "/members")
    document = replies[-1].document
    assert document is not None
    table = list(csv.reader(io.StringIO(document.decode("utf-8-sig"))))
    assert table[0][-2:] == ["Invited by", "Approved by"]
    by_name = {row[0]: row for row in table[1:]}
    assert by_name["Sven Nilsson"][-2:] == ["Ada Admin", ""]
    [found] = await bot.chat.send(ADMIN_ID, "/members Sven")
    await bot.chat.press(ADMIN_ID, found, found.buttons[0]["callback_data"])
    card = bot.request.messages[found.message_id]  # the card replaces the choice
    assert "invited by Ada Admin" in card.text
    # The stranger's export names the inviter; the inviter's lists the invitation (counts only).
    privacy = (await bot.chat.send(STRANGER, "/privacy"))[-1]
    [file] = await bot.chat.press(STRANGER, privacy, "Export my data")
    assert file.document is not None
    import json

    assert json.loads(file.document.decode("utf-8"))["directory"]["invited_by"] == "Ada Admin"
    privacy = (await bot.chat.send(ADMIN_ID, "/privacy"))[-1]
    [file] = await bot.chat.press(ADMIN_ID, privacy, "Export my data")
    assert file.document is not None
    [made] = json.loads(file.document.decode("utf-8"))["directory"]["invitations_made"]
    assert made["uses"] == 1
    assert made["max_uses"] == 5
    # The inviter erases their data: the invitation keeps only its counts and stops working.
    confirm = (await bot.chat.press(ADMIN_ID, privacy, "Delete my data"))[-1]
    await bot.chat.press(ADMIN_ID, confirm, "Yes, delete everything")
    async with db.unit_of_work() as uow:
        [invitation] = (await uow.session.scalars(select(Invitation))).all()
        assert invitation.created_by_member_id is None
        assert invitation.uses == 1
        assert invitation.revoked_at is not None
        admission = await uow.session.scalar(
            select(Admission).where(Admission.invitation_id == invitation.id)
        )
        assert admission is not None
        assert admission.invited_by_member_id is None
