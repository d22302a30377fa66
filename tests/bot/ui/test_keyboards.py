"""Button labels: cut at a word boundary with "…", never mid-word or with a trailing space."""

from __future__ import annotations

import pytest

from bot.ui.keyboards import label


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("Short title", 40, "Short title"),
        ("Exactly ten", 11, "Exactly ten"),
        ("Innovation på det sociale område – aktører i Region Midt", 48,
         "Innovation på det sociale område – aktører i…"),
        ("Workshop about the EU's ESF+ programme, 2027", 30, "Workshop about the EU's ESF+…"),
        ("Hjælp til ansøgninger, regnskab", 24, "Hjælp til ansøgninger…"),
        ("Ansøgningsskrivningsworkshopforløbet", 12, "Ansøgningss…"),
        ("  spaces   inside\nand newlines  ", 40, "spaces inside and newlines"),
    ],
)  # fmt: skip
def test_label(text: str, limit: int, shown: str) -> None:
    assert label(text, limit) == shown
    assert len(label(text, limit)) <= limit
    assert " …" not in label(text, limit)
