"""Search text folded the way people type Nordic letters: "aeroe" finds "Ærø", "goteborg"
finds "Göteborg", "aarhus" and "arhus" both find "Århus"."""

from __future__ import annotations

import unicodedata

# How people spell the letters out ("Aeroe", "Malmoe", "Aarhus") ...
_SPELT = str.maketrans(
    {"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ð": "d"}
)
# ... and how they drop the marks ("Goteborg", "Arhus", "Skane").
_PLAIN = str.maketrans(
    {"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o", "ü": "u", "ß": "ss", "ð": "d"}
)


def _fold(text: str, table: dict[int, str]) -> str:
    spelt = unicodedata.normalize("NFKD", text.casefold().translate(table))
    kept = "".join(ch if ch.isalnum() else " " for ch in spelt if not unicodedata.combining(ch))
    return " ".join(kept.split())


def fold(text: str) -> str:
    """Lower case, Nordic letters spelt out (æ→ae, ø→oe, å→aa, ä→ae, ö→oe), other accents
    dropped, runs of spaces and punctuation made one space."""
    return _fold(text, _SPELT)


def matches(query: str, *fields: str | None) -> bool:
    """Every word of the query is found in one of the fields, spelt out or without marks."""
    texts = " \n ".join(f for f in fields if f)
    spelt, plain = _fold(texts, _SPELT), _fold(texts, _PLAIN)
    return all(
        word in spelt or _fold(word, _PLAIN) in plain for word in _fold(query, _SPELT).split()
    )
