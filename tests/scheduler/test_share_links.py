"""With ``SAMVIRKE_PUBLIC_URL`` set, the event's public page goes with the deep link wherever an
event is shared: the invite mail, the digest, the reminder and the calendar feed's ``URL``;
without it, nothing points at a page that is not there."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage

import icalendar
import pytest
from aiohttp.test_utils import TestClient, TestServer

from samvirke.http import build_http_app
from samvirke.settings import Settings, load_settings
from scheduler.mail.compose import build_message, render
from scheduler.reminders import queue_due_reminders
from storage.outbox import ClaimedMessage
from storage.uow import Database
from tests.support.events_kit import NOW, add_member, going, outbox, publish

PUBLIC = "https://samvirke.example.org"


def settings(public_url: str | None) -> Settings:
    extra = {"public_url": public_url + "/"} if public_url else {}
    return load_settings(
        _env_file=None,
        mail_from="samvirke@samvirke.example.org",
        secret_key="share-links-test-key-0123456789",
        reminder_offsets="1d",
        **extra,
    )


def parts(data: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    return plain.get_content(), html.get_content()


@pytest.mark.parametrize("public_url", [PUBLIC, None])
async def test_the_invite_mail_links_the_page(db: Database, public_url: str | None) -> None:
    event = await publish(db)
    await going(db, await add_member(db, 100, language="en"), event.id)
    [row] = await outbox(db, "invite:")
    claimed = ClaimedMessage(row.id, row.key, row.channel, row.member_id, row.payload, 0)
    mail = build_message(claimed, settings(public_url), now=NOW)
    text, html = parts(mail.data)
    page = f"{PUBLIC}/events/{event.id}"
    assert f"https://t.me/samvirke_test_bot?start=event_{event.id}" in text
    if public_url:
        assert f"The event's page, to share with anyone: {page}" in text
        assert f'<a href="{page}">' in html
    else:
        assert "/events/" not in text
        assert "/events/" not in html


def test_the_digest_links_each_events_page() -> None:
    item = {
        "title": "Netværksmøde",
        "when": "Saturday, 20 February 2027, 13:00–17:00",
        "place": "Aarhus",
        "status": "",
        "link": "https://t.me/samvirke_test_bot?start=event_7",
        "event_id": 7,
    }
    context = {"name": "Karen", "sections": {"events": [item]}, "public_url": PUBLIC + "/"}
    rendered = render("digest", "en", context)
    assert f"{PUBLIC}/events/7" in rendered.text
    assert "https://t.me/samvirke_test_bot?start=event_7" in rendered.text
    assert f'href="{PUBLIC}/events/7"' in rendered.html
    without = render("digest", "en", {**context, "public_url": None})
    assert "/events/7" not in without.text


@pytest.mark.parametrize("public_url", [PUBLIC, None])
async def test_the_reminder_links_the_page(db: Database, public_url: str | None) -> None:
    event = await publish(db)
    await going(db, await add_member(db, 100, language="en"), event.id)
    due = event.starts_at - dt.timedelta(hours=23)
    assert await queue_due_reminders(db, settings(public_url), due) == 1
    [row] = await outbox(db, "reminder:")
    text = str(row.payload["text"])
    if public_url:
        assert text.endswith(f"Event page: {PUBLIC}/events/{event.id}")
    else:
        assert "/events/" not in text


@pytest.mark.parametrize("public_url", [PUBLIC, None])
async def test_the_calendar_feed_points_at_the_page(db: Database, public_url: str | None) -> None:
    event = await publish(db, region_id=None)
    app = build_http_app(db, None, secret=None, settings=settings(public_url), clock=lambda: NOW)
    async with TestClient(TestServer(app)) as client:
        data = await (await client.get("/calendar/all.ics")).read()
    [vevent] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    if public_url:
        assert str(vevent["URL"]) == f"{PUBLIC}/events/{event.id}"
    else:
        assert "URL" not in vevent  # no bot to link to, and no page
