"""Calendar data (iCalendar, RFC 5545) built with the ``icalendar`` library.

Three uses:

- **Invites** (iTIP, RFC 5546) mailed through the outbox: ``METHOD:REQUEST`` when a member is
  going (new, promoted from the waiting list, or the event changed) and ``METHOD:CANCEL`` when
  they stop going or the event is cancelled. One VEVENT with a stable ``UID``, ``SEQUENCE``,
  ``DTSTAMP``, ``ORGANIZER`` (``SAMVIRKE_MAIL_FROM``), the member as ``ATTENDEE`` with
  ``PARTSTAT``, ``DTSTART``/``DTEND`` with ``TZID`` and a matching ``VTIMEZONE``, ``LOCATION``,
  ``DESCRIPTION``, ``URL``, ``STATUS``. scheduler.mail adds it to the mail as a
  ``text/calendar; method=...`` alternative and an ``invite.ics`` attachment.
- **Add to calendar** in the chat: the same event as ``METHOD:PUBLISH``, without attendees.
- **Feeds**: ``GET /calendar/<region>.ics`` and ``/calendar/all.ics``, all events of a region.

The outbox payload of an invite carries its event as plain data (storage.events.notices writes it,
``from_payload`` reads it)::

    "calendar": {"method": "REQUEST" | "CANCEL", "uid": str, "sequence": int,
                 "dtstamp": ISO datetime, "summary": str, "description": str,
                 "location": str | None, "url": str | None, "start": ISO UTC, "end": ISO UTC,
                 "tzid": IANA zone, "status": "CONFIRMED" | "CANCELLED",
                 "attendee": {"name": str, "email": str, "partstat": str}}

Whatever a title, a description or a place holds (commas, semicolons, backslashes, line breaks,
emoji, æøå), the library escapes it and folds long lines at 75 octets without splitting a
character; control characters are removed first, so no text can end a line or a property early.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from storage.events.views import EventView

PRODID = "-//Samvirke//Samvirke events//EN"
ORGANIZER_NAME = "Samvirke"
PARTSTATS = ("ACCEPTED", "TENTATIVE", "DECLINED", "NEEDS-ACTION")
STATUSES = ("CONFIRMED", "CANCELLED")


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    partstat: str


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    dtstamp: dt.datetime
    summary: str
    description: str
    location: str | None
    url: str | None
    start: dt.datetime
    end: dt.datetime
    tzid: str
    status: str = "CONFIRMED"
    attendee: Attendee | None = None


@dataclass(frozen=True)
class CalendarPart:
    """An iCalendar object ready for a mail: its METHOD and its bytes (UTF-8, CRLF lines)."""

    method: str
    data: bytes
    filename: str = "invite.ics"


def clean(value: str | None) -> str:
    """Text as it may appear in a property: NFC, line breaks kept as ``\\n``, no other control
    characters."""
    if not value:
        return ""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch for ch in value if ch in "\n\t" or not unicodedata.category(ch).startswith("C")
    )


def _param(value: str) -> str:
    """A parameter value (such as CN): one line, no double quotes (RFC 5545 3.1)."""
    return " ".join(clean(value).replace('"', "'").split())


def _address(email: str) -> str:
    if any(ch in email for ch in '\r\n\t ;:,"<>') or "@" not in email:
        raise ValueError("not an e-mail address")
    return f"mailto:{email}"


def _local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The moment in the event's time zone; in UTC where that zone's time would fall outside
    the calendar Python knows (the last hours of year 9999)."""
    try:
        return moment.astimezone(tz)
    except OverflowError:
        return moment.astimezone(dt.UTC)


def vevent(item: CalendarEvent, *, organizer_email: str) -> icalendar.Event:
    tz = ZoneInfo(item.tzid)
    event = icalendar.Event()
    event.add("uid", clean(item.uid))
    event.add("sequence", item.sequence)
    event.add("dtstamp", item.dtstamp.astimezone(dt.UTC))
    event.add("dtstart", _local(item.start, tz))
    event.add("dtend", _local(item.end, tz))
    event.add("summary", clean(item.summary))
    if item.description:
        event.add("description", clean(item.description))
    if item.location:
        event.add("location", clean(item.location))
    if item.url:
        event.add("url", clean(item.url))
    event.add("status", item.status)
    event.add("transp", "OPAQUE")
    organizer = icalendar.vCalAddress(_address(organizer_email))
    organizer.params["cn"] = ORGANIZER_NAME
    event.add("organizer", organizer)
    if item.attendee is not None:
        attendee = icalendar.vCalAddress(_address(item.attendee.email))
        if item.attendee.name:
            attendee.params["cn"] = _param(item.attendee.name)
        attendee.params["cutype"] = "INDIVIDUAL"
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["partstat"] = item.attendee.partstat
        # They answered in Telegram already: calendar programs need not ask again.
        attendee.params["rsvp"] = "FALSE"
        event.add("attendee", attendee)
    return event


TIMEZONE_YEARS = 12
# The time zone library computes offsets around the window's ends: keep clear of the first and
# last dates Python knows.
_EARLIEST = dt.date(1900, 1, 1)
_LATEST = dt.date(9990, 12, 31)


def _shifted(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days``, kept within _EARLIEST to _LATEST."""
    ordinal = day.toordinal() + days
    return dt.date.fromordinal(min(max(ordinal, _EARLIEST.toordinal()), _LATEST.toordinal()))


def calendar(
    items: Iterable[CalendarEvent],
    *,
    method: str | None,
    organizer_email: str,
    name: str | None = None,
) -> icalendar.Calendar:
    """A VCALENDAR with the events and a VTIMEZONE for each time zone they use."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method is not None:
        cal.add("method", method)
    if name is not None:
        cal.add("name", clean(name))
        cal.add("x-wr-calname", clean(name))
        cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"value": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
    items = list(items)
    for item in items:
        cal.add_component(vevent(item, organizer_email=organizer_email))
    if items:
        # Transitions from a year before the first event to a year after the last: enough for
        # every program, and far shorter than the library's 1970-2038 default.
        # Whatever is stored (an event in year 1 or 9999) builds: the window is clamped to the
        # dates Python has and to at most TIMEZONE_YEARS (clients continue the last rule).
        first = _shifted(min(i.start for i in items).date(), -366)
        last = _shifted(max(i.end for i in items).date(), 366)
        last = min(last, _shifted(first, 366 * TIMEZONE_YEARS))
        cal.add_missing_timezones(first_date=first, last_date=last)
    return cal


def _datetime(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("naive datetime in a calendar payload")
    return parsed


def from_payload(data: Mapping[str, Any], *, organizer_email: str) -> CalendarPart:
    """The invite described by an outbox payload's ``calendar`` part.

    :raises ValueError: the part is malformed (the mail cannot be built).
    """
    method = str(data.get("method", ""))
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unknown calendar method {method!r}")
    attendee_data = data.get("attendee")
    if not isinstance(attendee_data, Mapping):
        attendee_data = {}  # no address: refused below
    partstat = str(attendee_data.get("partstat", "NEEDS-ACTION"))
    status = str(data.get("status", "CONFIRMED"))
    if partstat not in PARTSTATS or status not in STATUSES:
        raise ValueError("unknown PARTSTAT or STATUS in a calendar payload")
    try:
        item = CalendarEvent(
            uid=str(data["uid"]),
            sequence=int(data["sequence"]),
            dtstamp=_datetime(data["dtstamp"]),
            summary=str(data["summary"]),
            description=str(data.get("description") or ""),
            location=data.get("location") or None,
            url=data.get("url") or None,
            start=_datetime(data["start"]),
            end=_datetime(data["end"]),
            tzid=str(data["tzid"]),
            status=status,
            attendee=Attendee(
                name=str(attendee_data.get("name") or ""),
                email=str(attendee_data["email"]),
                partstat=partstat,
            ),
        )
        ZoneInfo(item.tzid)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"incomplete calendar payload: {exc}") from exc
    cal = calendar([item], method=method, organizer_email=organizer_email)
    filename = "invite.ics" if method == "REQUEST" else "cancel.ics"
    return CalendarPart(method=method, data=bytes(cal.to_ical()), filename=filename)


def _from_view(view: EventView, *, url: str | None, now: dt.datetime) -> CalendarEvent:
    description = view.description
    if view.location and view.online_url:
        description = "\n\n".join(p for p in (description, view.online_url) if p)
    return CalendarEvent(
        uid=view.uid,
        sequence=view.sequence,
        dtstamp=now,
        summary=view.title,
        description=description,
        location=view.location or view.online_url,
        url=url or view.online_url,
        start=view.starts_at,
        end=view.ends_at,
        tzid=view.timezone,
        status="CANCELLED" if view.cancelled else "CONFIRMED",
    )


def event_file(
    view: EventView, *, url: str | None, organizer_email: str, now: dt.datetime
) -> bytes:
    """The ``.ics`` file "Add to calendar" sends in the chat (METHOD:PUBLISH)."""
    cal = calendar(
        [_from_view(view, url=url, now=now)], method="PUBLISH", organizer_email=organizer_email
    )
    return bytes(cal.to_ical())


def feed(
    name: str,
    views: Iterable[EventView],
    *,
    url_for: Callable[[int], str | None],
    organizer_email: str,
    now: dt.datetime,
) -> bytes:
    """A subscribable calendar of events (``GET /calendar/<region>.ics``)."""
    items = [_from_view(v, url=url_for(v.id), now=now) for v in views]
    cal = calendar(items, method="PUBLISH", organizer_email=organizer_email, name=name)
    return bytes(cal.to_ical())


def file_name(view: EventView) -> str:
    """An ASCII file name for the event's ``.ics`` ("innovation-pa-det-sociale-omrade.ics")."""
    table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue"})
    folded = unicodedata.normalize("NFKD", view.title.lower().translate(table))
    words = "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in folded).split()
    return ("-".join(words)[:60].strip("-") or f"event-{view.id}") + ".ics"


__all__ = [
    "Attendee",
    "CalendarEvent",
    "CalendarPart",
    "calendar",
    "event_file",
    "feed",
    "file_name",
    "from_payload",
]
