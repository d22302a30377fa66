"""CSV files for organisers, safe to open in spreadsheet programs."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@")


def csv_safe(value: str) -> str:
    """Keep a member's text from being run as a formula by a spreadsheet program."""
    return "'" + value if value[:1] in FORMULA_STARTS else value
