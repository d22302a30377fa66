"""The funder report for a seeded network (150 members, 12 meetings over 2026, some timebank
hours; tests/support/report_kit.py): how long the figures and each format take, and the files
to look at.

Run from the repository root: ``.venv/bin/python tests/benchmarks/bench_report.py [--out DIR]
[--language da|sv|en]``. It seeds a fresh SQLite database in a temporary folder, computes the
figures once (``storage.reports.figures.funder_figures``, as /report and ``samvirke report`` do)
and renders PDF, CSV and xlsx three times each, printing the median wall and CPU time; the
files, and the PDF's pages as PNG when ``pdftoppm`` is installed, go to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage.migrate import upgrade_engine
from storage.reports.figures import FunderFigures, funder_figures
from storage.uow import Database
from templates.report.render import FORMATS, render
from tests.support import report_kit
from tests.support.events_kit import ADMIN


async def seeded_figures() -> FunderFigures:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await upgrade_engine(db.engine)
        network = await report_kit.seed(db)
        started = time.perf_counter()
        figures = await funder_figures(
            db.unit_of_work(), ADMIN, start=network.start, end=network.end, region_id=None,
            now=report_kit.NOW, timezone="Europe/Copenhagen",
        )  # fmt: skip
        print(f"figures: {1000 * (time.perf_counter() - started):.0f} ms (SQLite)")
        await db.dispose()
    return figures


def main(out: Path, language: str) -> None:
    figures = asyncio.run(seeded_figures())
    out.mkdir(parents=True, exist_ok=True)
    for fmt in FORMATS:
        times, cpu = [], []
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            data = render(
                figures, fmt, language=language, network="Sociale Entreprenører i Danmark",
                made_at=report_kit.NOW,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        target = out / f"report-{language}.{fmt}"
        target.write_bytes(data)
        print(
            f"{fmt}: median {1000 * statistics.median(times):.0f} ms wall, "
            f"{1000 * statistics.median(cpu):.0f} ms CPU of 3, "
            f"{len(data):,} bytes -> {target}"
        )
    if shutil.which("pdftoppm"):
        prefix = out / f"report-{language}-page"
        pdf = str(out / f"report-{language}.pdf")
        subprocess.run(["pdftoppm", "-r", "60", "-png", pdf, str(prefix)], check=True)
        print(f"pages: {sorted(p.name for p in out.glob(prefix.name + '*.png'))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("report-sample"))
    parser.add_argument("--language", choices=["da", "sv", "en"], default="da")
    arguments = parser.parse_args()
    main(arguments.out, arguments.language)
