"""Timebank listings: members' offers of help and requests for help (post, edit, pause,
resume, delete), browsing them page by page, and the categories they are filed under."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import (
    ListingKind,
    ListingStatus,
    Member,
    Region,
    TimebankCategory,
    TimebankListing,
)
from storage.rules import checked_title, clean_multiline
from storage.timebank.common import live_member
from storage.uow import UnitOfWork

TITLE_MAX = 100
LISTING_DESCRIPTION_MAX = 1000
BROWSE_PAGE_SIZE = 5


@dataclass(frozen=True)
class CategoryView:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ListingView:
    id: int
    kind: str
    title: str
    description: str
    category: CategoryView
    region_id: int | None
    region_name: str | None
    status: str
    member_id: int
    poster_name: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class BrowsePage:
    listings: list[ListingView]
    page: int
    pages: int
    total: int


# --- input rules ----------------------------------------------------------------------------


def validate_title(value: str) -> str:
    return checked_title(value, max_length=TITLE_MAX)


def validate_listing_description(value: str) -> str:
    text = clean_multiline(value)
    if not text:
        raise InvalidInput("description_empty")
    if len(text) > LISTING_DESCRIPTION_MAX:
        raise InvalidInput("description_too_long", max=LISTING_DESCRIPTION_MAX)
    return text


# --- loading ----------------------------------------------------------------------------------


def listing_query() -> Select[TimebankListing, TimebankCategory, Member, str]:
    return (
        select(TimebankListing, TimebankCategory, Member, Region.name)
        .join(TimebankCategory, TimebankCategory.id == TimebankListing.category_id)
        .join(Member, Member.id == TimebankListing.member_id)
        .outerjoin(Region, Region.id == TimebankListing.region_id)
    )


def listing_view(row: Row[TimebankListing, TimebankCategory, Member, str]) -> ListingView:
    listing, category, poster, region = row
    return ListingView(
        id=listing.id,
        kind=listing.kind,
        title=listing.title,
        description=listing.description,
        category=CategoryView(category.id, category.code, category.name),
        region_id=listing.region_id,
        region_name=region,
        status=listing.status,
        member_id=listing.member_id,
        poster_name=poster.name or "",
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


async def load_listing(session: AsyncSession, listing_id: int) -> ListingView:
    row = (
        await session.execute(listing_query().where(TimebankListing.id == listing_id))
    ).one_or_none()
    if row is None or row[0].status == ListingStatus.DELETED or row[2].deleted_at is not None:
        raise NotFound("listing_not_found")
    return listing_view(row)


async def _check_category(session: AsyncSession, category_id: int) -> None:
    category = await session.get(TimebankCategory, category_id)
    if category is None or not category.active:
        raise InvalidInput("category_unknown")


async def _check_region(session: AsyncSession, region_id: int | None) -> None:
    if region_id is None:
        return
    region = await session.get(Region, region_id)
    if region is None or not region.active:
        raise InvalidInput("region_unknown")


async def _own_listing(session: AsyncSession, member_id: int, listing_id: int) -> TimebankListing:
    listing = await session.get(TimebankListing, listing_id)
    if listing is None or listing.status == ListingStatus.DELETED:
        raise NotFound("listing_not_found")
    if listing.member_id != member_id:
        raise NotAllowed("not_your_listing")
    return listing


# --- a member's own listings -----------------------------------------------------------------


async def create_listing(
    uow: UnitOfWork,
    member_id: int,
    *,
    kind: str,
    title: str,
    description: str,
    category_id: int,
    region_id: int | None,
    now: dt.datetime,
) -> ListingView:
    """Post an offer of help or a request for help."""
    if kind not in set(ListingKind):
        raise InvalidInput("listing_kind_unknown")
    title = validate_title(title)
    description = validate_listing_description(description)
    async with uow:
        session = uow.session
        await live_member(session, member_id)
        await _check_category(session, category_id)
        await _check_region(session, region_id)
        listing = TimebankListing(
            member_id=member_id,
            kind=kind,
            title=title,
            description=description,
            category_id=category_id,
            region_id=region_id,
            status=ListingStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        session.add(listing)
        await session.flush()
        audit.record(
            session,
            "timebank.listing_created",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing.id,
            kind=kind,
        )
        view = await load_listing(session, listing.id)
        await uow.commit()
        return view


async def update_listing(
    uow: UnitOfWork,
    member_id: int,
    listing_id: int,
    field: str,
    value: str | int | None,
    *,
    now: dt.datetime,
) -> ListingView:
    async with uow:
        session = uow.session
        await live_member(session, member_id)
        listing = await _own_listing(session, member_id, listing_id)
        if field == "title":
            listing.title = validate_title(str(value or ""))
        elif field == "description":
            listing.description = validate_listing_description(str(value or ""))
        elif field == "category":
            await _check_category(session, int(value or 0))
            listing.category_id = int(value or 0)
        elif field == "region":
            region_id = int(value) if value else None
            await _check_region(session, region_id)
            listing.region_id = region_id
        else:
            raise InvalidInput("field_unknown")
        listing.updated_at = now
        await session.flush()
        audit.record(
            session,
            "timebank.listing_changed",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing_id,
            field=field,
        )
        view = await load_listing(session, listing_id)
        await uow.commit()
        return view


async def set_listing_status(
    uow: UnitOfWork, member_id: int, listing_id: int, status: str, *, now: dt.datetime
) -> ListingView | None:
    """Pause, resume (``active``) or delete one's own listing; None once it is deleted."""
    if status not in set(ListingStatus):
        raise InvalidInput("listing_status_unknown")
    async with uow:
        session = uow.session
        await live_member(session, member_id)
        listing = await _own_listing(session, member_id, listing_id)
        listing.status = status
        listing.updated_at = now
        await session.flush()
        audit.record(
            session,
            f"timebank.listing_{status}",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing_id,
        )
        view = None if status == ListingStatus.DELETED else await load_listing(session, listing_id)
        await uow.commit()
        return view


async def my_listings(uow: UnitOfWork, member_id: int) -> list[ListingView]:
    async with uow:
        rows = await uow.session.execute(
            listing_query()
            .where(
                TimebankListing.member_id == member_id,
                TimebankListing.status != ListingStatus.DELETED,
            )
            .order_by(TimebankListing.created_at.desc(), TimebankListing.id.desc())
        )
        return [listing_view(row) for row in rows.all()]


# --- finding listings -----------------------------------------------------------------------


async def get_listing(uow: UnitOfWork, listing_id: int) -> ListingView:
    async with uow:
        return await load_listing(uow.session, listing_id)


async def get_active_listing(uow: UnitOfWork, listing_id: int) -> ListingView:
    """A listing as Browse shows it: active, of a member who has not left (NotFound else)."""
    async with uow:
        row = (
            await uow.session.execute(
                listing_query().where(
                    TimebankListing.id == listing_id,
                    TimebankListing.status == ListingStatus.ACTIVE,
                    Member.deleted_at.is_(None),
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound("listing_not_found")
        return listing_view(row)


async def browse(
    uow: UnitOfWork,
    *,
    category_id: int | None = None,
    region_id: int | None = None,
    kind: str | None = None,
    page: int = 0,
    page_size: int = BROWSE_PAGE_SIZE,
) -> BrowsePage:
    """Active listings of members who have not left, newest first, one page at a time."""
    conditions = [TimebankListing.status == ListingStatus.ACTIVE, Member.deleted_at.is_(None)]
    if category_id:
        conditions.append(TimebankListing.category_id == category_id)
    if region_id:
        conditions.append(TimebankListing.region_id == region_id)
    if kind:
        conditions.append(TimebankListing.kind == kind)
    async with uow:
        session = uow.session
        total = int(
            await session.scalar(
                select(func.count(TimebankListing.id))
                .join(Member, Member.id == TimebankListing.member_id)
                .where(*conditions)
            )
            or 0
        )
        pages = max(1, -(-total // page_size))
        page = min(max(page, 0), pages - 1)
        rows = await session.execute(
            listing_query()
            .where(*conditions)
            .order_by(TimebankListing.created_at.desc(), TimebankListing.id.desc())
            .offset(page * page_size)
            .limit(page_size)
        )
        return BrowsePage([listing_view(row) for row in rows.all()], page, pages, total)


async def categories(uow: UnitOfWork) -> list[CategoryView]:
    async with uow:
        rows = await uow.session.scalars(
            select(TimebankCategory)
            .where(TimebankCategory.active.is_(True))
            .order_by(TimebankCategory.id)
        )
        return [CategoryView(c.id, c.code, c.name) for c in rows.all()]
