"""What introductions tell people, in their language: the request with its answer buttons, the
contacts once every side asked has accepted, a polite note when it will not go ahead, the report
to the administrators and the note when a request expired. Every message goes into the outbox
in the caller's transaction with a unique key (``pp:ask:{id}:{member}`` ...).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import DirectoryEntry, Introduction, Member
from storage.people.cards import card_text, contact_text, sector_name, telegram_link
from storage.people.directory import card_of, topics_of
from templates.i18n import Translator, translator

Buttons = list[list[dict[str, str]]]


def name_of(t: Translator, member: Member | None) -> str:
    """The member's name; "a former member" once they are gone."""
    return (member.name if member is not None else None) or t("a former member")


def _named(t: Translator, member: Member | None) -> str:
    return html.escape(name_of(t, member))


async def _card_text(session: AsyncSession, t: Translator, member: Member) -> str:
    entry = await session.get(DirectoryEntry, member.id)
    topics = (await topics_of(session, [member.id]))[member.id]
    return card_text(t, card_of(member, entry, topics))


async def _share_email(session: AsyncSession, member: Member) -> bool:
    entry = await session.get(DirectoryEntry, member.id)
    return bool(entry and entry.share_email)


async def _tell(
    session: AsyncSession,
    person: Member | None,
    *,
    key: str,
    text: str,
    now: dt.datetime,
    buttons: Buttons | None = None,
) -> None:
    if person is None or person.telegram_user_id is None or person.deleted_at is not None:
        return
    await outbox.enqueue_telegram(
        session,
        key=f"{key}:{person.id}",
        chat_id=person.telegram_user_id,
        text=text,
        buttons=buttons,
        parse_mode="HTML",
        now=now,
        member_id=person.id,
    )


async def _tell_in_their_language(
    session: AsyncSession,
    person: Member | None,
    *,
    key: str,
    render: Callable[[Translator], str],
    now: dt.datetime,
) -> None:
    if person is not None:
        await _tell(session, person, key=key, text=render(translator(person.language)), now=now)


def _answer_buttons(t: Translator, intro_id: int, *, report: bool) -> Buttons:
    rows = [
        [
            {"text": t("Accept"), "callback_data": f"pp:ia:{intro_id}"},
            {"text": t("Decline"), "callback_data": f"pp:id:{intro_id}"},
        ],
        [{"text": t("Block"), "callback_data": f"pp:ib:{intro_id}"}],
    ]
    if report:
        rows[1].append({"text": t("Report to the admins"), "callback_data": f"pp:ir:{intro_id}"})
    return rows


async def asked(
    session: AsyncSession, intro: Introduction, asker: Member, target: Member, *, now: dt.datetime
) -> None:
    """A member asked: the member asked gets the asker's card, the note and the buttons."""
    t = translator(target.language)
    body = (
        t("{name} would like to be introduced to you.", name=_named(t, asker))
        + "\n\n"
        + await _card_text(session, t, asker)
        + "\n\n"
        + t("Their note: {note}", note=html.escape(intro.note or ""))
        + "\n\n"
        + t(
            "If you accept, you both get each other's contact. If you decline, they "
            "are told politely, without a reason."
        )
    )
    await _tell(
        session,
        target,
        key=f"pp:ask:{intro.id}",
        text=body,
        now=now,
        buttons=_answer_buttons(t, intro.id, report=True),
    )


async def introduced(
    session: AsyncSession,
    intro: Introduction,
    organiser: Member,
    people: tuple[Member, Member],
    *,
    now: dt.datetime,
) -> None:
    """An organiser introduced two members: each gets the other's card, the note, the buttons."""
    first, second = people
    for person, other in ((first, second), (second, first)):
        t = translator(person.language)
        body = (
            t(
                "{organiser} would like to introduce you to {name}.",
                organiser=_named(t, organiser),
                name=_named(t, other),
            )
            + "\n\n"
            + await _card_text(session, t, other)
            + "\n\n"
            + t("The organiser's note: {note}", note=html.escape(intro.note or ""))
            + "\n\n"
            + t("When you both accept, you get each other's contact.")
        )
        await _tell(
            session,
            person,
            key=f"pp:intro:{intro.id}",
            text=body,
            now=now,
            buttons=_answer_buttons(t, intro.id, report=False),
        )


async def _connected_mail(
    session: AsyncSession,
    intro: Introduction,
    person: Member,
    counterpart: Member,
    *,
    share_email: bool,
    now: dt.datetime,
) -> None:
    """The short mail with the other's contact (to a verified address only)."""
    if not person.email or person.email_verified_at is None:
        return
    t = translator(person.language)
    await outbox.enqueue(
        session,
        key=f"pp:connected-mail:{intro.id}:{person.id}",
        channel=outbox.EMAIL,
        member_id=person.id,
        now=now,
        payload={
            "template": "connected",
            "language": person.language,
            "to_name": person.name or "",
            "to_email": person.email,
            "context": {
                "name": person.name or "",
                "other_name": counterpart.name or "",
                "other_organisation": counterpart.organisation or "",
                "other_sector": sector_name(t, counterpart.sector),
                "other_region": counterpart.region.name if counterpart.region else "",
                "other_telegram": telegram_link(counterpart),
                "other_email": counterpart.email if share_email else "",
            },
        },
    )


async def connected(
    session: AsyncSession,
    intro: Introduction,
    me: Member,
    other: Member,
    organiser: Member | None,
    now: dt.datetime,
) -> None:
    """Both accepted: each gets the other's contact in Telegram and a short mail."""
    for person, counterpart in ((me, other), (other, me)):
        t = translator(person.language)
        share = await _share_email(session, counterpart)
        text = (
            t("You are connected with {name}.", name=_named(t, counterpart))
            + "\n\n"
            + await _card_text(session, t, counterpart)
            + "\n\n"
            + t("Contact: {contact}", contact=contact_text(t, counterpart, share_email=share))
        )
        await _tell(session, person, key=f"pp:connected:{intro.id}", text=text, now=now)
        await _connected_mail(session, intro, person, counterpart, share_email=share, now=now)
    await _tell_in_their_language(
        session,
        organiser,
        key=f"pp:introduced:{intro.id}",
        render=lambda t: t(
            "{first} and {second} both accepted your introduction and have each other's "
            "contact now.",
            first=_named(t, me),
            second=_named(t, other),
        ),
        now=now,
    )


async def declined(
    session: AsyncSession,
    intro: Introduction,
    me: Member,
    other: Member,
    organiser: Member | None,
    now: dt.datetime,
) -> None:
    """A polite note without a reason (the same for a block: a block is silent)."""
    await _tell_in_their_language(
        session,
        other,
        key=f"pp:declined:{intro.id}",
        render=lambda t: (
            t(
                "{name} cannot take up your request for an introduction this time. Thank you "
                "for asking; you can find others with /people.",
                name=_named(t, me),
            )
            if organiser is None
            else t("The introduction to {name} will not go ahead this time.", name=_named(t, me))
        ),
        now=now,
    )
    await _tell_in_their_language(
        session,
        organiser,
        key=f"pp:declined:{intro.id}",
        render=lambda t: t(
            "Your introduction of {first} and {second} will not go ahead this time.",
            first=_named(t, other),
            second=_named(t, me),
        ),
        now=now,
    )


async def reported(
    session: AsyncSession,
    intro: Introduction,
    asker: Member,
    admins: Iterable[int],
    now: dt.datetime,
) -> None:
    """The request goes to every administrator (in their language when they are members)."""
    for admin_id in sorted(set(admins)):
        admin = await session.scalar(
            select(Member).where(Member.telegram_user_id == admin_id, Member.deleted_at.is_(None))
        )
        t = translator(admin.language if admin is not None else "en")
        text = t(
            "A member reported a request for an introduction (number {id}) from {name} "
            "(member {member}). The note: {note}",
            id=intro.id,
            name=_named(t, asker),
            member=asker.id,
            note=html.escape(intro.note or ""),
        )
        await outbox.enqueue_telegram(
            session,
            key=f"pp:report:{intro.id}:{admin_id}",
            chat_id=admin_id,
            text=text,
            parse_mode="HTML",
            now=now,
            member_id=admin.id if admin is not None else None,
        )


async def expired(
    session: AsyncSession,
    intro: Introduction,
    told: Member | None,
    target: Member | None,
    *,
    now: dt.datetime,
) -> None:
    """Nobody answered in time: the asker (or the organiser) is told."""
    if told is None:
        return
    t = translator(told.language)
    days = (intro.expires_at - intro.created_at).days
    name = _named(t, target)
    await _tell(
        session,
        told,
        key=f"pp:expired:{intro.id}",
        text=t.plural(
            "Your request for an introduction to {name} got no answer in {days} "
            "day and has expired. You can find others with /people.",
            "Your request for an introduction to {name} got no answer in {days} "
            "days and has expired. You can find others with /people.",
            days,
            name=name,
            days=days,
        ),
        now=now,
    )
