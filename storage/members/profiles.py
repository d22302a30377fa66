"""Members: sign-up, profile, settings, roles and the organisers' overview."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.members import role_notices, verification
from storage.models import DigestFrequency, EmailVerification, Member, Region, Role, Sector
from storage.permissions import Actor, require_admin, require_organiser, visible_region_ids
from storage.rules import (
    ascii_number,
    validate_email_address,
    validate_name,
    validate_organisation,
)
from storage.uow import UnitOfWork

CONSENT_VERSION = "2026-11"
LANGUAGES = ("da", "sv", "en")


@dataclass(frozen=True)
class MemberView:
    id: int
    telegram_user_id: int | None
    telegram_username: str | None
    name: str
    email: str
    email_verified: bool
    pending_email: str | None
    organisation: str | None
    sector: str | None
    region_id: int | None
    region_name: str | None
    language: str
    digest_frequency: str
    role: str
    organiser_region_id: int | None
    organiser_region_name: str | None
    created_at: dt.datetime
    organiser_all_regions: bool = False

    def actor(self, admins: frozenset[int]) -> Actor:
        assert self.telegram_user_id is not None
        return Actor(
            telegram_user_id=self.telegram_user_id,
            member_id=self.id,
            role=self.role,
            organiser_region_id=self.organiser_region_id,
            is_admin=self.telegram_user_id in admins,
            organiser_all_regions=self.organiser_all_regions,
        )


@dataclass(frozen=True)
class Registration:
    member: MemberView
    created: bool
    code_sent: bool


def view(member: Member, pending: EmailVerification | None = None) -> MemberView:
    pending_email = pending.email if pending is not None and pending.email != member.email else None
    return MemberView(
        id=member.id,
        telegram_user_id=member.telegram_user_id,
        telegram_username=member.telegram_username,
        name=member.name or "",
        email=member.email or "",
        email_verified=member.email_verified_at is not None,
        pending_email=pending_email,
        organisation=member.organisation,
        sector=member.sector,
        region_id=member.region_id,
        region_name=member.region.name if member.region else None,
        language=member.language,
        digest_frequency=member.digest_frequency,
        role=member.role,
        organiser_region_id=member.organiser_region_id,
        organiser_region_name=member.organiser_region.name if member.organiser_region else None,
        created_at=member.created_at,
        organiser_all_regions=member.organiser_all_regions,
    )


async def _by_telegram(session: AsyncSession, telegram_user_id: int) -> Member | None:
    return await session.scalar(
        select(Member).where(
            Member.telegram_user_id == telegram_user_id, Member.deleted_at.is_(None)
        )
    )


async def _by_id(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.deleted_at is not None:
        raise NotFound("member_not_found")
    return member


async def _view(session: AsyncSession, member: Member) -> MemberView:
    return view(member, await verification.pending(session, member.id))


async def find_by_telegram(uow: UnitOfWork, telegram_user_id: int) -> MemberView | None:
    """The member behind a Telegram user, with any address change waiting for its code.

    This runs for every update the bot gets, so it is one query (regions joined, the
    verification row outer-joined)."""
    async with uow:
        row = (
            await uow.session.execute(
                select(Member, EmailVerification)
                .outerjoin(EmailVerification, EmailVerification.member_id == Member.id)
                .where(Member.telegram_user_id == telegram_user_id, Member.deleted_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        member, code = row
        return view(member, verification.waiting(code))


async def note_telegram_username(uow: UnitOfWork, member_id: int, username: str | None) -> None:
    """Keep the member's Telegram @username current (people change it; lookups by @username
    and timebank introductions use it)."""
    async with uow:
        if username:
            # A username belongs to one Telegram account at a time: whoever showed up with it
            # last has it, and nobody else is found by it any more.
            await uow.session.execute(
                update(Member)
                .where(
                    func.lower(Member.telegram_username) == username.lower(),
                    Member.id != member_id,
                )
                .values(telegram_username=None)
            )
        await uow.session.execute(
            update(Member)
            .where(Member.id == member_id, Member.deleted_at.is_(None))
            .values(telegram_username=username)
        )
        await uow.commit()


async def get(uow: UnitOfWork, member_id: int) -> MemberView:
    async with uow:
        return await _view(uow.session, await _by_id(uow.session, member_id))


async def _check_region(session: AsyncSession, region_id: int) -> None:
    region = await session.get(Region, region_id)
    if region is None or not region.active:
        raise InvalidInput("region_unknown")


def _check_sector(sector: str) -> None:
    if sector not in set(Sector):
        raise InvalidInput("sector_unknown")


async def _registered_before(session: AsyncSession, telegram_user_id: int) -> Registration | None:
    """The registration of a person who is a member already (nothing made, no code sent)."""
    existing = await _by_telegram(session, telegram_user_id)
    if existing is None:
        return None
    return Registration(await _view(session, existing), created=False, code_sent=False)


async def register(
    uow: UnitOfWork,
    *,
    telegram_user_id: int,
    telegram_username: str | None,
    name: str,
    email: str,
    organisation: str | None,
    sector: str,
    region_id: int,
    language: str,
    now: dt.datetime,
) -> Registration:
    """Create the member after consent and send the first verification code.

    Pressing "I agree" twice creates one member and sends one code.
    """
    name = validate_name(name)
    email = validate_email_address(email)
    organisation = validate_organisation(organisation) if organisation else None
    _check_sector(sector)
    if language not in LANGUAGES:
        raise InvalidInput("language_unknown")
    async with uow:
        before = await _registered_before(uow.session, telegram_user_id)
        if before is not None:
            return before
        await _check_region(uow.session, region_id)
        member = Member(
            telegram_user_id=telegram_user_id,
            telegram_username=telegram_username,
            name=name,
            email=email,
            organisation=organisation,
            sector=sector,
            region_id=region_id,
            language=language,
            digest_frequency=DigestFrequency.WEEKLY,
            role=Role.MEMBER,
            consent_at=now,
            consent_version=CONSENT_VERSION,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(member)
        try:
            await uow.session.flush()
        except IntegrityError:
            # The same person pressed "I agree" twice at the same moment: the other tap won.
            await uow.session.rollback()
            before = await _registered_before(uow.session, telegram_user_id)
            if before is None:
                raise
            return before
        audit.record(
            uow.session,
            "member.registered",
            now=now,
            member_id=member.id,
            consent_version=CONSENT_VERSION,
        )
        await verification.issue(uow.session, member, email, key=uow.secret, now=now)
        await uow.session.refresh(member)
        result = Registration(await _view(uow.session, member), created=True, code_sent=True)
        await uow.commit()
        return result


async def update_profile(
    uow: UnitOfWork, member_id: int, field: str, value: str | int | None, *, now: dt.datetime
) -> MemberView:
    """Change one field. A new e-mail address is verified before it replaces the old one."""
    async with uow:
        member = await _by_id(uow.session, member_id)
        if field == "name":
            member.name = validate_name(str(value or ""))
        elif field == "organisation":
            member.organisation = validate_organisation(str(value)) if value else None
        elif field == "sector":
            _check_sector(str(value))
            member.sector = str(value)
        elif field == "region":
            await _check_region(uow.session, int(value or 0))
            member.region_id = int(value or 0)
        elif field == "email":
            email = validate_email_address(str(value or ""))
            if email == member.email and member.email_verified_at is not None:
                raise InvalidInput("email_unchanged")
            await verification.issue(uow.session, member, email, key=uow.secret, now=now)
        else:
            raise InvalidInput("field_unknown")
        member.updated_at = now
        audit.record(
            uow.session, "member.profile_changed", now=now, member_id=member.id, field=field
        )
        await uow.session.flush()
        await uow.session.refresh(member)
        result = await _view(uow.session, member)
        await uow.commit()
        return result


async def set_language(
    uow: UnitOfWork, member_id: int, language: str, *, now: dt.datetime
) -> MemberView:
    """The member's language changed; the member as they are now."""
    if language not in LANGUAGES:
        raise InvalidInput("language_unknown")
    async with uow:
        member = await _by_id(uow.session, member_id)
        member.language = language
        member.updated_at = now
        audit.record(
            uow.session, "member.language_changed", now=now, member_id=member.id, language=language
        )
        view = await _view(uow.session, member)
        await uow.commit()
        return view


async def set_digest_frequency(
    uow: UnitOfWork, member_id: int, frequency: str, *, now: dt.datetime
) -> MemberView:
    """How often the member gets the digest changed; the member as they are now."""
    if frequency not in set(DigestFrequency):
        raise InvalidInput("frequency_unknown")
    async with uow:
        member = await _by_id(uow.session, member_id)
        member.digest_frequency = frequency
        member.updated_at = now
        audit.record(
            uow.session, "member.digest_changed", now=now, member_id=member.id, frequency=frequency
        )
        view = await _view(uow.session, member)
        await uow.commit()
        return view


async def set_role(
    uow: UnitOfWork,
    actor: Actor,
    member_id: int,
    role: str,
    *,
    region_id: int | None,
    now: dt.datetime,
) -> MemberView:
    """Make a member organiser (for all regions, or one) or member again. Administrators only."""
    require_admin(actor)
    if role not in set(Role):
        raise InvalidInput("role_unknown")
    async with uow:
        member = await _by_id(uow.session, member_id)
        if region_id is not None:
            await _check_region(uow.session, region_id)
        before = (member.role, member.organiser_region_id)
        member.role = role
        member.organiser_region_id = region_id if role == Role.ORGANISER else None
        member.organiser_all_regions = role == Role.ORGANISER and region_id is None
        member.updated_at = now
        if (member.role, member.organiser_region_id) != before:
            region = (
                await uow.session.get(Region, member.organiser_region_id)
                if member.organiser_region_id is not None
                else None
            )
            await role_notices.tell(
                uow.session, member, region_name=region.name if region else None, now=now
            )
        audit.record(
            uow.session,
            "member.role_changed",
            now=now,
            member_id=member.id,
            actor_member_id=actor.member_id,
            role=role,
            region_id=member.organiser_region_id,
        )
        await uow.session.flush()
        await uow.session.refresh(member)
        result = await _view(uow.session, member)
        await uow.commit()
        return result


async def find_for_admin(uow: UnitOfWork, actor: Actor, query: str) -> list[MemberView]:
    """Members matching a name, e-mail, @username or Telegram id (administrators only)."""
    require_admin(actor)
    query = query.strip().removeprefix("@")
    if not query:
        return []
    async with uow:
        statement = select(Member).where(Member.deleted_at.is_(None))
        number = ascii_number(query)
        if number is not None:
            statement = statement.where((Member.telegram_user_id == number) | (Member.id == number))
            rows = (await uow.session.scalars(statement.limit(10))).all()
            return [view(m) for m in rows]
        # Matched in Python with casefold(): SQLite's lower() knows only ASCII letters, and a
        # network has a few thousand members at most.
        needle = query.casefold()
        matches = [
            m
            for m in (await uow.session.scalars(statement.order_by(Member.name))).all()
            if any(needle in (v or "").casefold() for v in (m.name, m.email, m.telegram_username))
        ]
        return [view(m) for m in matches[:10]]


@dataclass(frozen=True)
class MembersOverview:
    total: int
    verified: int
    by_sector: dict[str, int]
    by_region: dict[str, int]


def _overview_members(actor: Actor) -> list[ColumnElement[bool]]:
    """Who an organiser's overview counts and lists: members who consented, of the organiser's
    region when they organise one region."""
    require_organiser(actor)
    conditions: list[ColumnElement[bool]] = [
        Member.deleted_at.is_(None),
        Member.consent_at.is_not(None),
    ]
    region_id = visible_region_ids(actor)
    if region_id is not None:
        conditions.append(Member.region_id == region_id)
    return conditions


def _by_count(rows: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """Most first; equal counts by name."""
    return dict(sorted(((k or "", n) for k, n in rows), key=lambda item: (-item[1], item[0])))


async def overview(uow: UnitOfWork, actor: Actor) -> MembersOverview:
    """Counts by sector and region of the members who consented (organisers only), counted by
    the database. An organiser for one region sees that region's members."""
    conditions = _overview_members(actor)
    async with uow:
        session = uow.session
        total, verified = (
            await session.execute(
                select(func.count(), func.count(Member.email_verified_at)).where(*conditions)
            )
        ).one()
        sectors = await session.execute(
            select(Member.sector, func.count()).where(*conditions).group_by(Member.sector)
        )
        regions = await session.execute(
            select(Region.name, func.count())
            .select_from(Member)
            .outerjoin(Region, Region.id == Member.region_id)
            .where(*conditions)
            .group_by(Region.name)
        )
        return MembersOverview(
            total=total,
            verified=verified,
            by_sector=_by_count((sector, n) for sector, n in sectors),
            by_region=_by_count((name, n) for name, n in regions),
        )


async def listing(
    uow: UnitOfWork, actor: Actor, *, batch: int = 1000
) -> AsyncGenerator[list[MemberView]]:
    """The members of the overview by name, ``batch`` at a time, streamed from the database (a
    network of 100,000 is never in memory at once). Close it (``contextlib.aclosing``) when
    stopping early."""
    conditions = _overview_members(actor)
    async with uow:
        statement = (
            select(Member)
            .where(*conditions)
            .order_by(Member.name, Member.id)
            .execution_options(yield_per=batch)
        )
        result = await uow.session.stream_scalars(statement)
        async for rows in result.partitions():
            yield [view(m) for m in rows]
