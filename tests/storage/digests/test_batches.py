"""A batch of digests composed at once (issue 16): each member's digest is what it is when the
member's is composed alone, whatever the others in the batch (region, language, window,
answers), and composing a batch costs the same statements for 5 members as for 50."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, insert, select

from storage.digests import periods, runs, unsubscribe
from storage.digests.sections import MAX_ITEMS, SECTIONS, Recipient
from storage.models import Member
from storage.models.events import Event, Rsvp
from storage.models.timebank import TimebankAccount, TimebankCategory, TimebankListing
from storage.uow import Database
from templates.formatting import hours_text
from templates.i18n import translator
from tests.support.regions import region_ids

CPH = ZoneInfo("Europe/Copenhagen")


async def _members(db: Database, now: dt.datetime, *specs: tuple[str, str | None]) -> list[int]:
    """Verified weekly members, one per (language, region code or None), in this order."""
    regions = await region_ids(db)
    async with db.unit_of_work() as uow:
        ids = []
        first = 1 + int(await uow.session.scalar(select(func.max(Member.id))) or 0)
        for number, (language, region) in enumerate(specs, start=first):
            member_id = await uow.session.scalar(
                insert(Member)
                .values(
                    telegram_user_id=900_000 + number,
                    name=f"Medlem {number}",
                    email=f"m{number}@example.dk",
                    email_verified_at=now,
                    sector="civil_society",
                    region_id=regions[region] if region else None,
                    language=language,
                    digest_frequency="weekly",
                    role="member",
                    consent_at=now,
                    created_at=now,
                    updated_at=now,
                )
                .returning(Member.id)
            )
            assert member_id is not None
            ids.append(int(member_id))
        await uow.commit()
    return ids


def _event(
    title: str,
    now: dt.datetime,
    days: float,
    region: int | None,
    *,
    published: int = 30,
    **extra: Any,
) -> Event:
    start = now + dt.timedelta(days=days)
    return Event(
        uid=f"{title}@test",
        title=title,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        timezone="Europe/Copenhagen",
        location="Dokk1, Aarhus",
        region_id=region,
        checkin_code=title[-12:],
        created_at=now - dt.timedelta(days=published),
        **extra,
    )


async def _compose(
    db: Database, recipients: list[tuple[int, periods.Window]]
) -> dict[int, dict[str, Any]]:
    async with db.unit_of_work() as uow:
        members = {
            m.id: m
            for m in await uow.session.scalars(
                select(Member).where(Member.id.in_([i for i, _ in recipients]))
            )
        }
        batch = [Recipient(members[i], span) for i, span in recipients]
        return await runs._contents(uow.session, batch, SECTIONS)


async def test_a_batch_gives_each_member_their_own_digest(db: Database, now: dt.datetime) -> None:
    weekly = periods.window("weekly", now, CPH, "samvirke_bot")
    monthly = periods.window("monthly", now, CPH, "samvirke_bot")
    regions = await region_ids(db)
    midt, skane = regions["midtjylland"], regions["skane"]
    karen, sven, sarah, nadia, erik, mona = await _members(
        db,
        now,
        ("da", "midtjylland"),
        ("sv", "midtjylland"),
        ("en", "skane"),
        ("en", None),
        ("da", None),
        ("en", "midtjylland"),
    )
    async with db.unit_of_work() as uow:
        session = uow.session
        midt_soon = [_event(f"Midt {k:02d}", now, k + 1, midt) for k in range(MAX_ITEMS + 1)]
        far_midt = _event("Midt langt ude, ny", now, 70, midt, published=15)
        far_network = _event("Hele landet, ny", now, 100, None, published=3)
        session.add_all(
            [
                *midt_soon,
                far_midt,
                far_network,
                _event("Skåne-træf", now, 4, skane),
                _event("Aflyst i Midt", now, 0.5, midt, status="cancelled"),
                _event("Forbi i Midt", now, -1, midt),
            ]
        )
        category = TimebankCategory(code="fund", name="Fundraising")
        session.add(category)
        await session.flush()
        session.add_all(
            [
                Rsvp(event_id=midt_soon[1].id, member_id=karen, status="going"),
                Rsvp(event_id=midt_soon[0].id, member_id=sven, status="maybe"),
                Rsvp(event_id=midt_soon[2].id, member_id=sven, status="declined"),
                Rsvp(event_id=far_network.id, member_id=sven, status="waitlist"),
                Rsvp(event_id=midt_soon[0].id, member_id=mona, status="going"),
            ]
        )

        def listing(title: str, by: int, region: int | None, **extra: Any) -> TimebankListing:
            extra.setdefault("created_at", now - dt.timedelta(days=1))
            return TimebankListing(
                member_id=by,
                kind="offer" if by == karen else "request",
                title=title,
                description="",
                category_id=category.id,
                region_id=region,
                **extra,
            )

        session.add_all(
            [
                listing("Karens tilbud", karen, midt),
                listing("Eriks ønske", erik, None),
                listing("Gammelt i Midt", sarah, midt, created_at=now - dt.timedelta(days=20)),
                listing("Lukket", sarah, None, status="closed"),
            ]
        )
        session.add_all(
            [
                TimebankAccount(kind="member", member_id=karen, balance_minutes=150),
                TimebankAccount(kind="member", member_id=erik, balance_minutes=30),
            ]
        )
        await uow.commit()

    def since(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    recipients = [
        (karen, dataclasses.replace(weekly, published_since=since(20))),
        (sven, weekly),  # no previous digest: news since the week before this one
        (sarah, dataclasses.replace(weekly, published_since=since(2))),
        (nadia, weekly),
        (erik, dataclasses.replace(weekly, published_since=since(1))),
        (mona, monthly),
    ]
    batch = await _compose(db, recipients)
    for member_id, span in recipients:  # each alone: the same
        assert (await _compose(db, [(member_id, span)])).get(member_id) == batch.get(member_id)

    def events(member_id: int) -> list[tuple[str, str, str]]:
        return [(e["title"], e["new"], e["status"]) for e in batch[member_id]["events"]]

    def listings(member_id: int) -> list[str]:
        return [item["title"] for item in batch[member_id].get("listings", [])]

    da, sv, en = translator("da"), translator("sv"), translator("en")
    midt_ten = [f"Midt {k:02d}" for k in range(MAX_ITEMS)]
    assert events(karen) == [
        *[(title, "", da("You are going.") if k == 1 else "") for k, title in enumerate(midt_ten)],
        ("Midt langt ude, ny", da("New"), ""),
        ("Hele landet, ny", da("New"), ""),
    ]
    assert events(sven) == [
        *[
            (title, "", sv("You answered maybe.") if k == 0 else "")
            for k, title in enumerate(midt_ten)
        ],
        ("Hele landet, ny", sv("New"), sv("You are on the waiting list.")),
    ]
    assert events(sarah) == [("Skåne-træf", "", "")]
    assert events(nadia) == [("Hele landet, ny", en("New"), "")]
    assert erik not in batch  # the balance alone is no reason to send
    # A monthly window: three months ahead, and a month's news.
    assert events(mona) == [
        (title, en("New"), en("You are going.") if k == 0 else "")
        for k, title in enumerate(midt_ten)
    ] + [("Hele landet, ny", en("New"), "")]
    assert batch[karen]["events"][0]["link"] == (
        f"https://t.me/samvirke_bot?start=event_{midt_soon[0].id}"
    )
    assert batch[karen]["events"][0]["when"] != batch[nadia]["events"][0]["when"]

    assert listings(karen) == ["Eriks ønske"]
    assert listings(sven) == ["Eriks ønske", "Karens tilbud"]
    assert listings(sarah) == ["Eriks ønske"]
    assert listings(nadia) == ["Eriks ønske"]
    assert listings(mona) == ["Eriks ønske", "Karens tilbud", "Gammelt i Midt"]
    assert batch[karen]["listings"][0]["kind"] == da("Request")
    assert batch[sven]["listings"][1] == {
        "kind": sv("Offer"),
        "title": "Karens tilbud",
        "region": "Region Midtjylland",
    }
    assert batch[karen]["balance"] == {"hours": hours_text(da, 150)}
    assert [m for m in batch if "balance" in batch[m]] == [karen]
    assert list(batch[karen]) == ["events", "listings", "balance"]


async def test_meetings_further_ahead_are_the_first_ones_published_since_each_previous_digest(
    db: Database, now: dt.datetime
) -> None:
    weekly = periods.window("weekly", now, CPH)
    midt = (await region_ids(db))["midtjylland"]
    long_ago, lately, never = await _members(
        db, now, ("da", "midtjylland"), ("sv", "midtjylland"), ("en", "midtjylland")
    )
    async with db.unit_of_work() as uow:
        uow.session.add_all(
            [
                *[_event(f"Gammel {k:02d}", now, 60 + k, midt, published=15) for k in range(12)],
                _event("Hele landet", now, 75, None, published=7),
                _event("Ny 1", now, 80, midt, published=1),
                _event("Ny 2", now, 81, midt, published=1),
            ]
        )
        await uow.commit()
    recipients = [
        (long_ago, dataclasses.replace(weekly, published_since=now - dt.timedelta(days=20))),
        (lately, dataclasses.replace(weekly, published_since=now - dt.timedelta(days=5))),
        (never, weekly),  # news since the week before this one
    ]
    batch = await _compose(db, recipients)
    for member_id, span in recipients:
        assert (await _compose(db, [(member_id, span)])).get(member_id) == batch.get(member_id)
    titles = {m: [e["title"] for e in content["events"]] for m, content in batch.items()}
    assert titles == {
        long_ago: [f"Gammel {k:02d}" for k in range(MAX_ITEMS)],
        lately: ["Ny 1", "Ny 2"],
        never: ["Hele landet", "Ny 1", "Ny 2"],
    }


async def test_new_listings_are_each_members_newest_by_others(
    db: Database, now: dt.datetime
) -> None:
    weekly = periods.window("weekly", now, CPH)
    midt = (await region_ids(db))["midtjylland"]
    poster, reader, nowhere, other = await _members(
        db, now, ("da", "midtjylland"), ("sv", "midtjylland"), ("en", None), ("da", "skane")
    )
    async with db.unit_of_work() as uow:
        category = TimebankCategory(code="fund", name="Fundraising")
        uow.session.add(category)
        await uow.session.flush()

        def listing(title: str, by: int, hours_ago: int, region: int | None) -> TimebankListing:
            return TimebankListing(
                member_id=by,
                kind="offer",
                title=title,
                description="",
                category_id=category.id,
                region_id=region,
                created_at=now - dt.timedelta(hours=hours_ago),
            )

        uow.session.add_all(
            [
                *[listing(f"Egen {k}", poster, k, midt) for k in range(3)],  # the newest
                *[listing(f"Andres {k:02d}", other, 10 + k, midt) for k in range(12)],
                listing("Hele landet", poster, 30, None),
            ]
        )
        await uow.commit()
    recipients = [(poster, weekly), (reader, weekly), (nowhere, weekly)]
    batch = await _compose(db, recipients)
    for member_id, span in recipients:
        assert (await _compose(db, [(member_id, span)])).get(member_id) == batch.get(member_id)
    titles = {m: [item["title"] for item in content["listings"]] for m, content in batch.items()}
    assert titles == {
        poster: [f"Andres {k:02d}" for k in range(MAX_ITEMS)],
        reader: [*[f"Egen {k}" for k in range(3)], *[f"Andres {k:02d}" for k in range(7)]],
        nowhere: ["Hele landet"],
    }


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", executed)


async def test_a_batch_costs_the_same_statements_for_5_members_as_for_50(
    db: Database, now: dt.datetime
) -> None:
    regions = await region_ids(db)
    async with db.unit_of_work() as uow:
        meetings = [
            _event("Midt", now, 3, regions["midtjylland"], published=1),
            _event("Skåne", now, 4, regions["skane"]),
            _event("Hele landet", now, 90, None, published=2),
        ]
        uow.session.add_all(meetings)
        await uow.commit()
    codes = [None, *sorted(regions)]
    queued = 0

    async def run_for(count: int) -> list[str]:
        nonlocal queued
        members = await _members(
            db, now, *[(("da", "sv", "en")[n % 3], codes[n % len(codes)]) for n in range(count)]
        )
        async with db.unit_of_work() as uow:
            category = TimebankCategory(code=f"c{count}", name="Fundraising")
            uow.session.add(category)
            await uow.session.flush()
            for n, member_id in enumerate(members[:3]):
                uow.session.add(
                    TimebankAccount(kind="member", member_id=member_id, balance_minutes=60 * n)
                )
                uow.session.add(Rsvp(event_id=meetings[n].id, member_id=member_id, status="going"))
                uow.session.add(
                    TimebankListing(
                        member_id=member_id,
                        kind="offer",
                        title=f"Tilbud {count}.{n}",
                        description="",
                        category_id=category.id,
                        region_id=None,
                        created_at=now - dt.timedelta(days=1),
                    )
                )
            await uow.commit()
        with statements(db) as seen:
            run = await runs.build(
                db.unit_of_work,
                frequency="weekly",
                now=now,
                tz=CPH,
                unsubscribe_token=lambda member_id: unsubscribe.make_token(b"k", member_id),
            )
        assert run.queued == count  # every member had news (the whole network's meeting)
        assert run.already_queued == queued
        queued += count
        return seen

    few = await run_for(5)
    many = await run_for(50)
    assert many == few
    # The due members, which are queued already, their previous digests; the meetings, the
    # answers, the listings, the balances; the mails; the next (no) members.
    assert [s for s in few if s != "BEGIN"] == [*["SELECT"] * 7, "INSERT", "SELECT"]
