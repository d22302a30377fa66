"""Issue 17, items 6, 12 and 13: the input rules every feature shares (storage/rules.py)."""

from __future__ import annotations

import pytest

from storage.errors import InvalidInput
from storage.events import rules as event_rules
from storage.rules import ascii_number, clean_text, validate_email_address, validate_name

ZWJ, ZWNJ = "\u200d", "\u200c"


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("12", 12),
        ("0", 0),
        ("²", None),
        ("٣", None),  # an Arabic-Indic three: isdigit() and int() accept it, we do not
        ("１２", None),  # full-width digits
        ("1²", None),
        ("", None),
        ("-1", None),
        ("1" * 19, None),  # more than a database integer holds
        ("9" * 18, 999_999_999_999_999_999),
    ],
)
def test_only_ascii_digits_are_numbers(typed: str, value: int | None) -> None:
    assert ascii_number(typed) == value


@pytest.mark.parametrize("typed", ["²", "٣٦", "3²"])
def test_seats_typed_with_other_digits_are_refused_clearly(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        event_rules.validate_capacity(typed)
    assert caught.value.code == "capacity_invalid"


def test_an_address_the_mail_path_cannot_deliver_is_refused_at_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_email_address("søren.ærø@example.dk")
    assert caught.value.code == "email_not_ascii"
    # A domain with æ, ø, å is fine: it is sent in its ASCII (IDNA) form.
    assert validate_email_address("soren@ærø.dk") == "soren@ærø.dk"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Karen 👩\u200d💻🇩🇰", "Karen 👩\u200d💻🇩🇰"),  # ZWJ inside an emoji sequence
        ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ inside a Persian word
        ("क्\u200dष", "क्\u200dष"),  # ZWJ in Devanagari
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", None),  # tag flag
        ("Karen\u202eneraK", "KarenneraK"),  # a right-to-left override is dropped
        ("Karen\u2066x\u2069", "Karenx"),  # isolates too
        ("Karen\u200b", "Karen"),  # zero-width space
        ("\u200dKaren\u200d", "Karen"),  # a joiner joining nothing
        ("Karen\tJensen\nX", "Karen Jensen X"),  # control characters become spaces
        ("Ka\x00ren", "Ka ren"),
    ],
)
def test_names_keep_joiners_and_lose_only_what_is_dangerous(typed: str, kept: str | None) -> None:
    assert clean_text(typed) == (typed if kept is None else kept)


def test_a_name_of_only_invisible_characters_is_empty() -> None:
    with pytest.raises(InvalidInput):
        validate_name("\u200d\u202e\u200b")


def test_dates_and_hours_are_read_from_ascii_digits_only() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from storage.events.dates import Rejected, parse_when
    from storage.timebank.ledger import parse_hours

    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    tz = ZoneInfo("Europe/Copenhagen")
    assert isinstance(parse_when("٣.١٢.٢٠٢٧ ١٣:٠٠", tz=tz, now=now), Rejected)
    assert not isinstance(parse_when("3.12.2027 13:00", tz=tz, now=now), Rejected)
    with pytest.raises(InvalidInput):
        parse_hours("١")
    with pytest.raises(InvalidInput):
        parse_hours("1²")
    assert parse_hours("1.5") == 90
