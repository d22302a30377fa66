"""The pure rules of an event's post: what the buttons carry and how a press is read back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.events.views import EventView
from storage.models import ChatKind
from templates import channel_cards
from tests.support.events_kit import END, START

LINKS = channel_cards.Links(bot_username="sv_bot", public_url="https://x.example/", language="en")


def view(**changes: object) -> EventView:
    values: dict[str, object] = {
        "id": 7, "uid": "u", "title": "Møde", "description": "", "starts_at": START,
        "ends_at": END, "timezone": "Europe/Copenhagen", "location": "Aarhus",
        "online_url": None, "region_id": None, "region_name": None, "capacity": 2,
        "rsvp_deadline": None, "status": "published", "sequence": 0, "checkin_code": "c",
        "cancel_message": None, "going": 2,
    }  # fmt: skip
    values.update(changes)
    return EventView(**values)  # type: ignore[arg-type]


def test_group_posts_carry_answers_and_channel_posts_only_links() -> None:
    group = channel_cards.buttons(view(), ChatKind.GROUP, LINKS)
    assert [b["callback_data"] for b in group[0]] == ["grp:7:g", "grp:7:m", "grp:7:n"]
    assert group[1] == [
        {"text": "Sign up / answer in Telegram", "url": "https://t.me/sv_bot?start=event_7"},
        {"text": "Event page", "url": "https://x.example/events/7"},
    ]
    assert channel_cards.buttons(view(), ChatKind.CHANNEL, LINKS) == group[1:]
    cancelled = channel_cards.buttons(view(status="cancelled"), ChatKind.GROUP, LINKS)
    assert cancelled == [[{"text": "Event page", "url": "https://x.example/events/7"}]]
    assert "Full – you can join the waiting list" in channel_cards.text(view(), "en")


def test_the_fingerprint_changes_with_what_the_post_shows() -> None:
    one = channel_cards.fingerprint(channel_cards.text(view(going=1), "en"), [])
    assert one == channel_cards.fingerprint(channel_cards.text(view(going=1), "en"), [])
    assert one != channel_cards.fingerprint(channel_cards.text(view(going=2), "en"), [])


@pytest.mark.parametrize(
    ("data", "expected"),
    [("grp:7:g", (7, "going")), ("grp:12:m", (12, "maybe")), ("grp:3:n", (3, "not_going"))],
)
def test_presses_are_read_back(data: str, expected: tuple[int, str]) -> None:
    assert channel_cards.parse_answer(data) == expected


@given(st.text(max_size=40))
def test_forged_button_data_is_refused_not_raised(data: str) -> None:
    parsed = channel_cards.parse_answer(data)
    assert parsed is None or (
        data.startswith("grp:") and parsed[1] in channel_cards.ANSWER_CODES.values()
    )
    assert channel_cards.parse_answer("grp:" + "9" * 11 + ":g") is None
