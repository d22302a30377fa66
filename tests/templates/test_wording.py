"""Words that read right to a member (issue 11, item 22): one term per thing in each language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from templates.i18n import translator

LOCALE = Path(__file__).resolve().parents[2] / "templates" / "locale"


def danish_texts() -> list[str]:
    with (LOCALE / "da" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    found: list[str] = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [str(s) for s in strings if s]
    return found


def test_newsletter_off_does_not_read_as_from_in_danish() -> None:
    # "Fra" alone reads as the preposition "from".
    assert translator("da")("Off") == "Slået fra"


def test_the_going_button_is_not_the_attendee_list_in_danish() -> None:
    t = translator("da")
    assert t("Attendees") == "Deltagere"
    assert not t("Attendees").startswith(t("Going"))


def test_danish_uses_one_word_for_check_in() -> None:
    mixed = [s for s in danish_texts() if "check-in" in s.lower()]
    assert mixed == []
