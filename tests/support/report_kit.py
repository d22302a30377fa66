"""A seeded network for the funder-report tests (no tests here): members in every sector and
region, meetings over the year with registrations and check-ins, some timebank hours."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select

from storage.events.stats import StatsReport
from storage.models import (
    CheckIn,
    Introduction,
    IntroductionStatus,
    Member,
    Region,
    Rsvp,
    RsvpStatus,
)
from storage.people.stats import ConnectionsReport
from storage.uow import Database
from tests.support import events_kit, timebank_kit
from tests.support.events_kit import CPH

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
SECTORS = ["civil_society", "public", "business", "foundation", "academia"]
FIRST_NAMES = ["Karen", "Søren", "Åsa", "Björn", "Mette", "Jens", "Ingrid", "Øjvind", "Märta"]
LAST_NAMES = ["Jensen", "Nielsen", "Lindström", "Ærø", "Håkansson", "Møller", "Öberg"]
TITLES = [
    "Innovation på det sociale område – aktører i Region Midt",
    "Socialøkonomiske virksomheder møder kommunerne",
    "Fondenes rolle i social innovation",
    "Workshop: fra idé til partnerskab",
    "Samskabelse i velfærden – erfaringer fra Skåne",
    "Frivillighed og tidsbank: én time er én time",
    "Forskning møder praksis: evaluering af sociale projekter",
    "Netværksmøde: grøn omstilling og sociale entreprenører",
    "Socialt entreprenörskap i Öresundsregionen",
    "Temadag: unge, uddannelse og beskæftigelse",
    "Læringscamp for akademiets medlemmer",
    "Årsmøde og opsamling",
]
PLACES = [
    "Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C",
    "Dokk1, Hack Kampmanns Plads 2, 8000 Aarhus C",
    "Malmö högskola, Nordenskiöldsgatan 1, 211 19 Malmö",
    "Odense Rådhus, Flakhaven 2, 5000 Odense C",
    None,  # online only
]


@dataclass(frozen=True)
class Network:
    member_ids: list[int]
    event_ids: list[int]
    start: dt.datetime  # the first day of 2026 in Copenhagen
    end: dt.datetime  # the day after NOW, in Copenhagen


async def seed(
    db: Database, *, members: int = 150, meetings: int = 12, introductions: int = 60
) -> Network:
    """``members`` members (one in nine an organiser's colleague from Skåne), ``meetings``
    meetings from January to November 2026 with registrations and check-ins, and
    ``introductions`` introductions between them (most accepted)."""
    rng = random.Random(14)
    async with db.unit_of_work() as uow:
        regions = dict((await uow.session.execute(select(Region.code, Region.id))).all())
        codes = sorted(regions)
        rows = []
        for n in range(members):
            joined = dt.datetime(2025, 6, 1, tzinfo=dt.UTC) + dt.timedelta(days=rng.randrange(540))
            rows.append(
                Member(
                    telegram_user_id=500_000 + n,
                    name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    email=f"m{n}@example.dk",
                    email_verified_at=joined,
                    organisation="Organisation",
                    sector=rng.choice([*SECTORS, "civil_society", "public"]),
                    region_id=regions["midtjylland" if n % 3 == 0 else rng.choice(codes)],
                    language=rng.choice(["da", "da", "sv", "en"]),
                    consent_at=joined,
                    consent_version="test",
                    created_at=min(joined, NOW - dt.timedelta(days=1)),
                    updated_at=joined,
                )
            )
        uow.session.add_all(rows)
        await uow.session.flush()
        member_ids = [m.id for m in rows]
        # Introductions through the year, most accepted: the connection figures (their own
        # random numbers, so that the rest of the network stays as it was).
        pairs = random.Random(1412)
        statuses = [IntroductionStatus.ACCEPTED] * 5 + [
            IntroductionStatus.DECLINED, IntroductionStatus.EXPIRED, IntroductionStatus.PENDING,
        ]  # fmt: skip
        for _ in range(introductions):
            asker, asked = pairs.sample(rows, 2)
            made = dt.datetime(2026, 1, 5, tzinfo=dt.UTC) + dt.timedelta(days=pairs.randrange(320))
            uow.session.add(
                Introduction(
                    from_member_id=asker.id, to_member_id=asked.id,
                    status=pairs.choice(statuses), from_sector=asker.sector,
                    to_sector=asked.sector, region_id=asker.region_id, created_at=made,
                    expires_at=made + dt.timedelta(days=14),
                )
            )  # fmt: skip
        await uow.commit()
    event_ids = []
    for n in range(meetings):
        month = 1 + n * 11 // meetings
        starts = dt.datetime(2026, month, 3 + 2 * n, 13, 0, tzinfo=CPH)
        place = PLACES[n % len(PLACES)]
        view = await events_kit.publish(
            db,
            now=starts - dt.timedelta(days=30),
            title=TITLES[n % len(TITLES)],
            starts_at=starts.astimezone(dt.UTC),
            ends_at=(starts + dt.timedelta(hours=4)).astimezone(dt.UTC),
            location=place,
            online_url=None if place else "https://meet.example.org/samvirke",
            region_id=None if n % 4 == 3 else await events_kit.region_id(db),
            capacity=None,
        )
        event_ids.append(view.id)
    async with db.unit_of_work() as uow:
        for event_id in event_ids:
            registered = rng.sample(member_ids, rng.randrange(18, 40))
            for member_id in registered:
                uow.session.add(
                    Rsvp(event_id=event_id, member_id=member_id, status=RsvpStatus.GOING)
                )
            walk_ins = rng.sample([m for m in member_ids if m not in registered], 2)
            for member_id in rng.sample(registered, len(registered) * 3 // 4) + walk_ins:
                uow.session.add(CheckIn(event_id=event_id, member_id=member_id))
        await uow.commit()
    helper = await timebank_kit.person(db, NOW, 900_001, "Åse Holm", sector="foundation")
    helped = await timebank_kit.person(db, NOW, 900_002, "Jørgen Ek", region="skane")
    await timebank_kit.exchange(db, NOW, helper, helped, 2.5)
    await timebank_kit.exchange(db, NOW, helped, helper, 1)
    return Network(
        member_ids=member_ids,
        event_ids=event_ids,
        start=dt.datetime(2026, 1, 1, tzinfo=CPH).astimezone(dt.UTC),
        end=dt.datetime(2026, 11, 26, tzinfo=CPH).astimezone(dt.UTC),
    )


def empty_stats(start: dt.datetime, end: dt.datetime) -> StatsReport:
    return StatsReport(
        start=start, end=end, region_name=None, events=[], registered=0, attended=0,
        unique_attendees=0, registered_by_sector={}, attended_by_sector={},
    )  # fmt: skip


def empty_connections(start: dt.datetime, end: dt.datetime) -> ConnectionsReport:
    return ConnectionsReport(
        start=start, end=end, region_name=None, by_status={}, by_region={}, matrix={},
        invitations_made=0, invitations_used=0,
    )  # fmt: skip
