"""The funder report in the format asked for."""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from storage.reports.figures import FunderFigures

Format = Literal["pdf", "csv", "xlsx"]
FORMATS: Final[tuple[Format, ...]] = ("pdf", "csv", "xlsx")
MEDIA_TYPES: Final[dict[str, str]] = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render(
    figures: FunderFigures, fmt: Format, *, language: str, network: str, made_at: dt.datetime
) -> bytes:
    # Imported when used: matplotlib, WeasyPrint and openpyxl cost tens of megabytes that a
    # process which never writes a report should not carry (issue 16).
    from templates.report import pdf, tables

    if fmt == "pdf":
        return pdf.render(figures, language=language, network=network, made_at=made_at)
    if fmt == "csv":
        return tables.render_csv(figures, language=language, network=network, made_at=made_at)
    return tables.render_xlsx(figures, language=language, network=network, made_at=made_at)
