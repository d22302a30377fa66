"""Pure rules of events (no database): reading the dates people type, seats and the waiting
list, reminders, check-in codes, who may manage what."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.errors import InvalidInput
from storage.events import rules
from storage.events.dates import Rejected, When, parse_end, parse_moment, parse_when
from storage.permissions import Actor
from templates.formatting import format_when, format_zone
from tests.support.events_kit import CPH

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=CPH).astimezone(dt.UTC)


# --- dates and times as people type them ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-12-03 13:00", local(2026, 12, 3, 13), None),
        ("2026-12-03T13:00", local(2026, 12, 3, 13), None),
        ("3.12.2026 13:00", local(2026, 12, 3, 13), None),
        ("3.12.2026 kl. 13.00–17.00", local(2026, 12, 3, 13), local(2026, 12, 3, 17)),
        ("3/12 13-17", local(2026, 12, 3, 13), local(2026, 12, 3, 17)),
        ("3/12/2026 13:30", local(2026, 12, 3, 13, 30), None),
        ("20 februar 2027 kl. 13", local(2027, 2, 20, 13), None),
        ("torsdag den 18. februar 2027 kl. 13-17", local(2027, 2, 18, 13), local(2027, 2, 18, 17)),
        ("20 februari 2027 kl 13:30", local(2027, 2, 20, 13, 30), None),
        ("20 Feb 2027 at 1pm", local(2027, 2, 20, 13), None),
        ("February 20, 2027 13:00 - 17:00", local(2027, 2, 20, 13), local(2027, 2, 20, 17)),
        ("3/12 13:00 til 17:00", local(2026, 12, 3, 13), local(2026, 12, 3, 17)),
        ("3/12 9am-5pm", local(2026, 12, 3, 9), local(2026, 12, 3, 17)),
        ("3.12.2026 13:00 - 4.12.2026 16:00", local(2026, 12, 3, 13), local(2026, 12, 4, 16)),
        ("3. marts 13-17", local(2027, 3, 3, 13), local(2027, 3, 3, 17)),
        # Summer time: 13:00 in June is 11:00 UTC.
        ("1.6.2027 13:00", dt.datetime(2027, 6, 1, 11, tzinfo=dt.UTC), None),
        # A day and month without a year that has passed this year: next year.
        ("1/3 10-12", local(2027, 3, 1, 10), local(2027, 3, 1, 12)),
    ],
)
def test_the_forms_people_type(text: str, start: dt.datetime, end: dt.datetime | None) -> None:
    assert parse_when(text, tz=CPH, now=NOW) == When(start, end)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("next thursday", "when_unreadable"),
        ("13:00", "when_unreadable"),
        ("31.2.2027 13:00", "date_invalid"),
        ("3.12.2026", "time_missing"),
        ("3.12.2026 25:00", "time_invalid"),
        ("3.12.2026 13:75", "time_invalid"),
        ("28.3.2027 02:30", "time_invalid"),  # that hour does not exist (summer time begins)
        ("1.1.2020 10:00", "when_in_past"),
        ("25.11.2026 12:30", "when_in_past"),  # today, 13:30 local is still ahead; 12:30 not
        ("3/12 17-13", "end_before_start"),
        ("3.12.2026 13:00 - 2.12.2026 16:00", "end_before_start"),
    ],
)
def test_what_cannot_be_read_gets_a_reason(text: str, reason: str) -> None:
    assert parse_when(text, tz=CPH, now=NOW) == Rejected(reason)


def test_the_end_as_a_time_or_a_moment() -> None:
    start = local(2026, 12, 3, 13)
    assert parse_end("17", start=start, tz=CPH) == local(2026, 12, 3, 17)
    assert parse_end("kl. 17.30", start=start, tz=CPH) == local(2026, 12, 3, 17, 30)
    assert parse_end("4.12.2026 16:00", start=start, tz=CPH) == local(2026, 12, 4, 16)
    assert parse_end("12:00", start=start, tz=CPH) == Rejected("end_before_start")


def test_a_deadline_without_a_time_is_the_end_of_that_day() -> None:
    assert parse_moment("1.12.2026", tz=CPH, now=NOW) == local(2026, 12, 1, 23, 59)
    assert parse_moment("1.12.2026 12:00", tz=CPH, now=NOW) == local(2026, 12, 1, 12)
    assert parse_moment("1.1.2026", tz=CPH, now=NOW) == Rejected("when_in_past")


def test_times_are_shown_in_each_language() -> None:
    start, end = local(2027, 2, 18, 13), local(2027, 2, 18, 17)
    assert (
        format_when(start, end, tz=CPH, language="da")
        == "torsdag den 18. februar 2027, 13:00–17:00"
    )
    assert format_when(start, end, tz=CPH, language="sv") == "torsdag 18 februari 2027, 13:00–17:00"
    assert (
        format_when(start, end, tz=CPH, language="en") == "Thursday, 18 February 2027, 13:00–17:00"
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "start", "end", "shown"),
    [
        ("Europe/Copenhagen", utc(2027, 2, 18, 12), utc(2027, 2, 18, 16), "CET"),
        ("Europe/Stockholm", utc(2027, 6, 1, 11), None, "CEST"),
        # The clocks go back during the event.
        ("Europe/Copenhagen", utc(2026, 10, 24, 11), utc(2026, 10, 26, 9), "CEST/CET"),
        # Zones without letters for their time: the offset from UTC.
        ("America/Sao_Paulo", utc(2027, 2, 18, 16), None, "UTC-3"),
        ("Asia/Kathmandu", utc(2027, 2, 18, 6), None, "UTC+5:45"),
    ],
)
def test_the_time_zone_is_shown_as_people_write_it(
    zone: str, start: dt.datetime, end: dt.datetime | None, shown: str
) -> None:
    assert format_zone(start, end, tz=ZoneInfo(zone)) == shown


@settings(max_examples=300)
@given(moment=st.datetimes(min_value=dt.datetime(2027, 1, 1), max_value=dt.datetime(2031, 11, 1)))  # noqa: DTZ001 - hypothesis wants naive bounds
def test_what_is_shown_reads_back_as_the_same_moment(moment: dt.datetime) -> None:
    """The forms the bot itself suggests always read back exactly (minutes, local time)."""
    aware = moment.replace(second=0, microsecond=0, tzinfo=CPH)
    if aware.astimezone(dt.UTC).astimezone(CPH).replace(tzinfo=None) != aware.replace(tzinfo=None):
        return  # a local time that does not exist (summer time gap)
    typed = f"{aware:%d.%m.%Y %H:%M}"
    parsed = parse_when(typed, tz=CPH, now=NOW)
    assert isinstance(parsed, When)
    assert parsed.start.astimezone(CPH).replace(tzinfo=None) == aware.replace(tzinfo=None)


# --- seats and the waiting list ------------------------------------------------------------------


def test_a_newcomer_takes_a_seat_only_when_nobody_waits() -> None:
    assert rules.seat_free(None, 1000, 0)
    assert rules.seat_free(3, 2, 0)
    assert not rules.seat_free(3, 3, 0)
    assert not rules.seat_free(3, 2, 1)  # those waiting come first


@pytest.mark.parametrize(
    ("current", "answer", "free", "expected"),
    [
        (None, "going", True, ("going", True, False)),
        (None, "going", False, ("waitlist", True, False)),
        ("going", "going", False, ("going", False, False)),
        ("waitlist", "going", True, ("waitlist", False, False)),
        ("going", "maybe", False, ("maybe", True, True)),
        ("waitlist", "not_going", False, ("not_going", True, False)),
        ("maybe", "maybe", True, ("maybe", False, False)),
        ("not_going", "going", True, ("going", True, False)),
    ],
)
def test_transitions(
    current: str | None, answer: str, free: bool, expected: tuple[str, bool, bool]
) -> None:
    step = rules.transition(current, answer, seat_available=free)
    assert (step.status, step.changed, step.frees_seat) == expected


def test_unknown_answer() -> None:
    with pytest.raises(InvalidInput):
        rules.transition(None, "waitlist", seat_available=True)


ACTIONS = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from(["going", "maybe", "not_going"])), max_size=60
)


@settings(max_examples=300)
@given(capacity=st.one_of(st.none(), st.integers(1, 5)), actions=ACTIONS, grow=st.integers(0, 3))
def test_never_more_going_than_seats_and_nobody_waits_while_a_seat_is_free(
    capacity: int | None, actions: list[tuple[int, str]], grow: int
) -> None:
    """The service's algorithm with these rules, played without a database."""
    status: dict[int, str] = {}
    waiting: list[int] = []

    def promote() -> None:
        going = sum(s == "going" for s in status.values())
        for member in waiting[: rules.promotions(capacity, going, len(waiting))]:
            status[member] = "going"
        del waiting[: rules.promotions(capacity, going, len(waiting))]

    for member, answer in actions:
        going = sum(s == "going" for s in status.values())
        step = rules.transition(
            status.get(member),
            answer,
            seat_available=rules.seat_free(capacity, going, len(waiting)),
        )
        if not step.changed:
            continue
        if status.get(member) == "waitlist":
            waiting.remove(member)
        status[member] = step.status
        if step.status == "waitlist":
            waiting.append(member)
        if step.frees_seat:
            promote()
        going = sum(s == "going" for s in status.values())
        assert capacity is None or going <= capacity
        seats_left = rules.seats_left(capacity, going)
        assert not (waiting and seats_left)  # nobody waits while a seat is free
    if capacity is not None:
        capacity += grow
        promote()
        going = sum(s == "going" for s in status.values())
        assert going <= capacity
        assert not (waiting and going < capacity)


def test_capacity_cannot_fall_below_those_going() -> None:
    assert rules.new_capacity_allowed(None, 10)
    assert rules.new_capacity_allowed(10, 10)
    assert not rules.new_capacity_allowed(9, 10)


def test_invite_sequences_only_rise() -> None:
    assert rules.next_invite_sequence(0, None) == 0
    assert rules.next_invite_sequence(2, None) == 2
    assert rules.next_invite_sequence(0, 0) == 1  # a CANCEL after the first REQUEST
    assert rules.next_invite_sequence(3, 1) == 3
    assert rules.next_invite_sequence(1, 4) == 5


def test_answers_close_at_the_deadline_else_at_the_start() -> None:
    start = NOW + dt.timedelta(days=10)
    deadline = NOW + dt.timedelta(days=5)
    kw = {"status": "published", "starts_at": start}
    assert rules.rsvp_closed_reason(**kw, deadline=None, now=NOW) is None  # type: ignore[arg-type]
    assert rules.rsvp_closed_reason(**kw, deadline=deadline, now=deadline) == "rsvp_closed"  # type: ignore[arg-type]
    assert rules.rsvp_closed_reason(**kw, deadline=None, now=start) == "event_started"  # type: ignore[arg-type]
    assert (
        rules.rsvp_closed_reason(status="cancelled", starts_at=start, deadline=None, now=NOW)
        == "event_cancelled"
    )


# --- reminders --------------------------------------------------------------------------------

DAY, TWO_HOURS = dt.timedelta(days=1), dt.timedelta(hours=2)
OFFSETS = (DAY, TWO_HOURS)


@pytest.mark.parametrize(
    ("before_start", "going_for", "expected"),
    [
        (dt.timedelta(days=2), dt.timedelta(days=5), None),
        (dt.timedelta(hours=23), dt.timedelta(days=5), DAY),
        (dt.timedelta(hours=1), dt.timedelta(days=5), TWO_HOURS),  # down all day: the latest only
        (dt.timedelta(hours=3), dt.timedelta(hours=1), None),  # answered after it was due
        (dt.timedelta(hours=1), dt.timedelta(hours=1, minutes=30), TWO_HOURS),
        (dt.timedelta(0), dt.timedelta(days=5), None),  # begun
    ],
)
def test_which_reminder_is_due(
    before_start: dt.timedelta, going_for: dt.timedelta, expected: dt.timedelta | None
) -> None:
    start = NOW + dt.timedelta(days=30)
    now = start - before_start
    assert (
        rules.reminder_due(starts_at=start, offsets=OFFSETS, now=now, going_since=now - going_for)
        == expected
    )


def test_offset_labels() -> None:
    assert [rules.offset_label(o) for o in (DAY, TWO_HOURS, dt.timedelta(minutes=30))] == [
        "1d",
        "2h",
        "30m",
    ]


# --- check-in, places, permissions --------------------------------------------------------------


def test_check_in_codes() -> None:
    codes = {rules.new_checkin_code() for _ in range(200)}
    assert len(codes) > 190
    for code in codes:
        assert rules.normalise_checkin_code(code) == code
        assert not code.isdigit()
        assert not code.isalpha()
    assert rules.normalise_checkin_code(" k7p - 3qx ") == "K7P3QX"
    assert rules.normalise_checkin_code("thanks") is None  # a word
    assert rules.normalise_checkin_code("123456") is None  # an e-mail confirmation code
    assert rules.normalise_checkin_code("K0P3QX") is None  # 0 is not in the alphabet


def test_check_in_window() -> None:
    start, end = NOW, NOW + dt.timedelta(hours=4)
    assert not rules.checkin_open(starts_at=start, ends_at=end, now=start - dt.timedelta(hours=3))
    assert rules.checkin_open(starts_at=start, ends_at=end, now=start - dt.timedelta(hours=2))
    assert rules.checkin_open(starts_at=start, ends_at=end, now=end + dt.timedelta(hours=4))
    assert not rules.checkin_open(starts_at=start, ends_at=end, now=end + dt.timedelta(hours=5))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C",
         ("Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C", None)),
        ("https://meet.example.org/midt", (None, "https://meet.example.org/midt")),
        ("Kongsvang Allé 29 og online: https://meet.example.org/midt.",
         ("Kongsvang Allé 29 og online:", "https://meet.example.org/midt")),
    ],
)  # fmt: skip
def test_a_place_is_an_address_a_link_or_both(
    text: str, place: tuple[str | None, str | None]
) -> None:
    assert rules.split_place(text) == place


@pytest.mark.parametrize("text", ["", "   ", " , "])
def test_a_place_cannot_be_empty(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        rules.split_place(text)
    assert error.value.code == "place_empty"


@pytest.mark.parametrize(
    "url", ["ftp://x.example", "https://", "http://a b.dk", "javascript:alert(1)", "x" * 501]
)
def test_not_a_link(url: str) -> None:
    with pytest.raises(InvalidInput) as error:
        rules.validate_online_url(url)
    assert error.value.code == "url_invalid"


def test_who_may_manage_an_event() -> None:
    admin = Actor(1, None, is_admin=True)
    everywhere = Actor(2, 2, role="organiser", organiser_all_regions=True)
    regional = Actor(3, 3, role="organiser", organiser_region_id=4)
    member = Actor(4, 4)
    assert rules.may_manage(admin, 4)
    assert rules.may_manage(everywhere, None)
    assert rules.may_manage(regional, 4)
    assert not rules.may_manage(regional, 5)
    assert not rules.may_manage(regional, None)
    assert not rules.may_manage(member, 4)
    assert not rules.may_manage(None, 4)


def test_periods() -> None:
    today = dt.date(2026, 11, 25)
    assert rules.period_bounds("this_month", today=today) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 12, 1),
    )
    assert rules.period_bounds("last_month", today=today) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 11, 1),
    )
    assert rules.period_bounds("this_year", today=today) == (
        dt.date(2026, 1, 1),
        dt.date(2027, 1, 1),
    )
    assert rules.period_bounds("last_year", today=today) == (
        dt.date(2025, 1, 1),
        dt.date(2026, 1, 1),
    )
    assert rules.period_bounds("last_12_months", today=today) == (
        dt.date(2025, 11, 26),
        dt.date(2026, 11, 26),
    )
    assert rules.period_bounds("this_month", today=dt.date(2026, 12, 31))[1] == dt.date(2027, 1, 1)
    with pytest.raises(InvalidInput):
        rules.period_bounds("forever", today=today)


# --- issue 17, item 4: a sane range of dates ----------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["31.12.9999 21:00-23:30", "1.1.2040 10:00-12:00", "2.1.2032 10-12"]
)
def test_typed_dates_more_than_five_years_ahead_are_refused(typed: str) -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_when(typed, tz=CPH, now=now) == Rejected("when_too_far")


def test_dates_at_the_first_hours_of_the_calendar_are_refused_not_crashing() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    assert isinstance(parse_when("1.1.0001 00:30-01:00", tz=CPH, now=now), Rejected)


@pytest.mark.parametrize(
    "code",
    ["00010101-00010201", "20261399-20261499", "20260101-99991231", "2026010-20260201", "x-y"],
)
def test_forged_period_buttons_are_refused_clearly(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.period_from_code(code, today=dt.date(2026, 12, 1))
    assert caught.value.code in ("period_invalid", "period_reversed")


def test_a_typed_period_ending_in_year_9999_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.checked_period(dt.date(2026, 1, 1), dt.date(9999, 12, 31), today=dt.date(2026, 12, 1))
    assert caught.value.code == "period_invalid"
    assert rules.period_from_code("20260101-20270101", today=dt.date(2026, 12, 1)) == (
        dt.date(2026, 1, 1),
        dt.date(2027, 1, 1),
    )
