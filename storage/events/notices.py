"""What a change to an event or an answer owes people: calendar invitations and cancellations
by e-mail (an iCalendar REQUEST or CANCEL per member) and Telegram notices, queued in the
outbox in the caller's transaction under a unique key, so a retry or a double tap sends nothing
twice; and withdrawing reminders that are no longer owed.

Messages are rendered here, in each member's own language, when they are queued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.events import programme, rules
from storage.models import Event, EventStatus, Member, OutboxMessage, OutboxStatus, Rsvp, RsvpStatus
from templates.formatting import format_when
from templates.i18n import Translator, translator

# Kinds of e-mail this module queues (templates/mail/<kind>.txt|.html).
INVITE_TEMPLATE = "invite"
CANCEL_TEMPLATE = "invite_cancel"

# Invitations that take the event out of the member's calendar (a CANCEL); the other kinds
# (new, promoted, updated) put it in or update it (a REQUEST).
CANCEL_KINDS = ("stopped", "cancelled")

PARTSTAT: dict[str, str] = {
    RsvpStatus.GOING: "ACCEPTED",
    RsvpStatus.MAYBE: "TENTATIVE",
    RsvpStatus.WAITLIST: "NEEDS-ACTION",
}


def place_text(location: str | None, online_url: str | None) -> str:
    return "\n".join(part for part in (location, online_url) if part)


def when_text(event: Event, language: str) -> str:
    """The event's time in its own time zone, in ``language``."""
    return format_when(
        event.starts_at, event.ends_at, tz=ZoneInfo(event.timezone), language=language
    )


# --- calendar invitations by e-mail ----------------------------------------------------------


def _partstat(status: str | None) -> str:
    return PARTSTAT.get(status or "", "DECLINED")


def calendar_payload(
    event: Event,
    member: Member,
    *,
    method: str,
    sequence: int,
    partstat: str,
    now: dt.datetime,
    url: str | None,
    programme_text: str | None = None,
) -> dict[str, Any]:
    """The ``calendar`` part of an invite's outbox payload (templates.calendar makes the file)."""
    return {
        "method": method,
        "uid": event.uid,
        "sequence": sequence,
        "dtstamp": now.astimezone(dt.UTC).isoformat(),
        "summary": event.title,
        # An online link goes in LOCATION when there is no address, else in DESCRIPTION.
        "description": "\n\n".join(
            part
            for part in (
                event.description,
                programme_text,
                event.online_url if event.location else None,
            )
            if part
        ),
        "location": event.location or event.online_url,
        "url": url or event.online_url,
        "start": event.starts_at.astimezone(dt.UTC).isoformat(),
        "end": event.ends_at.astimezone(dt.UTC).isoformat(),
        "tzid": event.timezone,
        "status": "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED",
        "attendee": {"name": member.name or "", "email": member.email, "partstat": partstat},
    }


async def _programme_text(
    session: AsyncSession, event: Event, t: Translator, items: Sequence[programme.Item] | None
) -> str | None:
    """The programme for the invitation's description: a heading and one line per item
    (``items`` when the caller has them, else read)."""
    if items is None:
        items = await programme.items_of(session, event.id)
    if not items:
        return None
    return "\n".join([t("Programme:"), *(item.compact() for item in items)])


def _may_mail(member: Member) -> bool:
    return bool(member.email) and member.email_verified_at is not None and not member.deleted_at


async def send_missed_invites(
    session: AsyncSession, member: Member, *, now: dt.datetime, bot_username: str | None = None
) -> int:
    """A member who said Going before their address was confirmed gets the invitations now
    (in the caller's transaction, right after the confirmation)."""
    rows = (
        await session.execute(
            select(Event, Rsvp)
            .join(Rsvp, Rsvp.event_id == Event.id)
            .where(
                Rsvp.member_id == member.id,
                Rsvp.status == RsvpStatus.GOING,
                Rsvp.invite_active.is_(False),
                Event.status == EventStatus.PUBLISHED,
                Event.starts_at > now,
            )
            .order_by(Event.starts_at)
        )
    ).all()
    sent = 0
    for event, rsvp in rows:
        sent += await mail_invite(
            session, event, member, rsvp, kind="new", now=now, bot_username=bot_username
        )
    return sent


def _invite_context(
    event: Event, member: Member, *, kind: str, url: str | None, changes: Sequence[str]
) -> dict[str, Any]:
    """What the invitation mail's template shows, in the member's language."""
    t = translator(member.language)
    return {
        "name": member.name or "",
        "kind": kind,
        "title": event.title,
        "when": when_text(event, member.language),
        "location": event.location,
        "online_url": event.online_url,
        "description": event.description,
        "url": url,
        "event_id": event.id,
        "message": event.cancel_message,
        "changes": [t(label) for label in changes],
    }


async def mail_invite(
    session: AsyncSession,
    event: Event,
    member: Member,
    rsvp: Rsvp,
    *,
    kind: str,
    now: dt.datetime,
    bot_username: str | None,
    changes: Sequence[str] = (),
    programme_items: Sequence[programme.Item] | None = None,
) -> bool:
    """Queue a calendar REQUEST or CANCEL for the member's copy of the event. ``kind`` picks the
    message and its wording: new, promoted, updated (REQUEST); stopped, cancelled (CANCEL).
    ``changes`` are labels (marked with ``N_``) of what changed, translated here;
    ``programme_items``: the event's programme when the caller has read it already."""
    method = "CANCEL" if kind in CANCEL_KINDS else "REQUEST"
    if not _may_mail(member):
        return False
    if method == "CANCEL" and not rsvp.invite_active:
        return False
    sequence = rules.next_invite_sequence(event.sequence, rsvp.invite_sequence)
    # Set before the outbox insert flushes the RSVP: one INSERT, no UPDATE after it.
    rsvp.invite_sequence = sequence
    rsvp.invite_active = method == "REQUEST"
    url = rules.event_link(bot_username, event.id)
    t = translator(member.language)
    template = INVITE_TEMPLATE if method == "REQUEST" else CANCEL_TEMPLATE
    prefix = "invite" if method == "REQUEST" else "invite-cancel"
    return await outbox.enqueue(
        session,
        key=f"{prefix}:{event.id}:{member.id}:{sequence}",
        channel=outbox.EMAIL,
        member_id=member.id,
        now=now,
        payload={
            "template": template,
            "language": member.language,
            "to_name": member.name or "",
            "to_email": member.email,
            "context": _invite_context(event, member, kind=kind, url=url, changes=changes),
            "calendar": calendar_payload(
                event,
                member,
                method=method,
                sequence=sequence,
                partstat=_partstat(rsvp.status),
                now=now,
                url=url,
                programme_text=await _programme_text(session, event, t, programme_items),
            ),
        },
    )


# --- Telegram notices and reminders ----------------------------------------------------------


def _show_button(t: Translator, event_id: int) -> list[list[dict[str, str]]]:
    return [[{"text": t("Show event"), "callback_data": f"ev:show:{event_id}"}]]


async def tell(
    session: AsyncSession,
    member: Member,
    event: Event,
    *,
    key: str,
    text: str,
    now: dt.datetime,
) -> bool:
    """Queue a Telegram message to the member (nothing for an erased member)."""
    if member.telegram_user_id is None or member.deleted_at is not None:
        return False
    return await outbox.enqueue_telegram(
        session,
        key=key,
        chat_id=member.telegram_user_id,
        text=text,
        now=now,
        member_id=member.id,
        buttons=_show_button(translator(member.language), event.id),
    )


async def withdraw_reminders(
    session: AsyncSession, event_id: int, member_id: int | None = None
) -> None:
    """Reminders queued but not sent are no longer owed (event moved or cancelled, or the member
    no longer going)."""
    prefix = f"reminder:{event_id}:" + (f"{member_id}:" if member_id is not None else "")
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.key.startswith(prefix, autoescape=True),
            OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.RETRY]),
        )
    )
