"""CSV files for organisers, made to open directly in the spreadsheet program of their locale:
headers and values in the organiser's language, UTF-8 with a byte order mark (so Excel shows
æ, ø, å), and the separator Excel expects there (a semicolon in Danish and Swedish, where the
comma is the decimal sign; a comma in English)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@")
SEMICOLON_LANGUAGES = frozenset({"da", "sv"})


def csv_safe(value: str) -> str:
    """Keep a member's text from being run as a formula by a spreadsheet program."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def separator(language: str) -> str:
    return ";" if language in SEMICOLON_LANGUAGES else ","


def csv_file(language: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """The spreadsheet as bytes, for an organiser who reads ``language``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator(language))
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
