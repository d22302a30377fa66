"""Pure rules of events: what an event may hold, when RSVPs are open, who gets a seat, who is
promoted from the waiting list, when a reminder is due, check-in codes, who may manage an event.

No database here: storage.events.rsvps and storage.events.publishing apply these rules under the
event's row lock.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from storage.errors import InvalidInput, NotAllowed
from storage.events.dates import YEARS_AHEAD, too_far
from storage.models import EventStatus, RsvpStatus
from storage.permissions import Actor, organises_everywhere, require_organiser
from storage.rules import ascii_number, checked_title, clean_multiline, clean_text

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
LOCATION_MAX = 300
URL_MAX = 500
CAPACITY_MAX = 100_000
CANCEL_MESSAGE_MAX = 1000

# Members may check themselves in from this long before the start until this long after the end.
CHECKIN_EARLY = dt.timedelta(hours=2)
CHECKIN_LATE = dt.timedelta(hours=4)

ANSWERS = (RsvpStatus.GOING, RsvpStatus.MAYBE, RsvpStatus.NOT_GOING)
# Statuses whose holders hear about changes to the event (and its cancellation).
INTERESTED = (RsvpStatus.GOING, RsvpStatus.MAYBE, RsvpStatus.WAITLIST)


# --- what an event may hold -------------------------------------------------------------------


def validate_title(value: str) -> str:
    return checked_title(value, max_length=TITLE_MAX)


def validate_description(value: str) -> str:
    description = clean_multiline(value)
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput("description_too_long", max=DESCRIPTION_MAX)
    return description


def validate_cancel_message(value: str | None) -> str | None:
    message = clean_multiline(value or "")
    if len(message) > CANCEL_MESSAGE_MAX:
        raise InvalidInput("message_too_long", max=CANCEL_MESSAGE_MAX)
    return message or None


def validate_online_url(value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > URL_MAX
        or any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in url)
    ):
        raise InvalidInput("url_invalid", max=URL_MAX)
    return url


URL_IN_TEXT = re.compile(r"https?://\S+", re.IGNORECASE)


def split_place(text: str) -> tuple[str | None, str | None]:
    """An address, an online link, or both, from one answer ("Kongsvang Allé 29, 8000 Aarhus C"
    or "https://meet.example/abc" or the two together)."""
    found = URL_IN_TEXT.search(text)
    url = validate_online_url(found.group(0).rstrip(".,;)")) if found else None
    rest = URL_IN_TEXT.sub(" ", text) if found else text
    location = clean_text(rest).strip(" ,;-") or None
    if location is not None and len(location) > LOCATION_MAX:
        raise InvalidInput("location_too_long", max=LOCATION_MAX)
    if location is None and url is None:
        raise InvalidInput("place_empty")
    return location, url


def validate_capacity(value: str | int | None) -> int | None:
    """A number of seats (1 to 100,000), or None for no limit."""
    if value is None or value == "":
        return None
    text = str(value).strip().replace(".", "").replace(" ", "")
    seats = ascii_number(text, max_digits=7)
    if seats is None or not 1 <= seats <= CAPACITY_MAX:
        raise InvalidInput("capacity_invalid", max=CAPACITY_MAX)
    return seats


def validate_times(start: dt.datetime, end: dt.datetime, *, now: dt.datetime) -> None:
    if start <= now:
        raise InvalidInput("when_in_past")
    if end <= start:
        raise InvalidInput("end_before_start")
    if too_far(end, now=now):
        raise InvalidInput("when_too_far", years=YEARS_AHEAD)


def validate_deadline(
    deadline: dt.datetime | None, *, start: dt.datetime, now: dt.datetime
) -> None:
    if deadline is None:
        return
    if deadline <= now:
        raise InvalidInput("deadline_in_past")
    if deadline > start:
        raise InvalidInput("deadline_after_start")


# --- who may do what ----------------------------------------------------------------------------


def may_manage(actor: Actor | None, event_region_id: int | None) -> bool:
    """Administrators and organisers for all regions manage every event; an organiser for one
    region manages that region's events."""
    if actor is None or not actor.is_organiser:
        return False
    if organises_everywhere(actor):
        return True
    return actor.organiser_region_id is not None and event_region_id == actor.organiser_region_id


def require_manager(actor: Actor, event_region_id: int | None) -> None:
    require_organiser(actor)
    if not may_manage(actor, event_region_id):
        raise NotAllowed("event_other_region")


def require_region_allowed(actor: Actor, region_id: int | None) -> None:
    """An organiser for one region publishes in that region only (not for the whole network)."""
    require_organiser(actor)
    if not may_manage(actor, region_id):
        raise NotAllowed("event_other_region")


# --- RSVPs, seats and the waiting list ----------------------------------------------------------


def rsvp_closed_reason(
    *, status: str, starts_at: dt.datetime, deadline: dt.datetime | None, now: dt.datetime
) -> str | None:
    """Why a member cannot answer now (a reason code), or None: RSVPs close at the deadline,
    or when the event starts if it has none."""
    if status == EventStatus.CANCELLED:
        return "event_cancelled"
    if now >= starts_at:
        return "event_started"
    if deadline is not None and now >= deadline:
        return "rsvp_closed"
    return None


def seats_left(capacity: int | None, going: int) -> int | None:
    """Free seats, or None when there is no limit."""
    return None if capacity is None else max(capacity - going, 0)


def seat_free(capacity: int | None, going: int, waiting: int) -> bool:
    """Can a newcomer take a seat now? Not while others wait for one (they come first)."""
    return capacity is None or (going < capacity and waiting == 0)


def promotions(capacity: int | None, going: int, waiting: int) -> int:
    """How many from the head of the waiting list get a seat now."""
    if capacity is None:
        return waiting
    return max(0, min(capacity - going, waiting))


@dataclass(frozen=True)
class Transition:
    status: str
    changed: bool
    frees_seat: bool  # the member gave up a seat (someone waiting may get it)


def transition(current: str | None, answer: str, *, seat_available: bool) -> Transition:
    """A member's new status when they answer ``answer`` (going, maybe or not_going).

    Going twice, or Going while waiting, changes nothing; Going without a free seat puts the
    member on the waiting list.
    """
    if answer not in ANSWERS:
        raise InvalidInput("answer_unknown")
    if answer == RsvpStatus.GOING:
        if current in (RsvpStatus.GOING, RsvpStatus.WAITLIST):
            return Transition(current, changed=False, frees_seat=False)
        status = RsvpStatus.GOING if seat_available else RsvpStatus.WAITLIST
        return Transition(status, changed=True, frees_seat=False)
    if current == answer:
        return Transition(answer, changed=False, frees_seat=False)
    return Transition(answer, changed=True, frees_seat=current == RsvpStatus.GOING)


def new_capacity_allowed(capacity: int | None, going: int) -> bool:
    """Capacity cannot go below the number already going (nobody loses a seat they have)."""
    return capacity is None or capacity >= going


# --- calendar invites ------------------------------------------------------------------------


def next_invite_sequence(event_sequence: int, last_sent: int | None) -> int:
    """The SEQUENCE of the next calendar message to one member: never lower than the event's,
    always higher than the last one they got (a CANCEL then a new REQUEST must not collide)."""
    return event_sequence if last_sent is None else max(event_sequence, last_sent + 1)


# --- reminders ---------------------------------------------------------------------------------


def reminder_due(
    *,
    starts_at: dt.datetime,
    offsets: tuple[dt.timedelta, ...],
    now: dt.datetime,
    going_since: dt.datetime | None,
) -> dt.timedelta | None:
    """Which reminder a member going should get now, if any.

    The latest one due (the one closest to the start): after downtime, a member gets one
    reminder, not a burst. None once the event has begun, and none that fell due before the
    member said Going (they have just answered; they know).
    """
    if now >= starts_at:
        return None
    due = [offset for offset in offsets if starts_at - offset <= now]
    if not due:
        return None
    latest = min(due)
    if going_since is not None and going_since > starts_at - latest:
        return None
    return latest


def offset_label(offset: dt.timedelta) -> str:
    """``1d``, ``2h``, ``30m``: part of a reminder's outbox key."""
    seconds = int(offset.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


# --- check-in ----------------------------------------------------------------------------------

CHECKIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CHECKIN_LENGTH = 6
CHECKIN_CODE = re.compile(r"^(?=.*[A-Z])(?=.*[2-9])[A-HJ-NP-Z2-9]{6}$")


def new_checkin_code() -> str:
    """Six characters, at least one letter and one digit (so it is never a word, nor a
    six-digit e-mail confirmation code)."""
    while True:
        code = "".join(secrets.choice(CHECKIN_ALPHABET) for _ in range(CHECKIN_LENGTH))
        if CHECKIN_CODE.match(code):
            return code


def normalise_checkin_code(text: str) -> str | None:
    code = re.sub(r"[\s-]", "", text).upper()
    return code if CHECKIN_CODE.match(code) else None


def checkin_open(*, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime) -> bool:
    return starts_at - CHECKIN_EARLY <= now <= ends_at + CHECKIN_LATE


def manual_checkin_open(*, starts_at: dt.datetime, now: dt.datetime) -> bool:
    """Organisers mark people from shortly before the start, and may correct the list later."""
    return now >= starts_at - CHECKIN_EARLY


# --- links ---------------------------------------------------------------------------------------


def deep_link(bot_username: str | None, payload: str) -> str | None:
    return f"https://t.me/{bot_username}?start={payload}" if bot_username else None


def event_link(bot_username: str | None, event_id: int) -> str | None:
    return deep_link(bot_username, f"event_{event_id}")


def checkin_link(bot_username: str | None, code: str) -> str | None:
    return deep_link(bot_username, f"checkin_{code}")


def map_link(location: str) -> str:
    return f"https://www.openstreetmap.org/search?query={quote(location)}"


# --- reporting periods -------------------------------------------------------------------------


# Figures can be asked for from this day on, and up to YEARS_AHEAD years after today.
EARLIEST_FIGURES = dt.date(2000, 1, 1)


def checked_period(first: dt.date, last: dt.date, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """A period of figures from ``first`` to ``last`` (included), as its first day and the day
    after its last; refused ("period_invalid") outside EARLIEST_FIGURES to YEARS_AHEAD years
    ahead, so that no date near the calendar's ends is computed with, and ("period_reversed")
    when the last day comes before the first."""
    latest = today.replace(year=today.year + YEARS_AHEAD, day=min(today.day, 28))
    if last < first:
        raise InvalidInput("period_reversed")
    if first < EARLIEST_FIGURES or last > latest:
        raise InvalidInput("period_invalid", first=EARLIEST_FIGURES.year, last=latest.year)
    return first, last + dt.timedelta(days=1)


def period_from_code(code: str, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period a button stands for (``20260101-20260201``: first day, day after the last),
    checked like a typed one; forged or impossible dates are "period_invalid"."""
    first_text, _, after_text = code.partition("-")
    latest_year = today.year + YEARS_AHEAD
    days: list[dt.date] = []
    for text in (first_text, after_text):
        if len(text) != 8 or ascii_number(text) is None:
            raise InvalidInput("period_invalid", first=EARLIEST_FIGURES.year, last=latest_year)
        try:
            days.append(dt.date(int(text[:4]), int(text[4:6]), int(text[6:])))
        except ValueError:
            raise InvalidInput(
                "period_invalid", first=EARLIEST_FIGURES.year, last=latest_year
            ) from None
    if days[1] <= days[0]:
        raise InvalidInput("end_before_start")
    return checked_period(days[0], days[1] - dt.timedelta(days=1), today=today)


def period_bounds(name: str, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first day and the day after the last of a named period (in the network's calendar)."""
    first_of_month = today.replace(day=1)
    if name == "this_month":
        start = first_of_month
        end = (start + dt.timedelta(days=32)).replace(day=1)
    elif name == "last_month":
        end = first_of_month
        start = (end - dt.timedelta(days=1)).replace(day=1)
    elif name == "this_year":
        start, end = dt.date(today.year, 1, 1), dt.date(today.year + 1, 1, 1)
    elif name == "last_year":
        start, end = dt.date(today.year - 1, 1, 1), dt.date(today.year, 1, 1)
    elif name == "last_12_months":
        end = today + dt.timedelta(days=1)
        start = (
            end.replace(year=end.year - 1)
            if not (end.month == 2 and end.day == 29)
            else (end.replace(year=end.year - 1, day=28))
        )
    else:
        raise InvalidInput("period_unknown")
    return start, end
