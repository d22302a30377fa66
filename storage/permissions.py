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
    # An organiser for the whole network: an explicit flag, never read from a missing region
    # (an organiser whose region was deleted organises nothing until given a new one).
    organiser_all_regions: bool = False

    @property
    def is_organiser(self) -> bool:
        return self.is_admin or self.role == Role.ORGANISER


def require_organiser(actor: Actor) -> None:
    if not actor.is_organiser:
        raise NotAllowed("organisers_only")


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise NotAllowed("admins_only")


def organises_everywhere(actor: Actor) -> bool:
    return actor.is_admin or (actor.is_organiser and actor.organiser_all_regions)


def visible_region_ids(actor: Actor) -> int | None:
    """The region an organiser is limited to, or None for all regions. An organiser for one
    region whose region is gone is refused (``NotAllowed``), never widened to all regions."""
    if organises_everywhere(actor):
        return None
    if actor.organiser_region_id is None:
        raise NotAllowed("organiser_region_gone")
    return actor.organiser_region_id


def figures_region(actor: Actor, region_id: int | None) -> int | None:
    """The region figures are counted for: the one asked (None: all), but an organiser for one
    region always gets theirs, and asking for another is refused."""
    limit = visible_region_ids(actor)
    if limit is None:
        return region_id
    if region_id not in (None, limit):
        raise NotAllowed("event_other_region")
    return limit
