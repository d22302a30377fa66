"""The report's charts as SVG (pygal), embedded in the HTML that WeasyPrint turns into a PDF."""

from __future__ import annotations

import pygal
from pygal.style import Style

INK = "#1f2933"
ACCENT = "#2f6f8f"
STYLE = Style(
    background="white",
    plot_background="white",
    foreground=INK,
    foreground_strong=INK,
    foreground_subtle="#d5dbe1",
    font_family="DejaVu Sans, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
    value_label_font_size=13,
    title_font_size=16,
    colors=(ACCENT,),
    opacity="1",
    opacity_hover="1",
    stroke_opacity="1",
    stroke_width="3",
)
WIDTH = 760


def _common(chart: pygal.graph.graph.Graph) -> None:
    chart.config.show_legend = False
    chart.config.disable_xml_declaration = True
    chart.config.js = []  # no scripts in a document
    chart.config.explicit_size = True
    chart.config.margin = 8


def bars(items: list[tuple[str, str, int]], *, series: str) -> str:
    """Horizontal bars, largest on top; each label ends with its formatted value."""
    height = 70 + 38 * max(len(items), 1)
    chart = pygal.HorizontalBar(
        style=STYLE,
        width=WIDTH,
        height=height,
        show_x_labels=False,
        show_y_guides=False,
        show_x_guides=False,
        truncate_label=-1,
    )
    _common(chart)
    ordered = list(reversed(items))  # pygal draws the first item at the bottom
    chart.x_labels = [f"{label}: {shown}" for label, shown, _ in ordered]
    chart.add(series, [value for _, _, value in ordered])
    return str(chart.render(is_unicode=True))


def line(items: list[tuple[str, int]], *, series: str) -> str:
    """A line over the months, each point with its value."""
    chart = pygal.Line(
        style=STYLE,
        width=WIDTH,
        height=300,
        show_y_guides=True,
        show_x_guides=False,
        dots_size=4,
        truncate_label=-1,
        x_label_rotation=-30 if len(items) > 8 else 0,
        min_scale=2,
        max_scale=6,
        range=(0, max([v for _, v in items] + [1])),
        print_values=True,
        print_values_position="top",
    )
    _common(chart)
    chart.x_labels = [label for label, _ in items]
    chart.add(series, [value for _, value in items])
    return str(chart.render(is_unicode=True))
