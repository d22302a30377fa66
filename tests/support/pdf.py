"""Reading a PDF back with poppler-utils (``pdftotext``, ``pdftoppm``): no tests here."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

POPPLER_MISSING = (
    "pdftotext/pdftoppm not found: install Debian's poppler-utils (apt-get install -y "
    "poppler-utils; .ci/run does) to check the report's PDF"
)


def need_poppler() -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip(POPPLER_MISSING)


def text_of(document: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, laid out as on the page."""
    need_poppler()
    source = tmp_path / "report.pdf"
    source.write_bytes(document)
    result = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(source), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8").split("\f")[:-1]


def page_images(document: bytes, tmp_path: Path, *, resolution: int = 40) -> list[Path]:
    """Each page rendered as a PNG."""
    need_poppler()
    source = tmp_path / "pages.pdf"
    source.write_bytes(document)
    subprocess.run(
        ["pdftoppm", "-r", str(resolution), "-png", str(source), str(tmp_path / "page")],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return sorted(tmp_path.glob("page-*.png"))


def figure(pages: list[str], label: str) -> str:
    """The value printed above a key figure's label (``pdftotext -layout`` keeps the boxes,
    two by two, in columns)."""
    lines = "\n".join(pages).splitlines()
    for above, line in itertools.pairwise(lines):
        if label in line:
            column = line.index(label)
            found = re.match(r"\s*(\S+(?: %)?)", above[column:])
            assert found is not None, above
            return found.group(1)
    raise AssertionError(f"{label!r} not in the report")
