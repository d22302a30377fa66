"""The funder report's figures as a spreadsheet: CSV (one section per table) and xlsx (one sheet
per table), with the same rows as the PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from storage.reports.figures import FunderFigures
from templates.i18n import translator
from templates.report import labels, sections

Cell = str | int | float | None


def _sections(
    figures: FunderFigures, *, language: str, network: str, made_at: dt.datetime
) -> list[tuple[str, list[list[Cell]]]]:
    t = translator(language)
    tz = ZoneInfo(figures.timezone)
    about: list[list[Cell]] = [
        [t("Network"), network],
        [t("Period"), labels.period(figures.start, figures.end, tz, language)],
        [t("Region"), figures.region_name or t("All regions")],
        [t("Made on"), labels.day(made_at, tz, language)],
    ]
    key: list[list[Cell]] = [[t("Figure"), t("Value")]]
    key += [[f.label, f.raw] for f in sections.key_figures(t, figures)]
    result = [(t("About the report"), about), (t("Key figures"), key)]
    for table in sections.tables(t, figures):
        result.append((table.title, [list(table.header), *table.rows]))
    result.append((t("Method"), [[paragraph] for paragraph in sections.method_note(t)]))
    return result


def _safe(value: Cell) -> Cell:
    return labels.spreadsheet_safe(value) if isinstance(value, str) else value


def render_csv(
    figures: FunderFigures, *, language: str, network: str, made_at: dt.datetime
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for number, (title, rows) in enumerate(
        _sections(figures, language=language, network=network, made_at=made_at)
    ):
        if number:
            writer.writerow([])
        writer.writerow([_safe(title)])
        for row in rows:
            writer.writerow(["" if cell is None else _safe(cell) for cell in row])
    return out.getvalue().encode("utf-8-sig")


def render_xlsx(
    figures: FunderFigures, *, language: str, network: str, made_at: dt.datetime
) -> bytes:
    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    used: set[str] = set()
    for title, rows in _sections(figures, language=language, network=network, made_at=made_at):
        name = _sheet_name(title, used)
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([_safe(cell) for cell in row])
        if len(rows) > 1 and len(rows[0]) > 1:
            for cell in sheet[1]:
                cell.font = Font(bold=True)
        for column in sheet.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
            letter = column[0].column_letter
            sheet.column_dimensions[letter].width = min(max(width + 2, 10), 70)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique."""
    base = "".join(" " if c in "[]:*?/\\" else c for c in title)[:31].strip() or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" {n}"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name
