"""Timebank contact requests: "Contact" on a listing asks its poster whether they want to be
put in touch; if they accept, both are introduced in Telegram (a link to each other's chat and
@username), if they decline, the requester learns only that it did not work out this time.

The network is a network of named members: a listing shows its poster's name (as TimeOverflow
and every community timebank do; people ask for help from someone, not from nobody). What a
contact request keeps private until the poster accepts is their Telegram contact, never their
name."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import InvalidInput, NotAllowed, NotFound
from storage.models import (
    ContactStatus,
    ListingKind,
    ListingStatus,
    Member,
    TimebankContactRequest,
    TimebankListing,
)
from storage.timebank.common import Buttons, insert_once, live_member, notify
from storage.timebank.listings import ListingView, listing_query, listing_view, load_listing
from storage.uow import UnitOfWork, retry_conflicts
from templates.i18n import Translator


@dataclass(frozen=True)
class ContactResult:
    id: int
    status: str
    changed: bool
    listing: ListingView


def _mention(member: Member, t: Translator) -> str:
    """An HTML mention that opens the member's Telegram profile, with their @username."""
    name = html.escape(member.name or t("a former member"))
    text = f'<a href="tg://user?id={member.telegram_user_id}">{name}</a>'
    if member.telegram_username:
        text += f" (@{html.escape(member.telegram_username)})"
    return text


def _request_text(t: Translator, requester: Member, listing: ListingView) -> str:
    """What the poster is asked when someone presses Contact on their listing."""
    name = requester.name or t("a former member")
    about = (
        t(
            "{name} would like to get in touch about your offer “{title}”.",
            name=name,
            title=listing.title,
        )
        if listing.kind == ListingKind.OFFER
        else t(
            "{name} would like to get in touch about your request “{title}”.",
            name=name,
            title=listing.title,
        )
    )
    return (
        about
        + "\n\n"
        + t(
            "If you accept, I introduce you to each other here in Telegram, with a link "
            "to each other's chat. If you decline, they are only told that it did not "
            "work out this time, and your Telegram contact is not shared."
        )
    )


async def _ask_poster(
    session: AsyncSession,
    request: TimebankContactRequest,
    requester: Member,
    listing: ListingView,
    *,
    now: dt.datetime,
) -> None:
    """Ask the listing's poster, with Accept and Decline buttons."""
    poster = await live_member(session, listing.member_id)

    def buttons(t: Translator, _person: Member) -> Buttons:
        return [
            [
                {"text": t("Accept"), "callback_data": f"tb:cra:{request.id}"},
                {"text": t("Decline"), "callback_data": f"tb:crd:{request.id}"},
            ]
        ]

    await notify(
        session,
        [poster],
        key=f"tb:contact:{request.id}",
        now=now,
        render=lambda t, _p: _request_text(t, requester, listing),
        buttons=buttons,
    )


@retry_conflicts
async def request_contact(
    uow: UnitOfWork, member_id: int, listing_id: int, *, now: dt.datetime
) -> ContactResult:
    """ "Contact" on a listing: the poster is asked whether they want to be introduced.

    Asking again about the same listing changes nothing (and sends nothing).
    """
    async with uow:
        session = uow.session
        requester = await live_member(session, member_id)
        listing = await load_listing(session, listing_id)
        if listing.status != ListingStatus.ACTIVE:
            raise NotFound("listing_not_found")
        if listing.member_id == member_id:
            raise InvalidInput("own_listing")
        same_request = select(TimebankContactRequest).where(
            TimebankContactRequest.listing_id == listing_id,
            TimebankContactRequest.requester_member_id == member_id,
        )
        existing = await session.scalar(same_request)
        if existing is not None:
            return ContactResult(existing.id, existing.status, False, listing)
        request = TimebankContactRequest(
            listing_id=listing_id,
            requester_member_id=member_id,
            status=ContactStatus.PENDING,
            created_at=now,
        )
        twin = await insert_once(session, request, same_request)
        if twin is not None:
            # The same Contact pressed twice at the same moment: the other press made it.
            return ContactResult(twin.id, twin.status, False, listing)
        audit.record(
            session,
            "timebank.contact_requested",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            listing_id=listing_id,
            contact_id=request.id,
        )
        await _ask_poster(session, request, requester, listing, now=now)
        await uow.commit()
        return ContactResult(request.id, request.status, True, listing)


async def _request_to_answer(
    session: AsyncSession, member_id: int, contact_id: int
) -> tuple[TimebankContactRequest, ListingView]:
    """The contact request, locked, and its listing, if the member posted the listing."""
    request = await session.scalar(
        select(TimebankContactRequest)
        .where(TimebankContactRequest.id == contact_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound("contact_not_found")
    listing_row = await session.get(TimebankListing, request.listing_id)
    assert listing_row is not None
    if listing_row.member_id != member_id:
        raise NotAllowed("not_your_contact")
    listing = listing_view(
        (await session.execute(listing_query().where(TimebankListing.id == listing_row.id))).one()
    )
    return request, listing


async def _introduce(
    session: AsyncSession,
    request: TimebankContactRequest,
    people: tuple[Member, Member],
    listing: ListingView,
    *,
    now: dt.datetime,
) -> None:
    """Tell each of the two about the other (a mention and a Log hours button)."""
    first, second = people
    for person, other in ((first, second), (second, first)):

        def intro(t: Translator, _p: Member, other: Member = other) -> str:
            return t(
                "You are now in touch with {mention} about “{title}”. Write to them "
                "directly here in Telegram. When help has been given, log the hours with "
                "/timebank.",
                mention=_mention(other, t),
                title=html.escape(listing.title),
            )

        def log_button(t: Translator, _p: Member, other: Member = other) -> Buttons:
            return [[{"text": t("Log hours"), "callback_data": f"tb:log:m{other.id}"}]]

        await notify(
            session,
            [person],
            key=f"tb:intro:{request.id}",
            now=now,
            render=intro,
            buttons=log_button,
            parse_mode="HTML",
        )


@retry_conflicts
async def answer_contact(
    uow: UnitOfWork, member_id: int, contact_id: int, *, accept: bool, now: dt.datetime
) -> ContactResult:
    """The poster accepts (both are introduced) or declines (the requester is told only that it
    did not work out, without the poster's Telegram contact)."""
    async with uow:
        session = uow.session
        await live_member(session, member_id)
        request, listing = await _request_to_answer(session, member_id, contact_id)
        wanted = ContactStatus.ACCEPTED if accept else ContactStatus.DECLINED
        if request.status == wanted:
            return ContactResult(request.id, request.status, False, listing)
        if request.status != ContactStatus.PENDING:
            raise InvalidInput("contact_already_answered")
        requester = await session.get(Member, request.requester_member_id)
        if requester is None or requester.deleted_at is not None:
            raise NotFound("counterpart_not_found")
        poster = await live_member(session, member_id)
        request.status = wanted
        request.decided_at = now
        await session.flush()
        audit.record(
            session,
            "timebank.contact_accepted" if accept else "timebank.contact_declined",
            now=now,
            member_id=member_id,
            actor_member_id=member_id,
            contact_id=request.id,
        )
        if accept:
            await _introduce(session, request, (requester, poster), listing, now=now)
        else:
            await notify(
                session,
                [requester],
                key=f"tb:contact-declined:{request.id}",
                now=now,
                render=lambda t, _p: t(
                    "Your contact request about “{title}” was not accepted this time. Browse "
                    "the other offers and requests with /timebank.",
                    title=listing.title,
                ),
            )
        await uow.commit()
        return ContactResult(request.id, request.status, True, listing)
