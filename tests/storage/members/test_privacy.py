"""Data-protection requests: the export of everything stored about a member, and erasure."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import bot_state, outbox
from storage.errors import NotFound
from storage.members import privacy, verification
from storage.members import profiles as members
from storage.models import (
    AuditEntry,
    BotConversation,
    BotUserData,
    EmailVerification,
    Member,
    OutboxMessage,
    OutboxStatus,
)
from storage.permissions import Actor
from storage.uow import Database
from tests.support.regions import region_id

ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)
TELEGRAM_ID = 4242


async def sign_up(
    db: Database, now: dt.datetime, telegram_user_id: int = TELEGRAM_ID, **fields: Any
) -> members.MemberView:
    values: dict[str, Any] = {
        "telegram_username": "karen_b",
        "name": "Karen Blixen",
        "email": "karen@example.dk",
        "organisation": "Rungstedlund",
        "sector": "foundation",
        "region_id": await region_id(db, "hovedstaden"),
        "language": "en",
    }
    values.update(fields)
    registration = await members.register(
        db.unit_of_work(), telegram_user_id=telegram_user_id, now=now, **values
    )
    return registration.member


async def latest_code(db: Database, member_id: int) -> str:
    async with db.unit_of_work() as uow:
        message = await uow.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member_id, OutboxMessage.key.like("verify:%"))
            .order_by(OutboxMessage.id.desc())
        )
        assert message is not None
        code = message.payload["context"]["code"]
    assert isinstance(code, str)
    return code


async def a_full_record(db: Database, now: dt.datetime) -> members.MemberView:
    """A member with a verified address, a pending new one, a role, mail sent and unsent."""
    member = await sign_up(db, now)
    await verification.check(
        db.unit_of_work(), member.id, await latest_code(db, member.id), now=now
    )
    await members.set_role(
        db.unit_of_work(),
        ADMIN,
        member.id,
        "organiser",
        region_id=await region_id(db, "hovedstaden"),
        now=now,
    )
    # The verification mail went out; an invite is still queued; a digest is waiting to retry.
    (sent,) = await outbox.claim(
        db.unit_of_work(), channel=outbox.EMAIL, limit=10, now=now, lease=dt.timedelta(minutes=5)
    )
    await outbox.mark_sent(db.unit_of_work(), sent, now=now)
    async with db.unit_of_work() as uow:
        for key, status in (("invite:1:%d:1", OutboxStatus.QUEUED), ("digest:%d:48", "retry")):
            await outbox.enqueue(
                uow.session,
                key=key % member.id,
                channel=outbox.EMAIL,
                member_id=member.id,
                payload={"template": key.split(":")[0], "to_email": "karen@example.dk"},
                now=now,
            )
            if status == "retry":
                message = await uow.session.scalar(
                    select(OutboxMessage).where(OutboxMessage.key == key % member.id)
                )
                assert message is not None
                message.status = OutboxStatus.RETRY
                message.last_error = "421 mailbox busy for karen@example.dk"
        await outbox.enqueue(
            uow.session,
            key=f"reminder:{member.id}",
            channel=outbox.TELEGRAM,
            member_id=member.id,
            payload={"chat_id": TELEGRAM_ID, "text": "Hi Karen"},
            now=now,
        )
        await uow.commit()
    later = now + dt.timedelta(days=2)
    await members.update_profile(
        db.unit_of_work(), member.id, "email", "karen@isak-dinesen.dk", now=later
    )
    return await members.get(db.unit_of_work(), member.id)


async def test_export_holds_everything_stored(db: Database, now: dt.datetime) -> None:
    member = await a_full_record(db, now)
    exported_at = now + dt.timedelta(days=3)
    data = await privacy.export(db.unit_of_work(), member.id, now=exported_at)
    json.dumps(data)  # JSON-ready as it is

    assert data["exported_at"] == exported_at.isoformat()
    assert data["member"] == {
        "id": member.id,
        "telegram_user_id": TELEGRAM_ID,
        "telegram_username": "karen_b",
        "name": "Karen Blixen",
        "email": "karen@example.dk",
        "email_verified_at": now.isoformat(),
        "pending_email": "karen@isak-dinesen.dk",
        "organisation": "Rungstedlund",
        "sector": "foundation",
        "region": "Region Hovedstaden",
        "language": "en",
        "digest_frequency": "weekly",
        "role": "organiser",
        "organiser_region": "Region Hovedstaden",
        "consent_at": now.isoformat(),
        "consent_version": members.CONSENT_VERSION,
        "created_at": now.isoformat(),
        "updated_at": (now + dt.timedelta(days=2)).isoformat(),
    }
    # Every field /privacy says is stored is in the export.
    for field in privacy.STORED_FIELDS:
        assert any(key.startswith(field) for key in data["member"]), field

    messages = data["messages"]
    # (The code mail for the new address is missing for a bug in verification.issue(), see
    # test_email_change_after_verification_mails_the_new_address; once fixed it comes last.)
    assert [(m["channel"], m["kind"], m["to"], m["status"]) for m in messages[:5]] == [
        ("email", "verification", "karen@example.dk", "sent"),
        ("telegram", None, None, "queued"),  # the notice that she is an organiser now
        ("email", "invite", "karen@example.dk", "queued"),
        ("email", "digest", "karen@example.dk", "retry"),
        ("telegram", None, None, "queued"),
    ]
    assert messages[0]["sent_at"] == now.isoformat()
    assert messages[2]["sent_at"] is None
    # The codes themselves are not part of the export.
    assert "code" not in json.dumps(messages)

    actions = [entry["action"] for entry in data["history"]]
    assert actions == [
        "member.registered",
        "email.code_sent",
        "email.verified",
        "member.role_changed",
        "email.code_sent",
        "member.profile_changed",
    ]
    assert all(entry["at"] for entry in data["history"])
    # The history holds ids and codes, never the personal data itself.
    history = json.dumps(data["history"])
    for personal in ("Karen", "karen@", "Rungstedlund", str(TELEGRAM_ID)):
        assert personal not in history

    async with db.unit_of_work() as uow:
        logged = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "privacy.exported")
        )
        assert logged is not None
        assert logged.member_id == member.id


async def test_export_includes_what_the_member_did_to_others(
    db: Database, now: dt.datetime
) -> None:
    admin = await sign_up(db, now, telegram_user_id=1, name="Admin", email="admin@example.dk")
    other = await sign_up(db, now, telegram_user_id=2, name="Other", email="other@example.dk")
    admin_actor = admin.actor(frozenset({1}))
    await members.set_role(
        db.unit_of_work(), admin_actor, other.id, "organiser", region_id=None, now=now
    )
    data = await privacy.export(db.unit_of_work(), admin.id, now=now)
    assert "member.role_changed" in [entry["action"] for entry in data["history"]]
    assert [m["to"] for m in data["messages"]] == ["admin@example.dk"]


async def test_export_of_unknown_member(db: Database, now: dt.datetime) -> None:
    with pytest.raises(NotFound):
        await privacy.export(db.unit_of_work(), 999, now=now)


async def test_erase(db: Database, now: dt.datetime) -> None:
    member = await a_full_record(db, now)
    other = await sign_up(
        db, now, telegram_user_id=77, name="Other", email="other@example.dk", organisation="KL"
    )
    for telegram_user_id in (TELEGRAM_ID, 77):
        await bot_state.save_user_data(
            db.unit_of_work(), telegram_user_id, {"draft": {"name": "x"}}, now
        )
        await bot_state.save_conversation(db.unit_of_work(), "signup", [telegram_user_id], 3, now)
        await bot_state.save_conversation(
            db.unit_of_work(), "profile", [telegram_user_id, telegram_user_id], 1, now
        )

    erased_at = now + dt.timedelta(days=5)
    assert await privacy.erase(db.unit_of_work(), member.id, now=erased_at) == TELEGRAM_ID

    async with db.unit_of_work() as uow:
        row = await uow.session.get(Member, member.id)
        assert row is not None
        for column in (
            "name",
            "email",
            "email_verified_at",
            "organisation",
            "telegram_user_id",
            "telegram_username",
            "organiser_region_id",
            "consent_at",
        ):
            assert getattr(row, column) is None, column
        assert row.role == "member"
        assert row.deleted_at == erased_at
        assert await uow.session.get(EmailVerification, member.id) is None

        messages = (
            await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.member_id == member.id)
                .order_by(OutboxMessage.id)
            )
        ).all()
        # Only the mail already sent is left, without its content.
        assert [(m.status, m.payload, m.last_error) for m in messages] == [
            (OutboxStatus.SENT, {"erased": True}, None)
        ]

        # No trace of the Telegram id in the bot's state; other users' state is untouched.
        assert await uow.session.get(BotUserData, TELEGRAM_ID) is None
        assert await uow.session.get(BotUserData, 77) is not None
        keys = (await uow.session.scalars(select(BotConversation.key))).all()
        assert sorted(keys) == ["[77, 77]", "[77]"]

        # The audit trail stays (ids only) and records the erasure.
        erased = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "privacy.erased")
        )
        assert erased is not None
        assert erased.member_id == member.id

    # Nothing personal of the member is left anywhere in the database.
    async with db.unit_of_work() as uow:
        dump = json.dumps(
            [
                [str(value) for value in r]
                for table in (Member, OutboxMessage, AuditEntry, BotConversation, BotUserData)
                for r in (await uow.session.execute(select(*table.__table__.columns))).all()
            ]
        )
    for personal in ("Karen", "karen@", "isak-dinesen", "Rungstedlund", str(TELEGRAM_ID)):
        assert personal not in dump, personal

    assert await members.find_by_telegram(db.unit_of_work(), TELEGRAM_ID) is None
    with pytest.raises(NotFound):
        await members.get(db.unit_of_work(), member.id)
    with pytest.raises(NotFound):
        await privacy.export(db.unit_of_work(), member.id, now=erased_at)
    with pytest.raises(NotFound):
        await privacy.erase(db.unit_of_work(), member.id, now=erased_at)
    with pytest.raises(NotFound):
        await verification.check(db.unit_of_work(), member.id, "123456", now=erased_at)
    # The other member is untouched.
    assert await members.get(db.unit_of_work(), other.id) == other


async def test_erased_member_leaves_the_overview(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    kept = await sign_up(db, now, telegram_user_id=77, name="Other", email="other@example.dk")
    await privacy.erase(db.unit_of_work(), member.id, now=now)
    assert (await members.overview(db.unit_of_work(), ADMIN)).total == 1
    listed = [m for batch in [b async for b in members.listing(db.reader(), ADMIN)] for m in batch]
    assert [m.id for m in listed] == [kept.id]


async def test_sign_up_again_after_erasure(db: Database, now: dt.datetime) -> None:
    member = await sign_up(db, now)
    await privacy.erase(db.unit_of_work(), member.id, now=now)
    later = now + dt.timedelta(days=1)
    registration = await members.register(
        db.unit_of_work(),
        telegram_user_id=TELEGRAM_ID,
        telegram_username="karen_b",
        name="Karen Blixen",
        email="karen@example.dk",
        organisation=None,
        sector="public",
        region_id=await region_id(db, "skane"),
        language="sv",
        now=later,
    )
    assert registration.created
    assert registration.code_sent
    again = registration.member
    assert again.id != member.id
    assert again.telegram_user_id == TELEGRAM_ID
    assert again.role == "member"
    assert not again.email_verified
    assert await members.find_by_telegram(db.unit_of_work(), TELEGRAM_ID) == again
    code = await latest_code(db, again.id)
    result = await verification.check(db.unit_of_work(), again.id, code, now=later)
    assert result.result is verification.CheckResult.VERIFIED
    async with db.unit_of_work() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Member))
    assert count == 2  # the anonymised row stays for the records that count on it


async def test_message_in_flight_during_erasure_is_not_sent_again(
    db: Database, now: dt.datetime
) -> None:
    member = await sign_up(db, now)
    lease = dt.timedelta(minutes=5)
    (in_flight,) = await outbox.claim(
        db.unit_of_work(), channel=outbox.EMAIL, limit=10, now=now, lease=lease
    )
    assert in_flight.member_id == member.id
    await privacy.erase(db.unit_of_work(), member.id, now=now)
    # The worker that held it died; the lease runs out.
    later = now + lease + dt.timedelta(minutes=1)
    assert (
        await outbox.claim(
            db.unit_of_work(), channel=outbox.EMAIL, limit=10, now=later, lease=lease
        )
        == []
    )
