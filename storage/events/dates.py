"""Reading the dates and times organisers type, in the network's time zone (showing them is
``templates.formatting``).

Pure functions. Accepted forms (Danish, Swedish and English month and weekday names, any case):

- ``2026-12-03 13:00``, ``2026-12-03T13:00``
- ``3.12.2026 13:00``, ``3.12.2026 kl. 13.00``, ``3.12 13-17``
- ``3/12 13-17``, ``3/12/2026 13:00`` (day first, as in the Nordic countries)
- ``20 februar 2026 kl. 13``, ``torsdag den 20. februar 2026 kl. 13-17``,
  ``20 februari 2026 kl 13:30``, ``20 Feb 2026 at 1pm``, ``February 20, 2026 13:00``

After the start may come an end: a time (``13-17``, ``13:00 til 17:00``, ``13.00–17.00``) or a
whole date and time (``3.12.2026 13:00 - 4.12.2026 16:00``). A date without a year is the next
such date from today. Results are aware datetimes in UTC; failures are reason codes (see
``REASONS``), which the bot turns into messages.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

REASONS = (
    "when_unreadable",  # no date could be read
    "date_invalid",  # e.g. 31.2.2026
    "time_missing",  # a date without a time
    "time_invalid",  # e.g. 25:00, or a time that does not exist (the spring DST gap)
    "when_in_past",
    "end_before_start",
)

MONTHS: dict[str, int] = {}
for _names in (
    # Danish, Swedish, English
    "januar februar marts april maj juni juli august september oktober november december",
    "januari februari mars april maj juni juli augusti september oktober november december",
    "january february march april may june july august september october november december",
):
    for _number, _name in enumerate(_names.split(), start=1):
        MONTHS[_name] = _number
        MONTHS.setdefault(_name[:3], _number)
MONTHS.update({"sept": 9, "okt": 10, "mrt": 3})

_WEEKDAY_NAMES = (
    "mandag tirsdag onsdag torsdag fredag lørdag søndag "
    "måndag tisdag onsdag torsdag fredag lördag söndag "
    "monday tuesday wednesday thursday friday saturday sunday "
    "man tir ons tor fre lør søn mån tis tors lör sön "
    "mon tue tues wed thu thur thurs fri sat sun"
)
WEEKDAYS = set(_WEEKDAY_NAMES.split())
FILLERS = {"kl", "klokken", "klockan", "at", "den", "the", "on", "fra", "från", "from", "d"}
RANGE_WORDS = {"til", "till", "to", "until", "tom", "-"}

_TIME = r"(?P<{p}h>[0-9]{{1,2}})(?:[:.](?P<{p}m>[0-9]{{2}}))?\s*(?P<{p}ap>am|pm)?"
START_TIME = _TIME.format(p="s")
END_TIME = _TIME.format(p="e")
DATE_FORMS = [
    re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?:t|\s|$)"),
    re.compile(r"(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.(?P<y>[0-9]{4}|[0-9]{2})(?=\s|$)"),
    re.compile(r"(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})(?:/(?P<y>[0-9]{4}|[0-9]{2}))?(?=\s|$)"),
    re.compile(
        r"(?P<d>[0-9]{1,2})(?:\.|st|nd|rd|th)?\s*(?P<mon>[a-zæøåäö]+)\.?(?:\s+(?P<y>[0-9]{4}))?(?=\s|$)"
    ),
    re.compile(
        r"(?P<mon>[a-zæøåäö]+)\.?\s+(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?(?:\s+(?P<y>[0-9]{4}))?(?=\s|$)"
    ),
    re.compile(r"(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.?(?=\s)"),
]
ONLY_TIME = re.compile(rf"^{START_TIME}$")
TIME_RANGE = re.compile(rf"^{START_TIME}\s*-\s*{END_TIME}$")
TIME_THEN_MORE = re.compile(rf"^{START_TIME}\s*-\s*(?P<rest>.+)$")


@dataclass(frozen=True)
class When:
    """A start, and an end if one was given (both aware, UTC)."""

    start: dt.datetime
    end: dt.datetime | None = None


@dataclass(frozen=True)
class Rejected:
    reason: str


class _Fail(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise(text: str) -> str:
    """Lower case, one kind of dash, no commas, fillers ("kl.", weekday names) left out."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[‐‑‒–—−]", "-", text)
    text = text.replace(",", " ")
    words = []
    for word in text.split():
        bare = word.rstrip(".")
        if bare in FILLERS or bare in WEEKDAYS:
            continue
        words.append("-" if bare in RANGE_WORDS else word)
    return " ".join(words)


def _year(raw: str | None, today: dt.date) -> int | None:
    if raw is None:
        return None
    year = int(raw)
    return year + 2000 if year < 100 else year


def _read_date(text: str, today: dt.date) -> tuple[dt.date, str]:
    """The date at the start of ``text`` and what follows it."""
    for pattern in DATE_FORMS:
        match = pattern.match(text)
        if match is None:
            continue
        parts = match.groupdict()
        if parts.get("mon") is not None:
            month = MONTHS.get(parts["mon"].rstrip("."))
            if month is None:
                continue
        else:
            month = int(parts["m"])
        day = int(parts["d"])
        year = _year(parts.get("y"), today)
        try:
            if year is not None:
                return dt.date(year, month, day), text[match.end() :].strip()
            candidate = dt.date(today.year, month, day)
            if candidate < today:
                candidate = dt.date(today.year + 1, month, day)
        except ValueError:
            raise _Fail("date_invalid") from None
        return candidate, text[match.end() :].strip()
    raise _Fail("when_unreadable")


def _time(hour: str, minute: str | None, ampm: str | None) -> dt.time:
    h, m = int(hour), int(minute or 0)
    if ampm is not None:
        if not 1 <= h <= 12:
            raise _Fail("time_invalid")
        h = h % 12 + (12 if ampm == "pm" else 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise _Fail("time_invalid")
    return dt.time(h, m)


def _aware(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    local = dt.datetime.combine(day, time, tzinfo=tz)
    try:
        utc = local.astimezone(dt.UTC)
        back = utc.astimezone(tz)
    except OverflowError:  # the first or last hours of the calendar (1.1.0001 00:30)
        raise _Fail("date_invalid") from None
    # A time that does not exist (the hour skipped when summer time begins) comes back changed.
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise _Fail("time_invalid")
    return utc


def _read(text: str, *, tz: ZoneInfo, now: dt.datetime) -> When:
    today = now.astimezone(tz).date()
    day, rest = _read_date(text, today)
    if not rest:
        raise _Fail("time_missing")
    if match := ONLY_TIME.match(rest):
        return When(_aware(day, _time(match["sh"], match["sm"], match["sap"]), tz))
    if match := TIME_RANGE.match(rest):
        start = _aware(day, _time(match["sh"], match["sm"], match["sap"]), tz)
        end = _aware(day, _time(match["eh"], match["em"], match["eap"]), tz)
        return When(start, end)
    if match := TIME_THEN_MORE.match(rest):
        start = _aware(day, _time(match["sh"], match["sm"], match["sap"]), tz)
        end_day, end_rest = _read_date(match["rest"], start.astimezone(tz).date())
        end_match = ONLY_TIME.match(end_rest)
        if end_match is None:
            raise _Fail("time_invalid" if end_rest else "time_missing")
        end = _aware(end_day, _time(end_match["sh"], end_match["sm"], end_match["sap"]), tz)
        return When(start, end)
    raise _Fail("time_invalid")


# No event, end or deadline further ahead than this: a typo such as 2062 or 9999 is refused at
# once, and nothing stored is near the end of the calendar (feeds and invites keep working).
YEARS_AHEAD = 5
FURTHEST_AHEAD = dt.timedelta(days=365 * YEARS_AHEAD + 2)


def too_far(moment: dt.datetime, *, now: dt.datetime) -> bool:
    return moment > now + FURTHEST_AHEAD


def parse_when(text: str, *, tz: ZoneInfo, now: dt.datetime) -> When | Rejected:
    """A start (and perhaps an end) from what an organiser typed; not in the past, at most
    YEARS_AHEAD years ahead."""
    try:
        when = _read(normalise(text), tz=tz, now=now)
    except _Fail as failure:
        return Rejected(failure.reason)
    if when.start <= now:
        return Rejected("when_in_past")
    if when.end is not None and when.end <= when.start:
        return Rejected("end_before_start")
    if too_far(when.end or when.start, now=now):
        return Rejected("when_too_far")
    return when


def parse_end(text: str, *, start: dt.datetime, tz: ZoneInfo) -> dt.datetime | Rejected:
    """The end of an event that starts at ``start``: a time that day, or a date and time."""
    normal = normalise(text)
    try:
        if match := ONLY_TIME.match(normal):
            end = _aware(
                start.astimezone(tz).date(), _time(match["sh"], match["sm"], match["sap"]), tz
            )
        else:
            end = _read(normal, tz=tz, now=start).start
    except _Fail as failure:
        return Rejected(failure.reason)
    if end <= start:
        return Rejected("end_before_start")
    if too_far(end, now=start):
        return Rejected("when_too_far")
    return end


def _read_moment(
    text: str, *, tz: ZoneInfo, now: dt.datetime, default_time: dt.time
) -> dt.datetime:
    day, rest = _read_date(text, now.astimezone(tz).date())
    if not rest:
        return _aware(day, default_time, tz)
    if match := ONLY_TIME.match(rest):
        return _aware(day, _time(match["sh"], match["sm"], match["sap"]), tz)
    raise _Fail("time_invalid")


def parse_moment(
    text: str,
    *,
    tz: ZoneInfo,
    now: dt.datetime,
    default_time: dt.time = dt.time(23, 59),
    latest: dt.datetime | None = None,
) -> dt.datetime | Rejected:
    """A date with or without a time (e.g. an RSVP deadline: ``1.12.2026`` is the day's end),
    after ``now`` and at most ``latest`` (default: YEARS_AHEAD years after ``now``)."""
    try:
        moment = _read_moment(normalise(text), tz=tz, now=now, default_time=default_time)
    except _Fail as failure:
        return Rejected(failure.reason)
    if moment <= now:
        return Rejected("when_in_past")
    if moment > (latest if latest is not None else now + FURTHEST_AHEAD):
        return Rejected("when_too_far")
    return moment
