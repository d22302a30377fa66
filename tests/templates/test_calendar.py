"""Calendar invites end to end: an RSVP queues a mail, MailDelivery sends it to a real aiosmtpd
server, and what arrives is parsed back with ``email`` and ``icalendar``, field by field.
Also: escaping of whatever a title holds, updates and cancellations, and the public feeds."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from samvirke.http import build_http_app
from samvirke.settings import Settings
from scheduler.mail.delivery import DeliveryOptions, MailDelivery
from storage.events import publishing as event_publishing
from storage.events import views as events
from storage.uow import Database
from templates import calendar as invites
from tests.support.events_kit import (
    ADMIN,
    CPH,
    DESCRIPTION,
    NOW,
    PLACE,
    START,
    TITLE,
    add_member,
    going,
    publish,
    region_id,
)
from tests.support.mailserver import SmtpServer

MAIL_FROM = "samvirke@samvirke.test"


@pytest.fixture
def mail_settings(smtp: SmtpServer, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from=MAIL_FROM,
        mail_dir=tmp_path / "mail",
    )


async def deliver(db: Database, settings: Settings, smtp: SmtpServer) -> list[EmailMessage]:
    """Send what is queued; the messages the server received in this run."""
    before = len(smtp.handler.received)
    delivery = MailDelivery(db, settings, options=DeliveryOptions(), clock=lambda: NOW)
    report = await delivery.run_once(NOW)
    assert report.failed == 0
    assert report.retried == 0
    received = smtp.handler.received[before:]
    return [email.message_from_bytes(r.data, policy=email.policy.default) for r in received]


def calendar_parts(message: EmailMessage) -> tuple[EmailMessage, EmailMessage]:
    """The text/calendar alternative and the .ics attachment, checking the MIME structure."""
    assert message.get_content_type() == "multipart/mixed"
    top = list(message.iter_parts())
    assert [p.get_content_type() for p in top] == ["multipart/alternative", "application/ics"]
    alternative, attachment = top
    inner = list(alternative.iter_parts())
    assert [p.get_content_type() for p in inner] == ["text/plain", "text/html", "text/calendar"]
    assert attachment.get_content_disposition() == "attachment"
    return inner[2], attachment  # type: ignore[return-value]


def parse(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def only_event(cal: icalendar.Calendar) -> icalendar.Event:
    found = [c for c in cal.walk("VEVENT") if isinstance(c, icalendar.Event)]
    assert len(found) == 1
    return found[0]


def check_lines(data: bytes) -> None:
    """RFC 5545 3.1: CRLF line ends, content lines folded at 75 octets."""
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # no character is split across a fold


# --- the mail a member gets -------------------------------------------------------------------


async def test_an_invite_arrives_and_parses_field_by_field(
    db: Database, smtp: SmtpServer, mail_settings: Settings
) -> None:
    event = await publish(db)
    karen = await add_member(
        db, 1001, name="Karen Ærø Sørensen", email="karen@example.dk", language="da"
    )
    await going(db, karen, event.id)

    [message] = await deliver(db, mail_settings, smtp)

    assert message["To"].addresses[0].addr_spec == "karen@example.dk"
    assert message["Subject"] == f"Invitation: {TITLE}"
    text = message.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert TITLE in body
    assert "lørdag den 20. februar 2027, 13:00–17:00" in body  # in her language
    assert PLACE in body
    assert f"https://t.me/samvirke_test_bot?start=event_{event.id}" in body
    html = message.get_body(("html",))
    assert html is not None
    assert "Innovation på det sociale område" in html.get_content()

    alternative, attachment = calendar_parts(message)
    assert alternative.get_params() is not None
    params = dict(alternative.get_params() or [])
    assert params["method"] == "REQUEST"
    assert params["charset"].upper() == "UTF-8"
    assert attachment.get_filename() == "invite.ics"
    data = alternative.get_content()
    assert data.encode() == attachment.get_content()  # one invite, two ways of carrying it
    check_lines(attachment.get_content())

    cal = parse(attachment.get_content())
    assert cal["METHOD"] == "REQUEST"
    assert cal["VERSION"] == "2.0"
    assert cal["PRODID"] == invites.PRODID
    vevent = only_event(cal)
    assert str(vevent["UID"]) == event.uid
    assert vevent["SEQUENCE"] == 0
    assert vevent.decoded("DTSTAMP") == NOW
    assert vevent["SUMMARY"] == TITLE
    assert vevent["DESCRIPTION"] == DESCRIPTION
    assert vevent["LOCATION"] == PLACE
    assert vevent["URL"] == f"https://t.me/samvirke_test_bot?start=event_{event.id}"
    assert vevent["STATUS"] == "CONFIRMED"
    organizer = vevent["ORGANIZER"]
    assert str(organizer) == f"mailto:{MAIL_FROM}"
    assert organizer.params["CN"] == "Samvirke"
    attendee = vevent["ATTENDEE"]
    assert str(attendee) == "mailto:karen@example.dk"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert attendee.params["CN"] == "Karen Ærø Sørensen"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    # DTSTART/DTEND carry the TZID of a VTIMEZONE in the same file.
    assert vevent["DTSTART"].params["TZID"] == "Europe/Copenhagen"
    assert vevent["DTEND"].params["TZID"] == "Europe/Copenhagen"
    assert b"DTSTART;TZID=Europe/Copenhagen:20270220T130000" in attachment.get_content()
    assert b"DTEND;TZID=Europe/Copenhagen:20270220T170000" in attachment.get_content()
    [timezone] = cal.walk("VTIMEZONE")
    assert timezone["TZID"] == "Europe/Copenhagen"
    # The VTIMEZONE itself says February is UTC+1 (read from the file, not from zoneinfo).
    standard = [c for c in timezone.walk("STANDARD")]
    assert standard
    assert {c.decoded("TZOFFSETTO") for c in standard} == {dt.timedelta(hours=1)}
    assert isinstance(timezone, icalendar.Timezone)
    tz_from_file = timezone.to_tz()
    start = vevent.decoded("DTSTART")
    assert start.replace(tzinfo=tz_from_file).astimezone(dt.UTC) == START.astimezone(dt.UTC)
    assert vevent.decoded("DTEND") - start == dt.timedelta(hours=4)


async def test_updates_and_cancellations_keep_the_uid_and_raise_the_sequence(
    db: Database, smtp: SmtpServer, mail_settings: Settings
) -> None:
    event = await publish(db)
    karen = await add_member(db, 1002, email="karen@example.dk")
    lars = await add_member(db, 1003, email="lars@example.dk")
    await going(db, karen, event.id)
    await going(db, lars, event.id)
    first = await deliver(db, mail_settings, smtp)
    assert len(first) == 2

    new_start = START.astimezone(dt.UTC) + dt.timedelta(days=1)
    await event_publishing.update(
        db.unit_of_work(), ADMIN, event.id, "when", (new_start, new_start + dt.timedelta(hours=3)),
        now=NOW,
    )  # fmt: skip
    await going(db, lars, event.id, "not_going")
    second = {m["To"].addresses[0].addr_spec: m for m in await deliver(db, mail_settings, smtp)}
    updated = parse(calendar_parts(second["karen@example.dk"])[1].get_content())
    assert updated["METHOD"] == "REQUEST"
    vevent = only_event(updated)
    assert str(vevent["UID"]) == event.uid
    assert vevent["SEQUENCE"] == 1
    assert vevent.decoded("DTSTART").astimezone(dt.UTC) == new_start
    assert second["karen@example.dk"]["Subject"] == f"Updated: {TITLE}"
    withdrawn = parse(calendar_parts(second["lars@example.dk"])[1].get_content())
    assert withdrawn["METHOD"] == "CANCEL"
    assert str(only_event(withdrawn)["UID"]) == event.uid
    assert only_event(withdrawn)["SEQUENCE"] == 2  # above the update lars did not get
    assert only_event(withdrawn)["ATTENDEE"].params["PARTSTAT"] == "DECLINED"

    await event_publishing.cancel(
        db.unit_of_work(), ADMIN, event.id, message="Vi ses i foråret.", now=NOW
    )
    [cancelled] = await deliver(db, mail_settings, smtp)  # lars holds no invite any more
    assert cancelled["To"].addresses[0].addr_spec == "karen@example.dk"
    assert cancelled["Subject"] == f"Cancelled: {TITLE}"
    alternative, attachment = calendar_parts(cancelled)
    assert dict(alternative.get_params() or [])["method"] == "CANCEL"
    assert attachment.get_filename() == "cancel.ics"
    cal = parse(attachment.get_content())
    assert cal["METHOD"] == "CANCEL"
    vevent = only_event(cal)
    assert str(vevent["UID"]) == event.uid
    assert vevent["SEQUENCE"] == 2
    assert vevent["STATUS"] == "CANCELLED"
    body = cancelled.get_body(("plain",))
    assert body is not None
    assert "Vi ses i foråret." in body.get_content()


# --- whatever a title holds ----------------------------------------------------------------------

NASTY = (
    'Møde, "ét"; 50% \\ rabat 🎉\r\nEND:VEVENT\r\nBEGIN:VEVENT\nSUMMARY:hijack'
    " — Skåne/Ærø " + "ø" * 80
)


def payload(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "method": "REQUEST",
        "uid": "abc@samvirke",
        "sequence": 3,
        "dtstamp": NOW.isoformat(),
        "summary": TITLE,
        "description": DESCRIPTION,
        "location": PLACE,
        "url": "https://t.me/samvirke_test_bot?start=event_1",
        "start": START.astimezone(dt.UTC).isoformat(),
        "end": (START + dt.timedelta(hours=4)).astimezone(dt.UTC).isoformat(),
        "tzid": "Europe/Copenhagen",
        "status": "CONFIRMED",
        "attendee": {"name": "Karen", "email": "karen@example.dk", "partstat": "ACCEPTED"},
    }
    values.update(overrides)
    return values


def test_commas_semicolons_newlines_and_emoji_come_back_unchanged() -> None:
    part = invites.from_payload(
        payload(
            summary=NASTY,
            description=NASTY,
            location=NASTY,
            attendee={
                "name": 'Ka"ren\r\nX: Y',
                "email": "karen@example.dk",
                "partstat": "ACCEPTED",
            },
        ),
        organizer_email=MAIL_FROM,
    )
    check_lines(part.data)
    lines = part.data.split(b"\r\n")  # a folded line goes on with a space, never a name
    assert lines.count(b"BEGIN:VEVENT") == 1
    assert lines.count(b"END:VEVENT") == 1
    assert not any(line.startswith(b"SUMMARY:hijack") for line in lines)
    vevent = only_event(parse(part.data))
    expected = invites.clean(NASTY)
    assert "\r" not in expected
    assert vevent["SUMMARY"] == expected
    assert vevent["DESCRIPTION"] == expected
    assert vevent["LOCATION"] == expected
    assert vevent["ATTENDEE"].params["CN"] == "Ka'ren X: Y"


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), name=st.text(max_size=60))
def test_no_text_breaks_the_file(text: str, name: str) -> None:
    part = invites.from_payload(
        payload(
            summary=text,
            description=text,
            location=text or None,
            attendee={"name": name, "email": "karen@example.dk", "partstat": "TENTATIVE"},
        ),
        organizer_email=MAIL_FROM,
    )
    check_lines(part.data)
    vevent = only_event(parse(part.data))
    assert str(vevent["SUMMARY"]) == invites.clean(text)
    assert str(vevent["UID"]) == "abc@samvirke"
    assert vevent["ATTENDEE"].params["PARTSTAT"] == "TENTATIVE"


@pytest.mark.parametrize(
    "broken",
    [
        {"method": "PUBLISH"},
        {"attendee": None},
        {"attendee": {"name": "x", "email": "a@b.dk\r\nBCC: x", "partstat": "ACCEPTED"}},
        {"start": "2027-02-20T13:00:00"},  # naive
        {"tzid": "Mars/Olympus"},
        {"uid": None, "sequence": "x"},
    ],
)
def test_a_malformed_calendar_part_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the mail builder maps it to a failed row
        invites.from_payload(payload(**broken), organizer_email=MAIL_FROM)


# --- feeds -------------------------------------------------------------------------------------


async def test_calendar_feeds_per_region_and_for_all(db: Database) -> None:
    midt = await publish(db, title="Midt")
    national = await publish(db, title="Hele netværket", region_id=None, location=None,
                             online_url="https://meet.example.org/alle")  # fmt: skip
    skane = await publish(db, title="Skåne", region_id=await region_id(db, "skane"))
    await event_publishing.cancel(db.unit_of_work(), ADMIN, skane.id, message=None, now=NOW)
    settings = Settings(_env_file=None, mail_from=MAIL_FROM, secret_key="feeds-test-key-0123456789")
    app = build_http_app(db, None, secret=None, settings=settings, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/calendar/midtjylland.ics")
        assert response.status == 200
        assert response.content_type == "text/calendar"
        assert response.charset == "utf-8"
        data = await response.read()
        check_lines(data)
        cal = parse(data)
        assert cal["X-WR-CALNAME"] == "Samvirke – Region Midtjylland"
        found = {str(e["UID"]): e for e in cal.walk("VEVENT")}
        assert set(found) == {midt.uid, national.uid}
        assert found[national.uid]["LOCATION"] == "https://meet.example.org/alle"
        assert [t["TZID"] for t in cal.walk("VTIMEZONE")] == ["Europe/Copenhagen"]
        assert all("ATTENDEE" not in e for e in found.values())  # nobody's name is public

        everything = parse(await (await client.get("/calendar/all.ics")).read())
        statuses = {str(e["SUMMARY"]): str(e["STATUS"]) for e in everything.walk("VEVENT")}
        assert statuses == {
            "Midt": "CONFIRMED",
            "Hele netværket": "CONFIRMED",
            "Skåne": "CANCELLED",  # kept, so subscribed calendars drop it
        }
        assert (await client.get("/calendar/atlantis.ics")).status == 404


def test_the_event_file_for_the_chat_is_a_publish_without_attendees() -> None:
    view = events.EventView(
        id=7, uid="u7@samvirke", title=TITLE, description="", starts_at=START, ends_at=START +
        dt.timedelta(hours=4), timezone="Europe/Copenhagen", location=PLACE,
        online_url="https://meet.example.org/x", region_id=None, region_name=None, capacity=None,
        rsvp_deadline=None, status="published", sequence=4, checkin_code="ABC234",
        cancel_message=None,
    )  # fmt: skip
    data = invites.event_file(view, url=None, organizer_email=MAIL_FROM, now=NOW)
    cal = parse(data)
    assert cal["METHOD"] == "PUBLISH"
    vevent = only_event(cal)
    assert vevent["SEQUENCE"] == 4
    assert "ATTENDEE" not in vevent
    assert vevent["URL"] == "https://meet.example.org/x"
    assert vevent["DESCRIPTION"] == "https://meet.example.org/x"  # the link beside the address
    assert vevent.decoded("DTSTART").tzinfo is not None
    assert vevent.decoded("DTSTART").astimezone(ZoneInfo("UTC")) == START.astimezone(dt.UTC)
    assert (
        invites.file_name(view) == "innovation-paa-det-sociale-omraade-aktoerer-i-region-midt.ics"
    )
    assert CPH.key == "Europe/Copenhagen"


@pytest.mark.parametrize("year", [1, 9999])
async def test_the_feed_and_the_event_file_survive_dates_at_the_ends_of_the_calendar(
    db: Database, year: int
) -> None:
    """Issue 17, item 4: an event stored in year 9999 (or 1) before dates had a range made
    every feed answer 500. Whatever is stored, the feed and the event file build."""
    from sqlalchemy import update

    from storage.models import Event

    far = await publish(db, title="Far away")
    await publish(db, title="Normal")
    starts = dt.datetime(year, 12 if year > 1 else 1, 31 if year > 1 else 2, 20, tzinfo=dt.UTC)
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Event)
            .where(Event.id == far.id)
            .values(starts_at=starts, ends_at=starts + dt.timedelta(hours=3))
        )
        await uow.commit()
    settings = Settings(_env_file=None, mail_from=MAIL_FROM, secret_key="feeds-test-key-0123456789")
    app = build_http_app(db, None, secret=None, settings=settings, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/calendar/all.ics")
        assert response.status == 200
        summaries = {str(e["SUMMARY"]) for e in parse(await response.read()).walk("VEVENT")}
        assert "Normal" in summaries
    view = await events.get(db.unit_of_work(), far.id)
    assert only_event(parse(invites.event_file(view, url=None, organizer_email=MAIL_FROM, now=NOW)))
