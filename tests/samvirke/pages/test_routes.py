"""The public event pages through the real HTTP server: status codes, headers, languages,
escaping of hostile text, OpenGraph tags, JSON-LD and the calendar file read back."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from samvirke import pages
from samvirke.http import build_http_app
from samvirke.pages.preview import PreviewCache
from samvirke.settings import Settings
from storage.events import programme
from storage.events import publishing as event_publishing
from storage.uow import Database
from tests.support.events_kit import (
    ADMIN,
    NOW,
    PLACE,
    TITLE,
    add_member,
    add_organiser,
    going,
    publish,
    region_id,
)

BOT = "samvirke_test_bot"
PUBLIC = "https://samvirke.example.org"
HOSTILE_TITLE = '</title><script>alert("x")</script> & "Møde"'
HOSTILE_DESCRIPTION = (
    "Se https://example.org/program?a=1&b=2. og <img src=x onerror=alert(1)>\n"
    'javascript:alert(1) "quoted" </script><script>alert(2)</script>'
)


class Page(HTMLParser):
    """What a crawler reads from a page: meta tags, JSON-LD, links, visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.json_ld: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.text: list[str] = []
        self._in_ld = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "meta" and "content" in values:
            self.meta[values.get("property") or values.get("name", "")] = values["content"]
        if tag == "script":
            self.scripts += 1
            self._in_ld = values.get("type") == "application/ld+json"
        if tag == "style":
            self._in_style = True
        if tag == "a":
            self.links.append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        self._in_ld = False if tag == "script" else self._in_ld
        self._in_style = False if tag == "style" else self._in_style

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.json_ld.append(data)
        elif not self._in_style:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(body: str) -> Page:
    page = Page()
    page.feed(body)
    return page


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "mail_from": "samvirke@samvirke.test",
        "secret_key": "pages-test-key-0123456789",
        "public_url": PUBLIC,
        "default_language": "da",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
async def client(db: Database) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    pages.add_routes(app, db, settings=settings(), username=lambda: BOT, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_the_event_page_shows_the_meeting_in_the_visitors_language(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    organiser = await add_organiser(db, 50, name="Mette Holm", organisation="Teknologisk Institut")
    event = await publish(db, organiser)
    for number in range(3):
        await going(
            db, await add_member(db, 100 + number, name=f"Secret Person {number}"), event.id
        )

    response = await client.get(f"/events/{event.id}", headers={"Accept-Language": "en-GB,en"})
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.charset == "utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = parse(await response.text())
    text = page.visible
    assert TITLE in text
    assert "Saturday, 20 February 2027, 13:00–17:00 CET" in text
    assert PLACE in text
    assert "33 seats left" in text
    assert "Mette Holm, Teknologisk Institut" in text
    assert "Sign up in Telegram" in text
    assert f"https://t.me/{BOT}?start=event_{event.id}" in page.links
    assert any(
        link.startswith("https://www.openstreetmap.org/search?query=") for link in page.links
    )
    assert f"/events/{event.id}.ics" in page.links
    assert any(
        link.startswith("https://calendar.google.com/calendar/render?") for link in page.links
    )
    assert any(link.startswith("https://outlook.live.com/calendar/") for link in page.links)
    assert "Secret Person" not in await response.text()  # never who is coming
    assert page.scripts == 1  # only the JSON-LD: the page needs no JavaScript
    body = await response.text()
    assert not re.search(
        r"""(src|href)=["']?(https?:)?//""", body.split("<body>")[0].split("</style>")[-1]
    )  # nothing loaded from elsewhere in the head
    assert '<link rel="stylesheet"' not in body
    assert "<img" not in body

    danish = parse(await (await client.get(f"/events/{event.id}?lang=da")).text()).visible
    assert "lørdag den 20. februar 2027, 13:00–17:00 CET" in danish
    assert "Tilmeld dig i Telegram" in danish
    swedish = await client.get(
        f"/events/{event.id}", headers={"Accept-Language": "sv;q=0.9,en;q=0.5"}
    )
    assert "Anmäl dig i Telegram" in parse(await swedish.text()).visible
    default = await client.get(f"/events/{event.id}", headers={"Accept-Language": "fr,de"})
    assert parse(await default.text()).visible == danish  # SAMVIRKE_DEFAULT_LANGUAGE


async def test_the_programme_shows_when_there_is_one(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    event = await publish(db)
    before = parse(await (await client.get(f"/events/{event.id}?lang=en")).text())
    assert "Programme" not in before.visible
    items = programme.parse(
        "13:00 Velkomst – Karen Jensen, Sociale Entreprenører i Danmark\n"
        "13.15 Socialøkonomi i Region Midt – Søren Ærø\n"
        '14:30 <script>alert("x")</script> & workshop\n'
    )
    await programme.replace(db.unit_of_work(), ADMIN, event.id, items, now=NOW)

    response = await client.get(f"/events/{event.id}?lang=en")
    body = await response.text()
    text = parse(body).visible
    assert "Programme" in text
    assert (
        "13:00 Velkomst Karen Jensen, Sociale Entreprenører i Danmark "
        "13:15 Socialøkonomi i Region Midt Søren Ærø "
        '14:30 <script>alert("x")</script> & workshop'
    ) in text
    assert parse(body).scripts == 1  # the title stayed text: only the JSON-LD is a script
    assert "&lt;script&gt;" in body
    assert (
        "Program" in parse(await (await client.get(f"/events/{event.id}?lang=da")).text()).visible
    )
    swedish = parse(await (await client.get(f"/events/{event.id}?lang=sv")).text()).visible
    assert "Program 13:00 Velkomst" in swedish


async def test_link_previews_have_opengraph_tags_and_json_ld(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    event = await publish(db, capacity=2, online_url="https://meet.example.org/abc")
    await going(db, await add_member(db, 100), event.id)
    page = parse(await (await client.get(f"/events/{event.id}?lang=en")).text())
    url = f"{PUBLIC}/events/{event.id}"
    assert page.meta["og:title"] == TITLE
    assert page.meta["og:url"] == url
    assert page.meta["og:image"].startswith(f"{url}.png?v=")
    assert page.meta["og:image:width"] == "1200"
    assert page.meta["twitter:card"] == "summary_large_image"
    assert "13:00–17:00" in page.meta["og:description"]

    [raw] = page.json_ld
    data = json.loads(raw)
    assert data["@type"] == "Event"
    assert data["name"] == TITLE
    assert data["startDate"] == "2027-02-20T13:00:00+01:00"
    assert data["endDate"] == "2027-02-20T17:00:00+01:00"
    assert data["eventStatus"] == "https://schema.org/EventScheduled"
    assert data["eventAttendanceMode"] == "https://schema.org/MixedEventAttendanceMode"
    assert {loc["@type"] for loc in data["location"]} == {"Place", "VirtualLocation"}
    assert data["remainingAttendeeCapacity"] == 1
    assert data["maximumAttendeeCapacity"] == 2
    assert data["url"] == url

    image = await client.get(page.meta["og:image"].removeprefix(PUBLIC))
    assert image.status == 200
    assert image.content_type == "image/png"
    with Image.open(io.BytesIO(await image.read())) as png:
        assert png.size == (1200, 630)


async def test_hostile_titles_and_descriptions_are_escaped_and_links_made_clickable(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    event = await publish(db, title=HOSTILE_TITLE, description=HOSTILE_DESCRIPTION)
    response = await client.get(f"/events/{event.id}?lang=en")
    body = await response.text()
    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    page = parse(body)
    assert page.scripts == 1
    assert "https://example.org/program?a=1&b=2" in page.links  # the link, without the full stop
    assert not any(link.startswith("javascript:") for link in page.links)
    assert page.meta["og:title"] == HOSTILE_TITLE
    assert json.loads(page.json_ld[0])["name"] == HOSTILE_TITLE
    assert json.loads(page.json_ld[0])["description"] == HOSTILE_DESCRIPTION
    assert "</script><script>" not in page.json_ld[0]


async def test_cancelled_events_keep_their_page_and_unknown_ids_are_a_localised_404(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    event = await publish(db)
    await event_publishing.cancel(
        db.unit_of_work(), ADMIN, event.id, message="Vi flytter mødet til foråret.", now=NOW
    )
    response = await client.get(f"/events/{event.id}?lang=en")
    assert response.status == 200
    page = parse(await response.text())
    assert "This event is cancelled." in page.visible
    assert "Vi flytter mødet til foråret." in page.visible
    assert "Sign up in Telegram" not in page.visible
    assert json.loads(page.json_ld[0])["eventStatus"] == "https://schema.org/EventCancelled"

    for path in ("/events/999999", "/events/999999.ics", "/events/0", "/events/99999999999999"):
        missing = await client.get(path, headers={"Accept-Language": "sv-SE"})
        assert missing.status == 404, path
        assert "Evenemanget hittades inte" in parse(await missing.text()).visible
    assert (await client.get("/events/abc")).status == 404


async def test_full_events_offer_the_waiting_list_and_deadlines_show(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    deadline = dt.datetime(2027, 2, 18, 12, 0, tzinfo=dt.UTC)
    event = await publish(db, capacity=1, rsvp_deadline=deadline)
    await going(db, await add_member(db, 100), event.id)
    text = parse(await (await client.get(f"/events/{event.id}?lang=en")).text()).visible
    assert "Full – you can join the waiting list" in text
    assert "Thursday, 18 February 2027 13:00 CET" in text


async def test_the_calendar_file_is_the_event_for_any_calendar(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    event = await publish(db, title=HOSTILE_TITLE)
    response = await client.get(f"/events/{event.id}.ics")
    assert response.status == 200
    assert response.content_type == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    cal = icalendar.Calendar.from_ical(await response.read())
    assert str(cal["METHOD"]) == "PUBLISH"
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == HOSTILE_TITLE
    assert str(vevent["URL"]) == f"{PUBLIC}/events/{event.id}"
    assert vevent.decoded("DTSTART").isoformat() == "2027-02-20T13:00:00+01:00"
    assert "ATTENDEE" not in vevent


async def test_the_list_shows_upcoming_events_by_region(
    db: Database, client: TestClient[web.Request, web.Application]
) -> None:
    await publish(db, title="Midt-møde")
    await publish(db, title="Skåne-möte", region_id=await region_id(db, "skane"))
    await publish(db, title="Hele netværket", region_id=None)
    await publish(
        db,
        title="Forbi",
        starts_at=NOW + dt.timedelta(hours=1),
        ends_at=NOW + dt.timedelta(hours=2),
    )
    everything = parse(await (await client.get("/events?lang=en")).text()).visible
    assert all(title in everything for title in ("Midt-møde", "Skåne-möte", "Hele netværket"))
    midt = await client.get("/events?region=midtjylland&lang=en")
    assert midt.status == 200
    text = parse(await midt.text()).visible
    assert "Midt-møde" in text
    assert "Hele netværket" in text
    assert "Skåne-möte" not in text
    assert (await client.get("/events?region=atlantis")).status == 404
    assert (await client.get("/events?region=%3Cscript%3E")).status == 404


async def test_the_preview_image_is_cached_and_redrawn_when_the_event_changes(
    db: Database,
) -> None:
    cache = PreviewCache()
    app = web.Application()
    pages.add_routes(
        app, db, settings=settings(), username=lambda: BOT, clock=lambda: NOW, previews=cache
    )
    event = await publish(db)
    async with TestClient(TestServer(app)) as client:
        first = await (await client.get(f"/events/{event.id}.png")).read()
        again = await (await client.get(f"/events/{event.id}.png")).read()
        assert first == again
        assert cache.drawn == 1
        await event_publishing.update(
            db.unit_of_work(), ADMIN, event.id, "title", "Et nyt navn", now=NOW
        )
        changed = await (await client.get(f"/events/{event.id}.png")).read()
        assert changed != first
        assert cache.drawn == 2


async def test_the_http_server_of_samvirke_run_serves_the_pages(db: Database) -> None:
    event = await publish(db)
    app = build_http_app(db, None, secret=None, settings=settings(), clock=lambda: NOW)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get(f"/events/{event.id}")).status == 200
        assert (await client.get("/events")).status == 200
        assert (await client.get(f"/events/{event.id}.ics")).status == 200
