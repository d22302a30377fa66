"""Broadcasts in storage: the message rules, the audience, the recipients snapshot in the
outbox, progress counted from it, and the report queued once."""

from __future__ import annotations

import asyncio
import datetime as dt
import html

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from storage.broadcasts import audiences as broadcast_audiences
from storage.broadcasts import content as broadcast_content
from storage.broadcasts import creating as broadcast_creating
from storage.broadcasts import progress as broadcast_progress
from storage.broadcasts.audiences import Audience
from storage.broadcasts.content import BroadcastContent
from storage.broadcasts.progress import Progress
from storage.errors import InvalidInput, NotAllowed
from storage.members import privacy
from storage.models import AuditEntry, Broadcast, Event, Member, OutboxMessage, OutboxStatus, Rsvp
from storage.permissions import Actor
from storage.scheduling import UNREACHABLE
from storage.uow import Database
from templates.i18n import translator
from tests.support.broadcastkit import Seeded, add_members, outbox_rows, region_ids

ADMIN = Actor(telegram_user_id=1, member_id=None, is_admin=True)
MEMBER = Actor(telegram_user_id=2, member_id=None)

# --- the message ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Netværksmøde i <b>Aarhus</b> den 20. februar",
        '<a href="https://samvirke.example/event/7">Tilmeld dig</a> &amp; del det',
        "<i>kursiv</i> <u>u</u> <s>s</s> <tg-spoiler>hemmelig</tg-spoiler>",
        '<span class="tg-spoiler">x</span> <code>kode</code> <pre><code class="language-python">'
        "print(1)</code></pre>",
        "<blockquote expandable>citat</blockquote> 1 &lt; 2",
        '<a href="tg://user?id=123">Karen</a> <a href="mailto:kontakt@example.dk">skriv</a>',
    ],
)
def test_telegram_html_is_accepted(text: str) -> None:
    assert broadcast_content.validate_html(text) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "broadcast_empty"),
        ("   <b> </b> ", "broadcast_empty"),
        ("<script>alert(1)</script>", "broadcast_markup"),
        ("<b>not closed", "broadcast_markup"),
        ("<b><i>crossed</b></i>", "broadcast_markup"),
        ('<a href="javascript:alert(1)">x</a>', "broadcast_markup"),
        ('<a href="//evil.example">x</a>', "broadcast_markup"),
        ('<b onclick="x()">x</b>', "broadcast_markup"),
        ('<span class="big">x</span>', "broadcast_markup"),
        ("1 < 2", "broadcast_markup"),
        ("&nbsp;", "broadcast_markup"),
        ("line<br/>break", "broadcast_markup"),
        ("<!-- hidden -->x", "broadcast_markup"),
    ],
)
def test_what_telegram_cannot_show_is_refused(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        broadcast_content.validate_html(text)
    assert raised.value.code == code


def test_length_is_counted_as_telegram_counts_it() -> None:
    assert broadcast_content.validate_html("<b>" + "ø" * 4096 + "</b>")  # tags do not count
    with pytest.raises(InvalidInput) as raised:
        broadcast_content.validate_html("ø" * 4097)
    assert raised.value.params == {"max": 4096}
    with pytest.raises(InvalidInput):
        broadcast_content.validate_html("🎉" * 2049)  # two UTF-16 units each
    with pytest.raises(InvalidInput):
        broadcast_content.validate_content("x" * 1025, media_kind="photo", media_file_id="F")
    content = broadcast_content.validate_content("", media_kind="photo", media_file_id="F")
    assert content == BroadcastContent("", "photo", "F")  # a photo needs no caption
    with pytest.raises(InvalidInput):
        broadcast_content.validate_content("x", media_kind="video", media_file_id="F")


@given(st.text(min_size=1, max_size=300))
def test_any_escaped_text_is_accepted_and_shows_as_typed(text: str) -> None:
    """What python-telegram-bot's text_html gives for plain text always passes."""
    escaped = html.escape(text.strip(), quote=False)
    if not text.strip():
        return
    assert broadcast_content.validate_html(escaped) == escaped


# --- the audience ------------------------------------------------------------------------------


async def network(db: Database, now: dt.datetime) -> dict[str, list[Seeded]]:
    """Midtjylland: 5 civil society + 3 public; Hovedstaden: 4 business; Skåne: 2 academia."""
    return {
        "midt_civil": await add_members(db, 5, first_telegram_id=100, now=now),
        "midt_public": await add_members(db, 3, first_telegram_id=200, now=now, sector="public"),
        "hoved_business": await add_members(
            db, 4, first_telegram_id=300, now=now, region="hovedstaden", sector="business"
        ),
        "skane_academia": await add_members(
            db, 2, first_telegram_id=400, now=now, region="skane", sector="academia"
        ),
    }


async def count(db: Database, actor: Actor, audience: Audience) -> int:
    return (await broadcast_audiences.preview(db.unit_of_work(), actor, audience)).recipients


async def add_event(db: Database, now: dt.datetime, going: list[int], maybe: list[int]) -> int:
    async with db.unit_of_work() as uow:
        event = Event(
            uid="event-1@samvirke.test",
            title="Innovation på det sociale område",
            starts_at=now + dt.timedelta(days=10),
            ends_at=now + dt.timedelta(days=10, hours=4),
            timezone="Europe/Copenhagen",
            location="Teknologisk Institut, Aarhus",
            region_id=(await region_ids(db))["midtjylland"],
            checkin_code="ABC123",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(event)
        await uow.session.flush()
        for member_id in going:
            uow.session.add(Rsvp(event_id=event.id, member_id=member_id, status="going"))
        for member_id in maybe:
            uow.session.add(Rsvp(event_id=event.id, member_id=member_id, status="maybe"))
        await uow.commit()
        return event.id


async def test_the_audience_is_everyone_a_region_a_sector_or_an_event(
    db: Database, now: dt.datetime
) -> None:
    people = await network(db, now)
    regions = await region_ids(db)

    assert await count(db, ADMIN, Audience.everyone()) == 14
    assert await count(db, ADMIN, Audience.region(regions["midtjylland"])) == 8
    assert await count(db, ADMIN, Audience.region(regions["nordjylland"])) == 0
    assert await count(db, ADMIN, Audience.sector("business")) == 4
    event_id = await add_event(
        db,
        now,
        going=[people["midt_civil"][0].id, people["hoved_business"][0].id],
        maybe=[people["midt_civil"][1].id],
    )
    preview = await broadcast_audiences.preview(db.unit_of_work(), ADMIN, Audience.event(event_id))
    assert preview.recipients == 2
    assert preview.label.name == "Innovation på det sociale område"


async def test_who_is_never_in_an_audience(db: Database, now: dt.datetime) -> None:
    people = await network(db, now)
    [blocked, erased, unconsented, *_] = people["midt_civil"]
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Member).where(Member.id == blocked.id).values(unreachable_at=now)
        )
        await uow.session.execute(
            update(Member).where(Member.id == unconsented.id).values(consent_at=None)
        )
        await uow.commit()
    await privacy.erase(db.unit_of_work(), erased.id, now=now)

    assert await count(db, ADMIN, Audience.everyone()) == 11


async def test_an_organiser_for_one_region_reaches_only_it(db: Database, now: dt.datetime) -> None:
    regions = await region_ids(db)
    await network(db, now)
    midt = Actor(
        telegram_user_id=9,
        member_id=None,
        role="organiser",
        organiser_region_id=regions["midtjylland"],
    )

    assert await count(db, midt, Audience.everyone()) == 8
    assert await count(db, midt, Audience.sector("public")) == 3
    assert await count(db, midt, Audience.sector("business")) == 0  # those live in Hovedstaden
    assert await count(db, midt, Audience.region(regions["midtjylland"])) == 8
    with pytest.raises(NotAllowed) as raised:
        await count(db, midt, Audience.region(regions["hovedstaden"]))
    assert raised.value.code == "broadcast_other_region"
    options = await broadcast_audiences.audience_options(db.unit_of_work(), midt, now=now)
    assert options.regions == [(regions["midtjylland"], "Region Midtjylland")]
    assert options.scope_region_name == "Region Midtjylland"


async def test_members_cannot_broadcast_and_nonsense_audiences_are_refused(
    db: Database, now: dt.datetime
) -> None:
    with pytest.raises(NotAllowed) as raised:
        await count(db, MEMBER, Audience.everyone())
    assert raised.value.code == "organisers_only"
    for audience, code in [
        (Audience("sector", "astronauts"), "sector_unknown"),
        (Audience("region", "999"), "region_unknown"),
        (Audience("region", "x"), "audience_unknown"),
        (Audience("event", "999"), "event_not_found"),
        (Audience("planet", None), "audience_unknown"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            await count(db, ADMIN, audience)
        assert refused.value.code == code


# --- confirming: the snapshot ---------------------------------------------------------------------


async def confirm(
    db: Database, now: dt.datetime, audience: Audience, *, key: str = "1:draft", text: str = "Hej"
) -> broadcast_creating.BroadcastView:
    return await broadcast_creating.create(
        db.unit_of_work(),
        ADMIN,
        draft_key=key,
        content=BroadcastContent(text),
        audience=audience,
        language="en",
        progress_chat_id=1,
        progress_message_id=77,
        now=now,
    )


async def test_confirming_queues_one_row_per_recipient(db: Database, now: dt.datetime) -> None:
    people = await network(db, now)
    regions = await region_ids(db)

    view = await confirm(db, now, Audience.region(regions["midtjylland"]), text="<b>Møde</b>")

    assert (view.total, view.created) == (8, True)
    rows = await outbox_rows(db, f"broadcast:{view.id}:")
    midt = people["midt_civil"] + people["midt_public"]
    assert set(rows) == {f"broadcast:{view.id}:{m.id}" for m in midt}
    row = rows[f"broadcast:{view.id}:{midt[0].id}"]
    assert (row.channel, row.member_id, row.status) == ("telegram", midt[0].id, "queued")
    assert row.payload == {
        "chat_id": midt[0].telegram_user_id,
        "text": "<b>Møde</b>",
        "parse_mode": "HTML",
        "buttons": None,
    }
    async with db.unit_of_work() as uow:
        entry = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "broadcast.created")
        )
        assert entry is not None
        assert entry.details == {
            "broadcast_id": view.id,
            "audience": "region",
            "audience_value": str(regions["midtjylland"]),
            "recipients": 8,
        }


async def test_a_photo_broadcast_carries_the_file(db: Database, now: dt.datetime) -> None:
    await add_members(db, 2, first_telegram_id=100, now=now)
    view = await broadcast_creating.create(
        db.unit_of_work(),
        ADMIN,
        draft_key="1:photo",
        content=BroadcastContent("Program", "photo", "AgAC-photo"),
        audience=Audience.everyone(),
        language="da",
        progress_chat_id=None,
        progress_message_id=None,
        now=now,
    )
    rows = await outbox_rows(db, f"broadcast:{view.id}:")
    assert {r.payload["photo"] for r in rows.values()} == {"AgAC-photo"}


async def test_confirming_twice_sends_once(db: Database, now: dt.datetime) -> None:
    await network(db, now)
    first = await confirm(db, now, Audience.everyone())
    again = await confirm(db, now, Audience.everyone())
    assert (again.id, again.created) == (first.id, False)
    assert len(await outbox_rows(db, "broadcast:")) == 14


async def test_two_taps_at_the_same_moment_make_one_broadcast(
    db: Database, now: dt.datetime
) -> None:
    await network(db, now)
    views = await asyncio.gather(*(confirm(db, now, Audience.everyone()) for _ in range(4)))
    assert len({v.id for v in views}) == 1
    assert sum(v.created for v in views) == 1
    async with db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Broadcast)) == 1
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 14


async def test_an_empty_audience_cannot_be_confirmed(db: Database, now: dt.datetime) -> None:
    await network(db, now)
    with pytest.raises(InvalidInput) as raised:
        await confirm(db, now, Audience.sector("foundation"))
    assert raised.value.code == "broadcast_no_recipients"
    assert await outbox_rows(db) == {}


# --- progress and the report ----------------------------------------------------------------------


async def settle(db: Database, key: str, status: str, error: str | None = None) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(status=status, last_error=error)
        )
        await uow.commit()


async def test_progress_is_counted_from_the_outbox(db: Database, now: dt.datetime) -> None:
    people = await network(db, now)
    view = await confirm(db, now, Audience.sector("civil_society"))
    ids = [m.id for m in people["midt_civil"]]
    await settle(db, f"broadcast:{view.id}:{ids[0]}", OutboxStatus.SENT)
    await settle(db, f"broadcast:{view.id}:{ids[1]}", OutboxStatus.SENT)
    await settle(db, f"broadcast:{view.id}:{ids[2]}", OutboxStatus.FAILED, f"{UNREACHABLE}: 403")
    await settle(db, f"broadcast:{view.id}:{ids[3]}", OutboxStatus.FAILED, "400 bad")

    counted = await broadcast_progress.progress(db.unit_of_work(), view.id)

    assert counted == Progress(total=5, delivered=2, unreachable=1, failed=1, pending=1)
    assert not counted.done


async def test_progress_edits_are_spaced_and_the_report_is_queued_once(
    db: Database, now: dt.datetime
) -> None:
    people = await network(db, now)
    view = await confirm(db, now, Audience.sector("public"))
    ids = [m.id for m in people["midt_public"]]
    interval = dt.timedelta(seconds=3)

    async def due(at: dt.datetime) -> list[broadcast_progress.ProgressUpdate]:
        return await broadcast_progress.due_progress(db.unit_of_work(), now=at, interval=interval)

    [first] = await due(now)
    assert (first.chat_id, first.message_id, first.final) == (1, 77, False)
    assert first.text == "Sending your broadcast: sent 0 of 3."
    await settle(db, f"broadcast:{view.id}:{ids[0]}", OutboxStatus.SENT)
    assert await due(now + dt.timedelta(seconds=2)) == []  # too soon
    [second] = await due(now + dt.timedelta(seconds=3))
    assert second.text == "Sending your broadcast: sent 1 of 3."
    assert await due(now + dt.timedelta(seconds=6)) == []  # nothing changed: no edit

    await settle(db, f"broadcast:{view.id}:{ids[1]}", OutboxStatus.SENT)
    await settle(db, f"broadcast:{view.id}:{ids[2]}", OutboxStatus.FAILED, f"{UNREACHABLE}: x")
    [last] = await due(now + dt.timedelta(seconds=9))
    assert last.final
    # The progress message is closed (taken away, or this line if it cannot be); the report is
    # one message of its own.
    assert last.text == "Sending finished: the report follows."
    assert await due(now + dt.timedelta(seconds=60)) == []  # finished
    report = (await outbox_rows(db, "broadcast-report:")).popitem()[1]
    assert report.key == f"broadcast-report:{view.id}"
    assert (report.payload["chat_id"], report.payload["text"]) == (
        1,
        "Your broadcast is done.\nDelivered: 2\n"
        "Unreachable (blocked the bot or left Telegram): 1\nFailed: 0",
    )


async def test_numbers_are_written_the_way_each_language_writes_them() -> None:
    counted = Progress(total=3400, delivered=1200)
    assert broadcast_progress.progress_text(translator("en"), counted).startswith(
        "Sending your broadcast: sent 1,200 of 3,400."
    )
    assert "1.200" in broadcast_progress.progress_text(translator("da"), counted)
    assert "3\xa0400" in broadcast_progress.progress_text(translator("sv"), counted)


async def test_a_recipient_who_erases_their_data_does_not_hold_the_broadcast_up(
    db: Database, now: dt.datetime
) -> None:
    people = await network(db, now)
    view = await confirm(db, now, Audience.sector("academia"))
    [first, second] = people["skane_academia"]
    await settle(db, f"broadcast:{view.id}:{first.id}", OutboxStatus.SENT)
    await privacy.erase(db.unit_of_work(), second.id, now=now)  # their queued row is withdrawn

    [last] = await broadcast_progress.due_progress(
        db.unit_of_work(), now=now, interval=dt.timedelta(seconds=3)
    )

    assert last.final
    report = (await outbox_rows(db, "broadcast-report:")).popitem()[1]
    assert "Delivered: 1" in report.payload["text"]


async def test_a_broadcast_without_a_progress_message_still_finishes(
    db: Database, now: dt.datetime
) -> None:
    await add_members(db, 1, first_telegram_id=100, now=now)
    view = await broadcast_creating.create(
        db.unit_of_work(),
        ADMIN,
        draft_key="k",
        content=BroadcastContent("x"),
        audience=Audience.everyone(),
        language="en",
        progress_chat_id=None,
        progress_message_id=None,
        now=now,
    )
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(OutboxMessage).values(status=OutboxStatus.SENT))
        await uow.commit()
    assert (
        await broadcast_progress.due_progress(db.unit_of_work(), now=now, interval=dt.timedelta(0))
        == []
    )
    async with db.unit_of_work() as uow:
        finished = await uow.session.get(Broadcast, view.id)
        assert finished is not None
        assert finished.finished_at == now
    assert await outbox_rows(db, "broadcast-report:") == {}
