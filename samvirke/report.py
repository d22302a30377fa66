"""``samvirke report``: the funder report from the shell, as the administrator sees it."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from samvirke.settings import Settings
from templates.i18n import LANGUAGES
from templates.report.render import FORMATS, Format


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-06-30") from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="write the funder report (PDF, CSV or xlsx) for a period",
        description="Write the funder report for the meetings held from --from to --to (both "
        "days included, in SAMVIRKE_TIMEZONE): key figures, charts, the meetings and a method "
        "note, for all regions or one. The figures are those /stats shows.",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=_date,
        required=True,
        metavar="DATE",
        help="first day, e.g. 2026-01-01",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=_date,
        required=True,
        metavar="DATE",
        help="last day, included, e.g. 2026-06-30",
    )
    parser.add_argument(
        "--region",
        metavar="CODE",
        help="only this region (its code, e.g. midtjylland); default: all",
    )
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the report's language (default: SAMVIRKE_DEFAULT_LANGUAGE)",
    )
    parser.add_argument("--format", dest="fmt", choices=FORMATS, required=True)
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="where to write the report"
    )


async def _build(args: argparse.Namespace, settings: Settings) -> bytes:
    from storage.permissions import Actor
    from storage.reports import figures as report_figures
    from storage.uow import Database
    from templates.report.render import render

    tz = ZoneInfo(settings.timezone)
    now = dt.datetime.now(dt.UTC)
    db = Database(settings.database_url)
    try:
        region_id = None
        if args.region:
            found = await report_figures.region_by_code(db.unit_of_work(), args.region)
            if found is None:
                raise SystemExit(f"samvirke: no active region with the code {args.region!r}")
            region_id = found[0]
        # The shell is the administrator's: every region.
        actor = Actor(telegram_user_id=0, member_id=None, is_admin=True)
        figures = await report_figures.funder_figures(
            db.unit_of_work(),
            actor,
            start=dt.datetime.combine(args.start, dt.time(0), tzinfo=tz).astimezone(dt.UTC),
            end=dt.datetime.combine(
                args.end + dt.timedelta(days=1), dt.time(0), tzinfo=tz
            ).astimezone(dt.UTC),
            region_id=region_id,
            now=now,
            timezone=settings.timezone,
        )
    finally:
        await db.dispose()
    fmt: Format = args.fmt
    return await asyncio.to_thread(
        render,
        figures,
        fmt,
        language=args.language or settings.default_language,
        network=settings.network_name,
        made_at=now,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.end < args.start:
        raise SystemExit("samvirke: --to is before --from")
    data = asyncio.run(_build(args, settings))
    try:
        args.output.write_bytes(data)
    except OSError as error:
        raise SystemExit(f"samvirke: cannot write {args.output}: {error.strerror}") from None
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0
