"""CSV files for organisers, made to open directly in the spreadsheet program of their locale:
headers and values in the organiser's language, UTF-8 with a byte order mark (so Excel shows
æ, ø, å), and the separator Excel expects there (a semicolon in Danish and Swedish, where the
comma is the decimal sign; a comma in English)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import IO, Self

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


class CsvSpool:
    """The same spreadsheet for a list too long to hold: rows are written a batch at a time
    into a temporary file, and ``finished`` gives the file, rewound, to send."""

    def __init__(self, language: str, header: Sequence[str]) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        self._text = io.TextIOWrapper(self._file, encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._text, delimiter=separator(language))
        self._writer.writerow(header)

    def write(self, rows: Iterable[Sequence[object]]) -> None:
        self._writer.writerows(rows)

    def finished(self) -> IO[bytes]:
        self._text.flush()
        self._file.seek(0)
        return self._file

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._text.close()  # closes the file too, which deletes it
