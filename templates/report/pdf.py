"""The funder report as a PDF: an HTML template with SVG charts, laid out by WeasyPrint."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from storage.reports.figures import FunderFigures
from templates.i18n import translator
from templates.report import charts, labels, sections


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("templates", "report"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _svg(document: str) -> Markup:
    # matplotlib's SVG backend escapes every text it writes.
    return Markup(document)  # noqa: S704


def css_string(text: str) -> Markup:
    """``text`` as a CSS string literal, safe inside a ``<style>`` element."""
    kept = "".join(c if c.isalnum() or c in " .,·–-:/()" else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{kept}"')  # noqa: S704 - every character but these few is escaped


def html(figures: FunderFigures, *, language: str, network: str, made_at: dt.datetime) -> str:
    t = translator(language)
    tz = ZoneInfo(figures.timezone)
    series = t("Participations")
    shown = functools.partial(labels.number, language=language)
    by_sector = [(labels.sector(t, s), shown(n), n) for s, n in figures.by_sector.items()]
    by_region = [(labels.region(t, r), shown(n), n) for r, n in figures.by_region.items()]
    by_month = [(labels.month(m, language), n) for m, n in figures.by_month]
    matrix = sections.connection_matrix(t, figures)
    connection_chart = (
        _svg(
            charts.heat_map(
                [str(row[0]) for row in matrix.rows],
                matrix.header[1:],
                [[int(n or 0) for n in row[1:]] for row in matrix.rows],
                x_title=t("Sector of the member asked"),
                y_title=t("Sector of the member who asked"),
                name="connections",
            )
        )
        if figures.connections.accepted_with_sectors
        else None
    )
    return (
        _environment()
        .get_template("report.html")
        .render(
            _=t,
            language=language,
            network=network,
            period=labels.period(figures.start, figures.end, tz, language),
            region=figures.region_name or t("All regions"),
            made=labels.day(made_at, tz, language),
            figures=figures,
            key_figures=sections.key_figures(t, figures),
            meetings=sections.tables(t, figures)[-1],
            method=sections.method_note(t),
            sector_chart=_svg(charts.bars(by_sector, series=series, name="sector"))
            if by_sector
            else None,
            region_chart=_svg(charts.bars(by_region, series=series, name="region"))
            if by_region
            else None,
            month_chart=_svg(charts.line(by_month, series=series, name="month"))
            if by_month
            else None,
            connection_chart=connection_chart,
            number=lambda value: labels.number(value, language),
            decimal=lambda value: labels.number(value, language, 1),
            css_string=css_string,
        )
    )


def render(figures: FunderFigures, *, language: str, network: str, made_at: dt.datetime) -> bytes:
    from weasyprint import HTML  # imported when used: it loads Pango

    document = html(figures, language=language, network=network, made_at=made_at)
    pdf = HTML(string=document).write_pdf()
    assert pdf is not None
    return bytes(pdf)
