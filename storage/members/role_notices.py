"""What a member is told when an administrator makes them an organiser, changes the region they
organise for, or takes the role away: in their own language, with what they can now do. Queued
in the outbox in the same transaction as the change (see storage.members.profiles.set_role)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import Member, Role
from templates.i18n import Translator, translator


def notice_key(member_id: int, role: str, region_id: int | None, now: dt.datetime) -> str:
    return f"role:{member_id}:{role}:{region_id or 'all'}:{now.isoformat()}"


def notice_text(t: Translator, role: str, region_name: str | None) -> str:
    """The message for a member whose role is now ``role`` (for ``region_name``, or all)."""
    if role != Role.ORGANISER:
        return t(
            "You are no longer an organiser in Samvirke. Your events stay as they are, and "
            "you can still use everything members can: send /help to see it."
        )
    if region_name:
        head = t("You are now an organiser for {region} in Samvirke.", region=region_name)
        scope = t(
            "Events, broadcasts and member lists are limited to {region}.", region=region_name
        )
    else:
        head = t("You are now an organiser for all regions in Samvirke.")
        scope = None
    lines = [
        head,
        "",
        t("You can now:"),
        t("/newevent – create an event"),
        t("/attendees – see who is coming, check people in, get the participant list"),
        t("/broadcast – send a message to many members"),
        t("/members – the member overview and list"),
        t("/stats – participation figures for funders"),
    ]
    if scope:
        lines += ["", scope]
    lines += ["", t("Send /help to see all your commands.")]
    return "\n".join(lines)


async def tell(
    session: AsyncSession, member: Member, *, region_name: str | None, now: dt.datetime
) -> bool:
    """Queue the notice of the member's new role (nothing for an erased member)."""
    if member.telegram_user_id is None or member.deleted_at is not None:
        return False
    return await outbox.enqueue_telegram(
        session,
        key=notice_key(member.id, member.role, member.organiser_region_id, now),
        chat_id=member.telegram_user_id,
        text=notice_text(translator(member.language), member.role, region_name),
        now=now,
        member_id=member.id,
    )
