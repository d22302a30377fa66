"""The funder report as files: the PDF read back with pdftotext and rendered with pdftoppm, the
CSV and the xlsx read back; all three carry the same figures."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from storage.reports import figures as report_figures
from storage.reports.figures import FunderFigures, Meeting
from storage.uow import Database
from templates.report import labels, render
from tests.support import report_kit
from tests.support.events_kit import ADMIN
from tests.support.pdf import figure, page_images, text_of

NETWORK = "Sociale Entreprenører i Danmark"
MADE = report_kit.NOW


@pytest.fixture
async def seeded(db: Database) -> FunderFigures:
    network = await report_kit.seed(db)
    return await report_figures.funder_figures(
        db.unit_of_work(), ADMIN, start=network.start, end=network.end, region_id=None,
        now=report_kit.NOW, timezone="Europe/Copenhagen",
    )  # fmt: skip


def _render(figures: FunderFigures, fmt: render.Format, language: str = "da") -> bytes:
    return render.render(figures, fmt, language=language, network=NETWORK, made_at=MADE)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_pdf_of_a_seeded_network(seeded: FunderFigures, tmp_path: Path) -> None:
    document = _render(seeded, "pdf")
    assert document.startswith(b"%PDF")
    pages = text_of(document, tmp_path)
    assert len(pages) >= 4
    cover = " ".join(pages[0].split())
    assert "SOCIALE ENTREPRENØRER I DANMARK" in cover
    assert "1. januar 2026 – 25. november 2026" in cover
    assert "Alle regioner" in cover
    text = "\n".join(pages)
    for value, label in [
        (seeded.meetings_held, "Afholdte møder"),
        (seeded.registrations, "Tilmeldinger (deltager)"),
        (seeded.unique_participants, "Forskellige deltagere"),
        (seeded.participations, "Deltagelser (tjekket ind)"),
    ]:
        assert figure(pages, label) == str(value)
    assert figure(pages, "Fremmødeprocent") == "81 %"
    assert figure(pages, "Givne tidsbanktimer") == "3,5"  # with a Danish decimal comma
    assert "Region Skåne" in text  # a bar label
    assert "Årsmøde og opsamling" in text  # a meeting in the table
    assert "Metode" in text
    assert "Kontakter mellem sektorer" in text  # the heat map's heading
    connections = seeded.connections
    assert figure(pages, "Andel kontakter på tværs af sektorer") == labels.percent(
        connections.cross_sector_share, "da"
    )
    assert figure(pages, "Skabte kontakter") == str(connections.by_status["accepted"])
    for number, page in enumerate(pages[1:], start=2):
        assert f"Side {number} / {len(pages)}" in page
    images = page_images(document, tmp_path)
    assert len(images) == len(pages)
    assert all(image.read_bytes().startswith(b"\x89PNG") for image in images)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_csv_and_xlsx_carry_the_same_figures(seeded: FunderFigures) -> None:
    rows = list(csv.reader(io.StringIO(_render(seeded, "csv", "en").decode("utf-8-sig"))))
    titles = [rows[i + 1][0] for i, row in enumerate(rows[:-1]) if not row] + [rows[0][0]]
    assert sorted(titles) == sorted(
        [
            "About the report", "Key figures", "Participations by sector",
            "Participations by region", "Participations per month", "Connections by sector",
            "Meetings", "Method",
        ]
    )  # fmt: skip
    key = {row[0]: row[1] for row in rows if len(row) == 2}
    connections = seeded.connections
    assert connections.cross_sector_share is not None
    assert key["Cross-sector share of connections"] == str(round(connections.cross_sector_share, 4))
    assert key["Connections made (accepted introductions)"] == str(
        connections.by_status["accepted"]
    )
    at = rows.index(["Connections by sector"])
    header, *matrix = rows[at + 1 : at + 7]
    assert header[0] == "Sector of the member who asked"
    assert header[1:] == [
        "Civil society", "Public sector (municipality or region)", "Business", "Foundation",
        "University or research",
    ]  # fmt: skip
    codes = ["civil_society", "public", "business", "foundation", "academia"]
    assert [[int(n) for n in row[1:]] for row in matrix] == [
        [connections.matrix.get((a, b), 0) for b in codes] for a in codes
    ]
    assert key["Meetings held"] == str(seeded.meetings_held)
    assert key["Participations (checked in)"] == str(seeded.participations)
    assert key["Unique participants"] == str(seeded.unique_participants)
    assert key["Timebank hours given"] == "3.5"

    book = load_workbook(io.BytesIO(_render(seeded, "xlsx", "sv")))
    assert book.sheetnames[:3] == ["Om rapporten", "Nyckeltal", "Deltaganden per sektor"]
    figures = {row[0]: row[1] for row in book["Nyckeltal"].iter_rows(values_only=True)}
    assert figures["Hållna möten"] == seeded.meetings_held
    assert figures["Deltaganden (incheckade)"] == seeded.participations
    assert figures["Andel kontakter över sektorsgränser"] == round(
        seeded.connections.cross_sector_share or 0, 4
    )
    matrix = list(book["Kontakter per sektor"].iter_rows(values_only=True))
    counts = [n for row in matrix[1:] for n in row[1:]]
    assert all(isinstance(n, int) for n in counts)
    assert sum(int(str(n)) for n in counts) == seeded.connections.accepted_with_sectors
    meetings = list(book["Möten"].iter_rows(values_only=True))
    assert len(meetings) == 1 + seeded.meetings_held
    assert [row[3] for row in meetings[1:]] == [m.registered for m in seeded.meetings]


def _nothing(title: str = "") -> FunderFigures:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    stats = report_kit.empty_stats(start, start + dt.timedelta(days=31))
    meetings = [Meeting(1, start, title, None, True, 1, 0, 0)] if title else []
    return FunderFigures(
        start=start, end=start + dt.timedelta(days=31), timezone="Europe/Copenhagen",
        region_name="Region Skåne", meetings_held=len(meetings), registrations=len(meetings),
        unique_participants=0, participations=0, attendance_rate=None, new_members=0,
        cross_sector_share=None, timebank_minutes=0, feedback_average=None, feedback_count=0,
        by_sector={}, by_region={}, by_month=[("2020-01", 0)], meetings=meetings, stats=stats,
        connections=report_kit.empty_connections(start, start + dt.timedelta(days=31)),
    )  # fmt: skip


def test_an_empty_period_says_there_was_nothing(tmp_path: Path) -> None:
    pages = text_of(_render(_nothing(), "pdf", "sv"), tmp_path)
    text = " ".join(" ".join(pages).split())
    assert "Region Skåne" in text
    assert "Inget att rapportera för den här perioden" in text
    rows = list(csv.reader(io.StringIO(_render(_nothing(), "csv", "en").decode("utf-8-sig"))))
    assert ["Meetings held", "0"] in rows


def test_member_text_never_becomes_a_formula() -> None:
    figures = _nothing('=HYPERLINK("http://evil.example")')
    rows = list(csv.reader(io.StringIO(_render(figures, "csv", "en").decode("utf-8-sig"))))
    assert any(row[1:2] == ['\'=HYPERLINK("http://evil.example")'] for row in rows)
    book = load_workbook(io.BytesIO(_render(figures, "xlsx", "en")))
    cell = book["Meetings"]["B2"]
    assert cell.value == '\'=HYPERLINK("http://evil.example")'
    assert cell.data_type == "s"


def test_a_network_name_cannot_break_out_of_the_style_sheet() -> None:
    from templates.report import pdf

    html = pdf.html(
        dataclasses.replace(_nothing(), region_name="<b>x</b>"),
        language="en", network='Evil"; } </style><script>x</script>', made_at=MADE,
    )  # fmt: skip
    assert "<script>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
