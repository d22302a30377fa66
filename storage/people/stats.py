"""Connection figures for funders and the network: introductions asked, accepted, declined and
expired in a period (by the asker's region at the time), a 5 × 5 matrix of the two members'
sectors for accepted introductions with the share that crosses sectors, invitations made and
used, and approvals. Counts only: no names (the sectors and region were copied onto each
introduction when it was made, so erased members still count)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.events import views as events
from storage.models import (
    Admission,
    Introduction,
    IntroductionStatus,
    Invitation,
    InvitationUse,
    Member,
    Region,
    Sector,
)
from storage.permissions import Actor, figures_region, require_organiser
from storage.uow import UnitOfWork

SECTORS = [s.value for s in Sector]


@dataclass(frozen=True)
class ConnectionsReport:
    start: dt.datetime
    end: dt.datetime
    region_name: str | None
    by_status: dict[str, int]
    by_region: dict[str, dict[str, int]]
    matrix: dict[tuple[str, str], int]
    invitations_made: int
    invitations_used: int
    admissions: dict[str, int] = field(default_factory=dict)

    @property
    def asked(self) -> int:
        return sum(self.by_status.values())

    @property
    def accepted_with_sectors(self) -> int:
        return sum(self.matrix.values())

    @property
    def cross_sector(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if a != b)

    @property
    def cross_sector_share(self) -> float | None:
        total = self.accepted_with_sectors
        return None if total == 0 else self.cross_sector / total


async def _introductions(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime, region_id: int | None
) -> tuple[Counter[str], dict[str, Counter[str]], Counter[tuple[str, str]]]:
    """Introductions asked in the period: by status, by region and status, and the accepted ones
    by the asking and the asked member's sectors."""
    condition = and_(Introduction.created_at >= start, Introduction.created_at < end)
    if region_id is not None:
        condition = and_(condition, Introduction.region_id == region_id)
    rows = (
        await session.execute(
            select(
                Introduction.status,
                Introduction.from_sector,
                Introduction.to_sector,
                Region.name,
            )
            .outerjoin(Region, Region.id == Introduction.region_id)
            .where(condition)
        )
    ).all()
    by_status: Counter[str] = Counter()
    by_region: dict[str, Counter[str]] = {}
    matrix: Counter[tuple[str, str]] = Counter()
    for status, from_sector, to_sector, region in rows:
        by_status[status] += 1
        by_region.setdefault(region or "", Counter())[status] += 1
        if (
            status == IntroductionStatus.ACCEPTED
            and from_sector in SECTORS
            and to_sector in SECTORS
        ):
            matrix[(from_sector, to_sector)] += 1
    return by_status, by_region, matrix


async def _invitations(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime, region_id: int | None
) -> tuple[int, int, Counter[str]]:
    """Invitations made and used, and admissions by status, in the period: by the inviter's or
    the new member's region."""
    made_condition = and_(Invitation.created_at >= start, Invitation.created_at < end)
    used_condition = and_(InvitationUse.used_at >= start, InvitationUse.used_at < end)
    admission_condition = and_(Admission.created_at >= start, Admission.created_at < end)
    made = select(Invitation.id).outerjoin(Member, Member.id == Invitation.created_by_member_id)
    used = select(InvitationUse.id).join(Invitation, Invitation.id == InvitationUse.invitation_id)
    used = used.outerjoin(Member, Member.id == Invitation.created_by_member_id)
    admitted = select(Admission.status).join(Member, Member.id == Admission.member_id)
    if region_id is not None:
        made_condition = and_(made_condition, Member.region_id == region_id)
        used_condition = and_(used_condition, Member.region_id == region_id)
        admission_condition = and_(admission_condition, Member.region_id == region_id)
    invitations_made = len((await session.scalars(made.where(made_condition))).all())
    invitations_used = len((await session.scalars(used.where(used_condition))).all())
    admissions = Counter((await session.scalars(admitted.where(admission_condition))).all())
    return invitations_made, invitations_used, admissions


async def connections(
    uow: UnitOfWork,
    actor: Actor,
    *,
    start: dt.datetime,
    end: dt.datetime,
    region_id: int | None,
) -> ConnectionsReport:
    require_organiser(actor)
    region_id = figures_region(actor, region_id)
    async with uow:
        session = uow.session
        region_name = await events.active_region_name(session, region_id)
        by_status, by_region, matrix = await _introductions(
            session, start=start, end=end, region_id=region_id
        )
        made, used, admissions = await _invitations(
            session, start=start, end=end, region_id=region_id
        )
        return ConnectionsReport(
            start=start,
            end=end,
            region_name=region_name,
            by_status=dict(by_status),
            by_region={r: dict(c) for r, c in sorted(by_region.items())},
            matrix=dict(matrix),
            invitations_made=made,
            invitations_used=used,
            admissions=dict(admissions),
        )
