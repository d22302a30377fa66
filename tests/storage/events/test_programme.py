"""Reading a programme typed by an organiser (pure rules)."""

from __future__ import annotations

import pytest

from storage.errors import InvalidInput
from storage.events.materials import parse_link
from storage.events.programme import Item, as_text, parse


def test_items_with_and_without_speakers() -> None:
    items = parse(
        "13:00 Velkommen – Karen Jensen, Teknologisk Institut\n"
        "\n"
        "13.15 Korte oplæg | Søren Ærø\n"
        "15 Workshop: fra idé til partnerskab\n"
        "16:30 Opsamling - Åsa Lindström, Social Innovation Skåne, Malmö\n"
    )
    assert items == [
        Item("13:00", "Velkommen", "Karen Jensen", "Teknologisk Institut"),
        Item("13:15", "Korte oplæg", "Søren Ærø", None),
        Item("15:00", "Workshop: fra idé til partnerskab", None, None),
        Item("16:30", "Opsamling", "Åsa Lindström", "Social Innovation Skåne, Malmö"),
    ]
    assert items[0].compact() == "13:00 Velkommen (Karen Jensen, Teknologisk Institut)"
    assert parse(as_text(items)) == items
    assert parse("-") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Velkommen", "programme_line_unreadable"),
        ("13:00 Velkommen\n25:00 Sent", "programme_line_unreadable"),
        ("13:75 Velkommen", "programme_line_unreadable"),
        ("   \n  ", "programme_empty"),
        ("\n".join(f"13:{n:02d} Punkt {n}" for n in range(31)), "programme_too_long"),
        ("13:00 " + "x" * 201, "programme_line_unreadable"),
    ],
)
def test_unreadable_programmes_say_why(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    assert caught.value.code == code


def test_links_with_titles() -> None:
    assert parse_link("Slides fra workshoppen: https://example.org/s.pdf") == (
        "Slides fra workshoppen",
        "https://example.org/s.pdf",
    )
    assert parse_link("https://example.org/list Deltagerliste") == (
        "Deltagerliste",
        "https://example.org/list",
    )
    for text, code in [
        ("Slides", "material_link_missing"),
        ("https://x.org", "material_title_empty"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            parse_link(text)
        assert caught.value.code == code
