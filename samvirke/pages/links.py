"""What the public event page shows besides the event's own fields: the description with its
links made clickable (everything else escaped), the "Add to calendar" links for Google Calendar
and Outlook, the schema.org ``Event`` JSON-LD, and the visitor's language.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from storage.events.views import EventView
from templates.i18n import LANGUAGES

URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""


def linkify(text: str) -> Markup:
    """The text escaped, with its http(s) links as ``<a>`` (trailing punctuation left out)."""
    parts: list[str] = []
    last = 0
    for found in URL.finditer(text):
        url = found.group(0)
        stripped = url.rstrip(TRAILING)
        # Keep a closing parenthesis that belongs to the link ("…/Foo_(bar)").
        while stripped.count("(") > stripped.count(")") and len(stripped) < len(url):
            stripped = url[: len(stripped) + 1]
        start, end = found.start(), found.start() + len(stripped)
        parts.append(str(escape(text[last:start])))
        parts.append(f'<a href="{escape(stripped)}" rel="nofollow noopener">{escape(stripped)}</a>')
        last = end
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))  # noqa: S704 - every part is escaped above


def _utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _details(view: EventView, page_url: str) -> str:
    return "\n\n".join(p for p in (view.description, view.online_url, page_url) if p)[:1500]


def google_link(view: EventView, page_url: str) -> str:
    query = {
        "action": "TEMPLATE",
        "text": view.title,
        "dates": f"{_utc_stamp(view.starts_at)}/{_utc_stamp(view.ends_at)}",
        "details": _details(view, page_url),
        "location": view.location or view.online_url or "",
        "ctz": view.timezone,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def outlook_link(view: EventView, page_url: str) -> str:
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": view.title,
        "startdt": view.starts_at.astimezone(dt.UTC).isoformat(),
        "enddt": view.ends_at.astimezone(dt.UTC).isoformat(),
        "body": _details(view, page_url),
        "location": view.location or view.online_url or "",
    }
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(query)


def json_ld(
    view: EventView,
    *,
    page_url: str,
    image_url: str,
    organiser: str | None,
    network: str,
    language: str,
) -> Markup:
    """schema.org ``Event`` as JSON-LD, safe inside ``<script>`` (no ``<``, ``>``, ``&``)."""
    tz = view.tz
    if view.location and view.online_url:
        mode = "MixedEventAttendanceMode"
    elif view.online_url:
        mode = "OnlineEventAttendanceMode"
    else:
        mode = "OfflineEventAttendanceMode"
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": view.title,
        "description": view.description,
        "url": page_url,
        "image": [image_url],
        "inLanguage": language,
        "startDate": view.starts_at.astimezone(tz).isoformat(),
        "endDate": view.ends_at.astimezone(tz).isoformat(),
        "eventStatus": "https://schema.org/"
        + ("EventCancelled" if view.cancelled else "EventScheduled"),
        "eventAttendanceMode": f"https://schema.org/{mode}",
        "organizer": {"@type": "Organization", "name": organiser or network, "url": page_url},
    }
    locations: list[dict[str, Any]] = []
    if view.location:
        locations.append({"@type": "Place", "name": view.location, "address": view.location})
    if view.online_url:
        locations.append({"@type": "VirtualLocation", "url": view.online_url})
    if locations:
        data["location"] = locations[0] if len(locations) == 1 else locations
    if view.capacity is not None:
        data["maximumAttendeeCapacity"] = view.capacity
        data["remainingAttendeeCapacity"] = view.seats_left or 0
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - JSON without <, > or &: cannot leave the script element


def pick_language(query: str | None, accept_language: str | None, default: str) -> str:
    """``?lang=`` when it names a language we have, otherwise the best of the browser's
    ``Accept-Language`` (by its q-values), otherwise ``default``."""
    if query in LANGUAGES:
        assert query is not None
        return query
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        short = tag.strip().split("-")[0].lower()
        if short in LANGUAGES and quality > 0:
            ranked.append((-quality, index, short))
    return min(ranked)[2] if ranked else default
