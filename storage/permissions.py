"""Who may do what. Pure functions over an ``Actor``; services call them before they act."""

from __future__ import annotations

from dataclasses import dataclass

from storage.errors import NotAllowed
from storage.models import Role


@dataclass(frozen=True)
class Actor:
    """The person behind an update: their member id (if signed up) and their powers."""

    telegram_user_id: int
    member_id: int | None
    role: str = Role.MEMBER
    organiser_region_id: int | None = None
    is_admin: bool = False

    @property
    def is_organiser(self) -> bool:
        return self.is_admin or self.role == Role.ORGANISER


def require_organiser(actor: Actor) -> None:
    if not actor.is_organiser:
        raise NotAllowed("organisers_only")


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise NotAllowed("admins_only")


def visible_region_ids(actor: Actor) -> int | None:
    """The region an organiser is limited to, or None for all regions."""
    if actor.is_admin or actor.organiser_region_id is None:
        return None
    return actor.organiser_region_id
