"""Invitations and approvals at the same moment: one decision, and no more uses than allowed."""

from __future__ import annotations

import asyncio
import datetime as dt

from storage.errors import DomainError
from storage.members import profiles as members
from storage.models import Admission, Invitation, Role
from storage.people import membership
from storage.people.membership import Decision
from storage.permissions import Actor
from storage.uow import Database
from tests.support.timebank_kit import ADMIN, person


async def test_two_organisers_approving_at_once_give_one_decision(
    db: Database, now: dt.datetime
) -> None:
    organisers = [await person(db, now, 900 + i, f"Organiser {i}") for i in range(2)]
    for o in organisers:
        await members.set_role(
            db.unit_of_work(), ADMIN, o.id, Role.ORGANISER, region_id=None, now=now
        )
    newcomer = await person(db, now, 950, "Newcomer")
    await membership.admit(
        db.unit_of_work(), newcomer.id, invitation_id=None, approval=True, admins=(), now=now
    )
    actors = [
        Actor(telegram_user_id=o.telegram_user_id, member_id=o.id, role=Role.ORGANISER)
        for o in organisers
    ]
    results = await asyncio.gather(
        membership.decide(
            db.unit_of_work(), actors[0], newcomer.id, approve=True, reason=None, now=now
        ),
        membership.decide(
            db.unit_of_work(), actors[1], newcomer.id, approve=False, reason="no", now=now
        ),
    )
    changed = [r for r in results if r.changed]
    assert len(changed) == 1, results
    other = next(r for r in results if not r.changed)
    assert isinstance(other, Decision)
    assert other.status == changed[0].status
    assert other.decided_by == changed[0].decided_by
    async with db.unit_of_work() as uow:
        admission = await uow.session.get(Admission, newcomer.id)
        assert admission is not None
        assert admission.status == changed[0].status


async def test_simultaneous_sign_ups_take_no_more_uses_than_the_invitation_has(
    db: Database, now: dt.datetime
) -> None:
    inviter = Actor(telegram_user_id=1, member_id=None, is_admin=True)
    invitation = await membership.create_invitation(
        db.unit_of_work(), inviter, uses=3, days=7, members_can_invite=False, now=now
    )
    results = await asyncio.gather(
        *(
            membership.redeem(db.unit_of_work(), invitation.code, 5000 + i, now=now)
            for i in range(8)
        ),
        membership.redeem(db.unit_of_work(), invitation.code, 5000, now=now),  # a double tap
        return_exceptions=True,
    )
    taken = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert {r.code for r in refused} == {"invitation_used_up"}
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Invitation, invitation.id)
        assert row is not None
        assert row.uses == 3
    assert len(taken) in (3, 4)  # the double tap of an admitted person is the same use
