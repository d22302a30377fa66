"""The funder report's figures: equal to /stats for the same period and region, and the figures
/stats does not have (new members, regions, months, cross-sector share, timebank hours)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.errors import InvalidInput, NotAllowed
from storage.events import stats as event_stats
from storage.models import CheckIn, Introduction, IntroductionStatus, Member
from storage.people import stats as people_stats
from storage.reports import figures as report_figures
from storage.reports.figures import CROSS_SECTOR_MIN_SECTORS, months_between
from storage.uow import Database
from templates.i18n import translator
from templates.report import sections
from tests.support import events_kit, report_kit
from tests.support.events_kit import ADMIN, CPH

TZ = "Europe/Copenhagen"


def test_months_between_covers_every_month_touched() -> None:
    assert months_between(dt.date(2026, 11, 15), dt.date(2027, 2, 1)) == [
        "2026-11", "2026-12", "2027-01",
    ]  # fmt: skip
    assert months_between(dt.date(2026, 3, 1), dt.date(2026, 3, 2)) == ["2026-03"]
    assert months_between(dt.date(2026, 3, 1), dt.date(2026, 3, 1)) == []


async def test_figures_of_a_seeded_network_equal_stats(db: Database) -> None:
    network = await report_kit.seed(db)
    now = report_kit.NOW
    f = await report_figures.funder_figures(
        db.unit_of_work(), ADMIN, start=network.start, end=network.end, region_id=None,
        now=now, timezone=TZ,
    )  # fmt: skip
    stats = await event_stats.stats(
        db.unit_of_work(), ADMIN, start=network.start, end=network.end, region_id=None, now=now
    )

    assert f.meetings_held == len(stats.events) == 12
    assert f.registrations == stats.registered
    assert f.participations == stats.attended
    assert f.unique_participants == stats.unique_attendees
    assert f.by_sector == stats.attended_by_sector
    assert f.attendance_rate == pytest.approx(stats.attended / stats.registered)
    assert [(m.registered, m.attended) for m in f.meetings] == [
        (e.registered, e.attended) for e in stats.events
    ]
    assert sum(f.by_region.values()) == sum(n for _, n in f.by_month) == f.participations
    assert (f.by_month[0][0], f.by_month[-1][0]) == ("2026-01", "2026-11")
    assert f.timebank_minutes == 210  # 2.5 hours one way, 1 hour back
    async with db.unit_of_work() as uow:
        joined = await uow.session.scalar(
            select(func.count(Member.id)).where(
                Member.created_at >= network.start, Member.created_at < network.end
            )
        )
    assert f.new_members == joined
    cross = sum(m.attended for m in f.meetings if m.sectors >= CROSS_SECTOR_MIN_SECTORS)
    assert f.cross_sector_share == pytest.approx(cross / f.participations)
    assert not f.empty


async def test_one_region_and_the_one_region_organiser(db: Database) -> None:
    event = await events_kit.publish(db, now=events_kit.NOW)
    elsewhere = await events_kit.publish(
        db, now=events_kit.NOW, region_id=await events_kit.region_id(db, "skane")
    )
    here = await events_kit.add_member(db, 71, sector="business")
    there = await events_kit.add_member(db, 72, sector="academia", region="skane")
    async with db.unit_of_work() as uow:
        uow.session.add_all(
            [
                CheckIn(event_id=event.id, member_id=here),
                CheckIn(event_id=event.id, member_id=there),
                CheckIn(event_id=elsewhere.id, member_id=there),
            ]
        )
        await uow.commit()
    organiser = await events_kit.add_organiser(db, 73, organiser_region="midtjylland")
    after = events_kit.END.astimezone(dt.UTC) + dt.timedelta(days=1)
    start = dt.datetime(2027, 1, 1, tzinfo=CPH)
    end = dt.datetime(2027, 3, 1, tzinfo=CPH)
    f = await report_figures.funder_figures(
        db.unit_of_work(), organiser, start=start, end=end, region_id=None, now=after, timezone=TZ
    )
    assert f.region_name == "Region Midtjylland"
    assert f.meetings_held == 1
    assert f.by_region == {"Region Midtjylland": 1, "Region Skåne": 1}
    assert f.by_sector == {"business": 1, "academia": 1}
    assert f.cross_sector_share == 0.0  # two sectors at the one meeting
    assert f.new_members == 0  # signed up before the period
    with pytest.raises(NotAllowed):
        await report_figures.funder_figures(
            db.unit_of_work(), organiser, start=start, end=end,
            region_id=await events_kit.region_id(db, "skane"), now=after, timezone=TZ,
        )  # fmt: skip
    with pytest.raises(InvalidInput):
        await report_figures.funder_figures(
            db.unit_of_work(), ADMIN, start=start, end=end, region_id=9999, now=after, timezone=TZ
        )
    assert await report_figures.region_by_code(db.unit_of_work(), "Skane") == (
        await events_kit.region_id(db, "skane"),
        "Region Skåne",
    )
    assert await report_figures.region_by_code(db.unit_of_work(), "atlantis") is None


async def test_an_empty_period_is_empty(db: Database) -> None:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    f = await report_figures.funder_figures(
        db.unit_of_work(), ADMIN, start=start, end=start + dt.timedelta(days=31),
        region_id=None, now=events_kit.NOW, timezone=TZ,
    )  # fmt: skip
    assert f.empty
    assert f.attendance_rate is None
    assert f.cross_sector_share is None
    assert f.by_month == [("2020-01", 0)]


async def test_connection_figures_equal_stats_connections(db: Database) -> None:
    network = await report_kit.seed(db)
    midt = await events_kit.region_id(db)
    organiser = await events_kit.add_organiser(db, 74, organiser_region="midtjylland")
    for actor, region_id in [(ADMIN, None), (ADMIN, midt), (organiser, None)]:
        f = await report_figures.funder_figures(
            db.unit_of_work(), actor, start=network.start, end=network.end,
            region_id=region_id, now=report_kit.NOW, timezone=TZ,
        )  # fmt: skip
        shown = await people_stats.connections(
            db.unit_of_work(), actor, start=network.start, end=network.end, region_id=region_id
        )
        assert f.connections == shown
        async with db.unit_of_work() as uow:
            query = select(Introduction.from_sector, Introduction.to_sector).where(
                Introduction.status == IntroductionStatus.ACCEPTED
            )
            if actor is organiser or region_id is not None:
                query = query.where(Introduction.region_id == midt)
            accepted = (await uow.session.execute(query)).all()
        crossing = [pair for pair in accepted if pair[0] != pair[1]]
        assert 0 < len(crossing) < len(accepted)
        assert f.connections.cross_sector_share == pytest.approx(len(crossing) / len(accepted))

        t = translator("en")
        key = {figure.label: figure.raw for figure in sections.key_figures(t, f)}
        assert key["Connections made (accepted introductions)"] == len(accepted)
        assert key["Cross-sector share of connections"] == round(shown.cross_sector_share or 0, 4)
        matrix = sections.connection_matrix(t, f)
        assert sum(int(n or 0) for row in matrix.rows for n in row[1:]) == len(accepted)
        assert sum(int(row[1 + i] or 0) for i, row in enumerate(matrix.rows)) == len(
            accepted
        ) - len(crossing)
