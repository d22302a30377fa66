"""/privacy: what is stored, the export, erasure on request; and no personal data in logs."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import select, update
from telegram.ext import ConversationHandler

from bot.persistence import FORGET_JOB, forget_unfinished
from samvirke.runtime import bot_process_jobs
from scheduler.runner import Scheduler
from storage import bot_state
from storage.members import privacy as privacy_storage
from storage.models import BotConversation, BotUserData, EmailVerification, OutboxMessage
from storage.uow import Database
from templates.i18n import translator
from tests.support.botkit import (
    TOKEN,
    BotHarness,
    SentMessage,
    count_members,
    find_member,
    latest_code,
    member_row,
    outbox_rows,
    record_filenames,
    sign_up_member,
    snapshot,
    verify_member,
)

KAREN = 4001
LARS = 4002
EMAIL = "karen.aero@example.dk"

NOTHING_STORED = "We store nothing about you until you sign up and agree. Send /start to sign up."
CONFIRM_DELETE = (
    "Do you really want to delete your data? Your name, e-mail address, organisation and "
    "Telegram id are erased at once and cannot be restored. Numbers the network has already "
    "counted stay as numbers, without your name."
)
DELETED = (
    "Your data has been deleted. Thank you for being part of the network. "
    "Send /start if you want to join again."
)
KEPT = "Good: nothing was deleted."


@pytest.fixture
async def karen(bot: BotHarness, db: Database) -> int:
    """Karen Ærø signed up in English and has not typed her code yet; returns her member id."""
    await sign_up_member(
        bot,
        KAREN,
        first_name="Karen",
        last_name="Ærø",
        email=EMAIL,
        username="karenaero",
        organisation="Sociale Entreprenører i Danmark",
        sector="civil_society",
        region="Region Midtjylland",
    )
    member = await find_member(db, KAREN)
    return int(member.id)


async def open_privacy(bot: BotHarness, user: int = KAREN) -> SentMessage:
    [screen] = await bot.chat.send(user, "/privacy")
    return screen


async def ask_to_delete(bot: BotHarness) -> SentMessage:
    replies = await bot.chat.press(KAREN, await open_privacy(bot), "Delete my data")
    assert [m.text for m in replies] == [CONFIRM_DELETE]
    assert replies[-1].button_texts == ["Yes, delete everything", "No, keep my data"]
    return replies[-1]


async def user_data_rows(db: Database, telegram_user_id: int) -> list[BotUserData]:
    async with db.unit_of_work() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(BotUserData).where(BotUserData.telegram_user_id == telegram_user_id)
                )
            ).all()
        )


async def conversation_keys(db: Database) -> set[str]:
    async with db.unit_of_work() as uow:
        return set((await uow.session.scalars(select(BotConversation.key))).all())


# --- what is stored -----------------------------------------------------------------------


async def test_privacy_shows_what_is_stored_and_why(bot: BotHarness, karen: int) -> None:
    screen = await open_privacy(bot)
    paragraphs = screen.text.split("\n\n")
    assert paragraphs[0] == "Your data"
    assert paragraphs[1] == (
        "We store your name, e-mail address, organisation, sector, region, language, newsletter "
        "choice and Telegram id, when you agreed, and a log of changes to your account."
    )
    # What the export holds beyond the profile is named too: events and the timebank.
    assert paragraphs[2] == (
        "When you use the bot, we also store your answers to events (going, maybe, can't go, "
        "the waiting list) and your check-ins; in the timebank, your balance, your offers and "
        "requests and the exchanges of hours you were part of; and a record of the messages and "
        "e-mails we sent you."
    )
    assert paragraphs[3].startswith("Why: to invite you to the network's meetings")
    assert screen.button_texts == ["Export my data", "Delete my data", "Member directory"]


async def test_privacy_in_swedish(bot: BotHarness, db: Database) -> None:
    t = translator("sv")
    await sign_up_member(bot, KAREN, first_name="Åsa", language_code="sv", email="asa@example.se")
    screen = await open_privacy(bot)
    assert screen.text.split("\n\n")[0] == t("Your data")
    assert screen.button_texts == [
        t("Export my data"),
        t("Delete my data"),
        t("Member directory"),
    ]


async def test_privacy_from_someone_not_signed_up_says_nothing_is_stored(
    bot: BotHarness, db: Database
) -> None:
    bot.chat.user(KAREN, language_code="en")
    replies = await bot.chat.send(KAREN, "/privacy")
    assert [m.text for m in replies] == [NOTHING_STORED]
    assert replies[-1].buttons == []
    assert await count_members(db) == 0


# --- export ---------------------------------------------------------------------------------


async def test_export_sends_a_json_file_with_everything_stored(
    bot: BotHarness, db: Database, karen: int
) -> None:
    filenames = record_filenames(bot.request)
    replies = await bot.chat.press(KAREN, await open_privacy(bot), "Export my data")

    [file] = replies
    assert file.text == "All the data we store about you."
    assert filenames == ["samvirke-my-data.json"]
    assert bot.request.calls_of("sendDocument")[-1].params["chat_id"] == KAREN
    assert file.document is not None
    data = json.loads(file.document.decode("utf-8"))
    stored = data["member"]
    assert stored["name"] == "Karen Ærø"
    assert stored["email"] == EMAIL
    assert stored["organisation"] == "Sociale Entreprenører i Danmark"
    assert stored["sector"] == "civil_society"
    assert stored["region"] == "Region Midtjylland"
    assert stored["language"] == "en"
    assert stored["telegram_user_id"] == KAREN
    assert stored["telegram_username"] == "karenaero"
    assert dt.datetime.fromisoformat(stored["consent_at"]) == bot.clock.now
    assert stored["consent_version"]
    assert stored["pending_email"] == EMAIL
    [mail] = data["messages"]
    assert (mail["kind"], mail["to"], mail["channel"]) == ("verification", EMAIL, "email")
    actions = [entry["action"] for entry in data["history"]]
    assert actions[:2] == ["member.registered", "email.code_sent"]
    # The text is readable UTF-8, not escaped.
    assert "Ærø".encode() in file.document


async def test_export_does_not_contain_the_verification_code(
    bot: BotHarness, db: Database, karen: int
) -> None:
    code = await latest_code(db, karen)
    [file] = await bot.chat.press(KAREN, await open_privacy(bot), "Export my data")
    assert file.document is not None
    assert code not in file.document.decode("utf-8")


async def test_export_of_a_confirmed_member_shows_the_confirmation(
    bot: BotHarness, db: Database, karen: int
) -> None:
    await verify_member(bot, db, KAREN)
    [file] = await bot.chat.press(KAREN, await open_privacy(bot), "Export my data")
    assert file.document is not None
    stored = json.loads(file.document)["member"]
    assert dt.datetime.fromisoformat(stored["email_verified_at"]) == bot.clock.now
    assert stored["pending_email"] is None


# --- erasure --------------------------------------------------------------------------------


async def test_delete_asks_first_and_no_keeps_everything(
    bot: BotHarness, db: Database, karen: int
) -> None:
    confirm = await ask_to_delete(bot)

    replies = await bot.chat.press(KAREN, confirm, "No, keep my data")

    assert [m.text for m in replies] == [KEPT]
    member = await find_member(db, KAREN)
    assert (member.name, member.email, member.deleted_at) == ("Karen Ærø", EMAIL, None)
    assert len(await outbox_rows(db, karen)) == 1
    [reply] = await bot.chat.send(KAREN, "/start")
    assert reply.text.startswith("Welcome back, Karen Ærø!")


async def test_yes_erases_the_member_at_once(bot: BotHarness, db: Database, karen: int) -> None:
    # Another member, whose data must stay.
    await sign_up_member(bot, LARS, first_name="Lars", last_name="Holm", email="lars@example.dk")
    lars = await find_member(db, LARS)
    # Karen's earlier mail was sent; her second one is still queued.
    bot.clock.advance(minutes=2)
    await bot.chat.press(KAREN, bot.request.sent_to(KAREN)[-1], "Send the code again")
    first, queued = await outbox_rows(db, karen)
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == first.id).values(status="sent")
        )
        await uow.commit()
    # Bot state kept for both of them (scratch data, and a conversation left half-way).
    for user in (KAREN, LARS):
        bot.app.user_data[user]["scratch"] = {"name": "kept for a while"}
        await bot.chat.send(user, "hello")
        await bot_state.save_conversation(
            db.unit_of_work(), "profile", (user, user), "edit_text", bot.clock.now
        )
    await bot.app.update_persistence()
    assert len(await user_data_rows(db, KAREN)) == 1
    confirm = await ask_to_delete(bot)

    replies = await bot.chat.press(KAREN, confirm, "Yes, delete everything")
    await bot.app.update_persistence()

    assert [m.text for m in replies] == [DELETED]
    row = await member_row(db, karen)
    assert (row.name, row.email, row.organisation, row.telegram_user_id) == (None, None, None, None)
    assert row.telegram_username is None
    assert row.email_verified_at is None
    assert row.deleted_at == bot.clock.now
    assert await find_member(db, KAREN) is None
    remaining = await outbox_rows(db, karen)
    assert [r.id for r in remaining] == [first.id]
    assert remaining[0].payload == {"erased": True}
    assert queued.id not in {r.id for r in await outbox_rows(db)}
    async with db.unit_of_work() as uow:
        assert await uow.session.get(EmailVerification, karen) is None
    assert await user_data_rows(db, KAREN) == []
    assert f"[{KAREN}, {KAREN}]" not in await conversation_keys(db)
    assert not bot.app.user_data.get(KAREN)
    # Lars keeps everything.
    assert (await find_member(db, LARS)).name == "Lars Holm"
    assert len(await outbox_rows(db, lars.id)) == 1
    assert len(await user_data_rows(db, LARS)) == 1
    assert f"[{LARS}, {LARS}]" in await conversation_keys(db)


async def test_after_erasure_start_begins_a_fresh_sign_up(
    bot: BotHarness, db: Database, karen: int
) -> None:
    await bot.chat.press(KAREN, await ask_to_delete(bot), "Yes, delete everything")
    [reply] = await bot.chat.send(KAREN, "/privacy")
    assert reply.text == NOTHING_STORED

    replies = await bot.chat.send(KAREN, "/start")

    [reply] = replies
    assert reply.text.startswith("Welcome to Samvirke")
    assert reply.text.endswith("What is your name? Type it, or use the button.")
    # Signing up again makes a new member; the erased row stays anonymised.
    await sign_up_member(bot, KAREN, first_name="Karen", last_name="Ærø", email=EMAIL)
    again = await find_member(db, KAREN)
    assert again.id != karen
    assert again.name == "Karen Ærø"
    assert (await member_row(db, karen)).name is None
    assert await count_members(db) == 2


async def test_erasure_pressed_twice_does_no_harm(
    bot: BotHarness, db: Database, karen: int
) -> None:
    confirm = snapshot(await ask_to_delete(bot))
    await bot.chat.press(KAREN, confirm, "Yes, delete everything")
    replies = await bot.chat.press(KAREN, confirm, "Yes, delete everything")
    assert [m.text for m in replies] == ["There is nothing stored about you."]
    assert (await member_row(db, karen)).deleted_at is not None


async def test_the_erased_member_disappears_from_the_member_list(
    bot: BotHarness, db: Database, karen: int
) -> None:
    await bot.chat.press(KAREN, await ask_to_delete(bot), "Yes, delete everything")
    bot.chat.user(1, "Admin", None, language_code="en")
    replies = await bot.chat.send(1, "/members Karen")
    assert [m.text for m in replies] == ["No member matches “Karen”."]


# --- no personal data in the logs ------------------------------------------------------------


def logged_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


async def run_a_whole_membership(bot: BotHarness, db: Database) -> None:
    """Sign up, confirm, look at and change things, export, make an error, delete."""
    await sign_up_member(
        bot,
        KAREN,
        first_name="Karen",
        last_name="Ærø",
        email=EMAIL,
        username="karenaero",
        organisation="Sociale Entreprenører i Danmark",
    )
    await bot.chat.send(KAREN, "000000")
    await verify_member(bot, db, KAREN)
    [profile] = await bot.chat.send(KAREN, "/profile")
    await bot.chat.press(KAREN, profile, "pf:edit:organisation")
    await bot.chat.send(KAREN, "Social Innovation Skåne")
    await bot.chat.send(KAREN, "/members")  # not an organiser: a refusal, through the errors
    await bot.chat.press(KAREN, await open_privacy(bot), "Export my data")
    await bot.chat.press(KAREN, await ask_to_delete(bot), "Yes, delete everything")
    bot.request.blocked_chats.add(KAREN)  # then she blocks the bot: logged at INFO
    await bot.chat.send(KAREN, "/start")
    await bot.app.update_persistence()


async def test_no_personal_data_or_token_in_any_log_record_at_debug(
    bot: BotHarness, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await run_a_whole_membership(bot, db)
    messages = logged_messages(caplog)
    assert messages  # the check below looked at something
    leaks = {
        r.name
        for r in caplog.records
        for secret in ("Karen Ærø", EMAIL, "karenaero", TOKEN)
        if secret in r.getMessage()
    }
    assert leaks == set()


async def test_the_token_never_appears_in_any_log_record_at_debug(
    bot: BotHarness, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await run_a_whole_membership(bot, db)
    assert not [m for m in logged_messages(caplog) if TOKEN in m]
    assert not [m for m in logged_messages(caplog) if TOKEN.split(":")[1] in m]


async def test_errors_are_logged_without_personal_data(
    bot: BotHarness,
    db: Database,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="samvirke")
    await sign_up_member(
        bot, KAREN, first_name="Karen", last_name="Ærø", email=EMAIL, username="karenaero"
    )

    async def export_fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(privacy_storage, "export", export_fails)
    await bot.chat.press(KAREN, await open_privacy(bot), "Export my data")
    bot.request.blocked_chats.add(KAREN)
    await bot.chat.send(KAREN, "/profile")

    # (operator lines, "samvirke.activity", are ids only: the secrets check below covers them)
    ours = [
        r for r in caplog.records if r.name.startswith("samvirke") and r.name != "samvirke.activity"
    ]
    assert [r.levelno for r in ours] == [logging.ERROR, logging.INFO]
    assert ours[0].exc_info is not None  # the traceback is kept, for the developers
    for secret in ("Karen Ærø", EMAIL, "karenaero", TOKEN, str(KAREN)):
        assert secret not in caplog.text, secret


async def test_no_personal_data_or_token_in_logs_at_info(
    bot: BotHarness, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await run_a_whole_membership(bot, db)
    messages = logged_messages(caplog)
    assert "a chat has blocked the bot" in messages
    for secret in ("Karen Ærø", EMAIL, "karenaero", TOKEN):
        assert not [m for m in messages if secret in m], secret


async def test_privacy_in_the_middle_of_sign_up_tells_what_is_kept(bot: BotHarness) -> None:
    """Issue 17, item 19: after /start, a name and an e-mail, "we store nothing" was untrue."""
    bot.chat.user(KAREN, "Karen", "Jensen", language_code="en")
    replies = await bot.chat.send(KAREN, "/start")
    replies = await bot.chat.press(KAREN, replies[-1], "su:name")
    await bot.chat.send(KAREN, EMAIL)

    replies = await bot.chat.send(KAREN, "/privacy")

    assert replies[-1].text == (
        "You have started signing up. Until you finish, we keep what you have typed so far "
        "(such as your name and e-mail address), for at most a day. Send /cancel to delete it "
        "now."
    )


async def test_an_unfinished_sign_up_is_forgotten_by_the_running_bot_too(
    bot: BotHarness, db: Database
) -> None:
    """Issue 17, item 19: a day after the last answer, the job drops the draft from the database
    and from the running bot's memory (its user_data and its place in the sign-up), so that the
    next message is a fresh start and nothing is written back."""
    bot.chat.user(KAREN, "Karen", "Jensen", language_code="en")
    replies = await bot.chat.send(KAREN, "/start")
    replies = await bot.chat.press(KAREN, replies[-1], "su:name")
    [ask] = await bot.chat.send(KAREN, EMAIL)
    assert ask.text == "Which organisation are you part of? Type its name, or press Skip."
    await bot.app.update_persistence()
    assert await stored_drafts(db) == ({KAREN}, {"signup"})
    # Before the bot runs (it may not have loaded the drafts yet), the job leaves them alone.
    later = bot.clock.now + dt.timedelta(days=2)
    assert await forget_unfinished(bot.app, db, now=later) == 0
    assert await stored_drafts(db) == ({KAREN}, {"signup"})
    await bot.app.start()  # as samvirke run does
    try:
        jobs = bot_process_jobs(bot.services.settings, bot.app)
        scheduler = Scheduler(db, bot.services.settings, jobs=jobs, clock=bot.clock)
        bot.clock.advance(hours=23)
        await scheduler.run_due_jobs()
        assert bot.app.user_data.get(KAREN)  # less than a day: kept
        bot.clock.advance(hours=1, minutes=10)
        assert FORGET_JOB in await scheduler.run_due_jobs()

        # Right after the job, before any update from her: gone from memory and the database.
        assert not bot.app.user_data.get(KAREN)
        assert not [
            handler.name
            for group in bot.app.handlers.values()
            for handler in group
            if isinstance(handler, ConversationHandler)
            and handler._conversations.get((KAREN, KAREN))
        ]
        assert await stored_drafts(db) == (set(), set())

        # Her next message is not taken as the organisation: she is a stranger again.
        [reply] = await bot.chat.send(KAREN, "Teknologisk Institut")
        assert reply.text == "Hello! Send /start to sign up."
        [reply] = await bot.chat.send(KAREN, "/privacy")
        assert reply.text == NOTHING_STORED
        await bot.app.update_persistence()
        assert await stored_drafts(db) == (set(), set())
    finally:
        await bot.app.stop()


async def stored_drafts(db: Database) -> tuple[set[int], set[str]]:
    """Whose drafts the database holds, and the names of the conversations it holds."""
    async with db.unit_of_work() as uow:
        users = set((await uow.session.scalars(select(BotUserData.telegram_user_id))).all())
        names = set((await uow.session.scalars(select(BotConversation.name))).all())
        return users, names
