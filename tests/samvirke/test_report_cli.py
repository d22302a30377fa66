"""``samvirke report`` as a coordinator runs it: the files it writes and its one-line errors."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from storage.events import attendance as event_attendance
from storage.uow import Database
from tests.samvirke.test_cli import run
from tests.support.events_kit import CPH, add_member, going, publish


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_report_of_a_region_as_xlsx_and_pdf(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    # The command counts meetings held before the real now: this one was in March 2026.
    start = dt.datetime(2026, 3, 5, 13, 0, tzinfo=CPH)
    event = await publish(
        db,
        now=start - dt.timedelta(days=30),
        starts_at=start.astimezone(dt.UTC),
        ends_at=(start + dt.timedelta(hours=4)).astimezone(dt.UTC),
    )
    member = await add_member(db, 7001, sector="foundation")
    await going(db, member, event.id, now=start - dt.timedelta(days=3))
    await event_attendance.check_in_by_code(
        db.unit_of_work(), member, event.checkin_code, now=start.astimezone(dt.UTC)
    )
    await db.dispose()
    env = {"SAMVIRKE_DATABASE_URL": database_url, "SAMVIRKE_NETWORK_NAME": "Samvirke Midt"}
    period = ["--from", "2026-01-01", "--to", "2026-03-31", "--region", "midtjylland"]

    out = tmp_path / "report.xlsx"
    result = run(["report", *period, "--language", "en", "--format", "xlsx", "-o", str(out)],
                 tmp_path, **env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    book = load_workbook(io.BytesIO(out.read_bytes()))
    about = dict(book["About the report"].iter_rows(values_only=True))
    assert about["Network"] == "Samvirke Midt"
    assert about["Region"] == "Region Midtjylland"
    assert about["Period"] == "1 January 2026 – 31 March 2026"
    key = dict(book["Key figures"].iter_rows(values_only=True))
    assert (key["Meetings held"], key["Registrations (going)"]) == (1, 1)
    assert key["Attendance rate"] == 1

    pdf = tmp_path / "report.pdf"
    result = run(["report", *period, "--format", "pdf", "-o", str(pdf)], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


def test_report_errors_are_one_line(tmp_path: Path) -> None:
    out = str(tmp_path / "r.csv")
    unknown = run(["report", "--from", "2026-01-01", "--to", "2026-12-31", "--region", "atlantis",
                   "--format", "csv", "-o", out], tmp_path)  # fmt: skip
    assert unknown.returncode != 0
    assert unknown.stderr.strip().splitlines()[-1] == (
        "samvirke: no active region with the code 'atlantis'"
    )
    backwards = run(["report", "--from", "2026-12-31", "--to", "2026-01-01", "--format", "csv",
                     "-o", out], tmp_path)  # fmt: skip
    assert backwards.stderr.strip().splitlines()[-1] == "samvirke: --to is before --from"
    bad = run(["report", "--from", "1.1.2026", "--to", "2026-01-01", "--format", "csv", "-o", out],
              tmp_path)  # fmt: skip
    assert "is not a date like 2026-06-30" in bad.stderr
    empty = run(["report", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "csv",
                 "-o", out], tmp_path)  # fmt: skip
    assert empty.returncode == 0, empty.stderr
    assert "Afholdte møder,0" in Path(out).read_text("utf-8-sig")  # the default language, da
