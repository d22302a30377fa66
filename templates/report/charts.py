"""The report's charts as SVG (matplotlib's SVG backend, text kept as text), embedded in the
HTML that WeasyPrint lays out."""

from __future__ import annotations

import io
import re
import textwrap

import matplotlib
from matplotlib.figure import Figure

# Text stays text (selectable, read back by pdftotext, set in the page's fonts); element ids are
# stable from one run to the next.
matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "samvirke-report",
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.edgecolor": "#6b7785",
        "xtick.color": "#3e4c59",
        "ytick.color": "#1f2933",
    }
)

INK = "#1f2933"
ACCENT = "#2f6f8f"
WIDTH_INCHES = 6.7  # the text width of an A4 page with 20 mm margins


def _plain(text: str) -> str:
    """Keep matplotlib from reading ``$…$`` in a name as mathematics."""
    return text.replace("$", r"\$")


def _svg(figure: Figure, prefix: str) -> str:
    """The figure as an SVG element, its ids prefixed: several charts share one page."""
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    document = out.getvalue()
    document = document[document.index("<svg") :]
    document = re.sub(r'\bid="', f'id="{prefix}-', document)
    document = document.replace("url(#", f"url(#{prefix}-")
    return document.replace('href="#', f'href="#{prefix}-')


def bars(items: list[tuple[str, str, int]], *, series: str, name: str) -> str:
    """Horizontal bars, largest on top, each with its formatted value at its end.
    ``items``: label, value as shown, value."""
    figure = Figure(figsize=(WIDTH_INCHES, 0.35 + 0.32 * max(len(items), 1)))
    axes = figure.add_subplot()
    ordered = list(reversed(items))  # matplotlib draws the first bar at the bottom
    drawn = axes.barh(
        [_plain(label) for label, _, _ in ordered],
        [value for _, _, value in ordered],
        color=ACCENT,
        height=0.7,
        label=_plain(series),
    )
    axes.bar_label(drawn, labels=[shown for _, shown, _ in ordered], padding=3, color=INK)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    axes.set_xticks([])
    axes.tick_params(axis="y", length=0)
    axes.margins(x=0.08, y=0.02)
    figure.tight_layout(pad=0.3)
    return _svg(figure, name)


def line(items: list[tuple[str, int]], *, series: str, name: str) -> str:
    """A line over the months, each point with its value above it."""
    figure = Figure(figsize=(WIDTH_INCHES, 2.6))
    axes = figure.add_subplot()
    labels = [_plain(label) for label, _ in items]
    values = [value for _, value in items]
    axes.plot(labels, values, color=ACCENT, marker="o", linewidth=2, label=_plain(series))
    for x, value in enumerate(values):
        axes.annotate(
            str(value), (x, value), textcoords="offset points", xytext=(0, 6), ha="center",
            color=INK,
        )  # fmt: skip
    axes.set_ylim(0, max([*values, 1]) * 1.2)
    axes.grid(axis="y", color="#d5dbe1", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if len(items) > 8:
        axes.tick_params(axis="x", labelrotation=35)
        for tick in axes.get_xticklabels():
            tick.set_horizontalalignment("right")
    figure.tight_layout(pad=0.3)
    return _svg(figure, name)


def heat_map(
    rows: list[str], columns: list[str], values: list[list[int]], *, x_title: str, y_title: str,
    name: str,
) -> str:  # fmt: skip
    """A matrix of counts as shaded cells, each with its count; the darker, the more."""
    figure = Figure(figsize=(WIDTH_INCHES, 3.9))
    axes = figure.add_subplot()
    highest = max([max(row, default=0) for row in values] + [1])
    axes.imshow(values, cmap="Blues", vmin=0, vmax=highest, aspect="auto")
    for y, row in enumerate(values):
        for x, value in enumerate(row):
            axes.text(
                x, y, str(value), ha="center", va="center",
                color="white" if value > highest * 0.55 else INK,
            )  # fmt: skip
    axes.set_xticks(range(len(columns)), [_plain(textwrap.fill(c, 16)) for c in columns])
    axes.set_yticks(range(len(rows)), [_plain(textwrap.fill(r, 22)) for r in rows])
    axes.xaxis.tick_top()
    axes.xaxis.set_label_position("top")
    axes.set_xlabel(_plain(x_title), color=INK, labelpad=6)
    axes.set_ylabel(_plain(y_title), color=INK)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xticks([i - 0.5 for i in range(1, len(columns))], minor=True)
    axes.set_yticks([i - 0.5 for i in range(1, len(rows))], minor=True)
    axes.grid(which="minor", color="white", linewidth=2)
    axes.tick_params(which="minor", length=0)
    figure.tight_layout(pad=0.3)
    return _svg(figure, name)
