"""Membership by invitation or approval: the gate at /start, the use of an invitation at the
end of sign-up, /invite (link, QR image, open invitations, revoke), Approve / Decline for
organisers, and the guard that keeps a waiting member to /help, /privacy and /cancel."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import segno
from telegram import InputFile, Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    TypeHandler,
)

from bot.context import Context
from bot.people.common import TASK, TYPING, error_message, parse_id, tell_error
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, acting, answer_press, send
from storage.errors import DomainError
from storage.members.profiles import MemberView
from storage.models import AdmissionStatus
from storage.people import membership
from storage.people.membership import InvitationView

log = logging.getLogger(f"samvirke.{__name__}")

JOIN_PREFIX = "join_"
INVITATION = "people_invitation"  # the code a person started sign-up with
INVITATION_ID = "people_invitation_id"  # the invitation whose use they took at "I agree"
USES = (1, 5, 20, 100)
DAYS = (1, 7, 30, 90)
WAITING_ALLOWED = ("/help", "/privacy", "/cancel")
WAITING_BUTTONS = ("pv:", "verify:")
VERIFICATION_CODE = re.compile(r"^\s*\d{3}\s?\d{3}\s*$")  # as bot.members.verify reads it


def _mode(context: Context) -> str:
    return context.services.settings.membership


def _code(payload: str) -> str | None:
    return payload.removeprefix(JOIN_PREFIX) if payload.startswith(JOIN_PREFIX) else None


# --- sign-up (called from bot.members.signup) ------------------------------------------------


async def gate_start(update: Update, context: Context, payload: str) -> bool:
    """Before sign-up: may this person sign up? (False: they have been told why not.)"""
    assert context.user_data is not None
    code = _code(payload)
    context.user_data.pop(INVITATION, None)
    actor = acting(context)
    if code is not None:
        try:
            await membership.check(context.uow(), code, now=context.now)
        except DomainError as error:
            if _mode(context) == "invite" and not actor.is_admin:
                await send(update, error_message(context.t, error))
                return False
        else:
            context.user_data[INVITATION] = code
            return True
    if _mode(context) == "invite" and not actor.is_admin:
        await send(
            update,
            context.t(
                "This network is by invitation. Please ask a member or an organiser you know for "
                "an invitation link, and open it here."
            ),
        )
        return False
    return True


async def before_registration(update: Update, context: Context) -> bool:
    """At "I agree": take a use of the invitation (False: it is no longer valid, told why)."""
    assert context.user_data is not None
    user = update.effective_user
    code = context.user_data.get(INVITATION)
    if not isinstance(code, str) or user is None:
        if _mode(context) == "invite" and not acting(context).is_admin:
            await send(update, error_message(context.t, DomainError("invitation_unknown")))
            return False
        return True
    try:
        context.user_data[INVITATION_ID] = await membership.redeem(
            context.uow(), code, user.id, now=context.now
        )
    except DomainError as error:
        if _mode(context) == "invite" and not acting(context).is_admin:
            await send(update, error_message(context.t, error))
            return False
        context.user_data.pop(INVITATION, None)
    return True


async def after_registration(update: Update, context: Context, member: MemberView) -> None:
    """Record how the member came in; in approval mode, ask the approvers and tell them."""
    assert context.user_data is not None
    context.user_data.pop(INVITATION, None)
    found = context.user_data.pop(INVITATION_ID, None)
    invitation_id = found if isinstance(found, int) else None
    approval = _mode(context) == "approval" and not acting(context).is_admin
    await membership.admit(
        context.uow(),
        member.id,
        invitation_id=invitation_id,
        approval=approval,
        admins=context.services.settings.admins,
        now=context.now,
    )
    if approval:
        await send(
            update,
            context.t(
                "Thank you! An organiser will look at your sign-up; I will tell you here when "
                "you are approved. Meanwhile you can use /help, /privacy and /cancel."
            ),
        )


# --- the guard for waiting members -------------------------------------------------------------


async def guard(update: Update, context: Context) -> None:
    """In approval mode, a member not (yet) approved can use only /help, /privacy, /cancel."""
    if _mode(context) != "approval" or context.member is None or acting(context).is_organiser:
        return  # organisers (appointed by an administrator) and administrators are trusted
    status = await membership.admission_status(context.uow(), context.member.id)
    if status is None or status == AdmissionStatus.APPROVED:
        return
    message = update.effective_message
    text = (message.text or "") if message is not None and update.callback_query is None else ""
    command = text.split()[0].split("@")[0] if text.startswith("/") else ""
    if command in WAITING_ALLOWED or VERIFICATION_CODE.match(text):
        return  # confirming the e-mail address goes on while waiting
    query = update.callback_query
    if query is not None and (query.data or "").startswith(WAITING_BUTTONS):
        return  # the buttons of /privacy (export, delete) and "send the code again"
    if query is not None:
        await query.answer()
    if update.effective_chat is not None:
        if status == AdmissionStatus.DECLINED:
            reply = context.t(
                "Your membership was not approved. You can still see, export or delete your "
                "data with /privacy."
            )
        else:
            reply = context.t(
                "Your sign-up is waiting for approval by an organiser. Meanwhile you can use "
                "/help, /privacy and /cancel."
            )
        await send(update, reply)
    raise ApplicationHandlerStop


# --- /invite ---------------------------------------------------------------------------------


def invitation_link(context: Context, invitation: InvitationView) -> str:
    username = context.bot.username
    return f"https://t.me/{username}?start={JOIN_PREFIX}{invitation.code}"


async def invite_command(update: Update, context: Context) -> None:
    t = context.t
    try:
        membership.require_inviter(
            acting(context), members_can_invite=context.services.settings.members_can_invite
        )
    except DomainError as error:
        await tell_error(update, context, error)
        return
    buttons = [
        keyboards.button(t.plural("For {n} person", "For {n} people", n), f"pp:inv:{n}")
        for n in USES
    ]
    rows = [buttons[:2], buttons[2:], [keyboards.button(t("My open invitations"), "pp:invl")]]
    await send(update, t("Who is the invitation for?"), keyboards.rows(*rows))


async def choose(update: Update, context: Context) -> None:
    data = await answer_press(update)
    t = context.t
    parts = data.split(":")
    uses = int(parts[2])
    if len(parts) == 3:
        buttons = [
            keyboards.button(t.plural("{n} day", "{n} days", days), f"pp:inv:{uses}:{days}")
            for days in DAYS
        ]
        await send(
            update, t("How long should the link work?"), keyboards.rows(buttons[:2], buttons[2:])
        )
        return
    days = int(parts[3])
    try:
        invitation = await membership.create_invitation(
            context.uow(),
            acting(context),
            uses=uses,
            days=days,
            members_can_invite=context.services.settings.members_can_invite,
            now=context.now,
        )
    except DomainError as error:
        await tell_error(update, context, error)
        return
    link = invitation_link(context, invitation)
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=8, border=4)
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        InputFile(io.BytesIO(out.getvalue()), filename="invitation.png"),
        caption=t.plural(
            "An invitation for {n} person, valid for {days} days:",
            "An invitation for {n} people, valid for {days} days:",
            uses,
            days=days,
        )
        + "\n"
        + link,
    )


async def list_open(update: Update, context: Context) -> None:
    await answer_press(update)
    t = context.t
    try:
        membership.require_inviter(
            acting(context), members_can_invite=context.services.settings.members_can_invite
        )
        found = await membership.open_invitations(context.uow(), acting(context), now=context.now)
    except DomainError as error:
        await tell_error(update, context, error)
        return
    if not found:
        await send(update, t("You have no open invitations."))
        return
    lines = [t("Your open invitations:")]
    buttons = []
    for n, invitation in enumerate(found, start=1):
        lines.append(
            t(
                "{n}. used {uses} of {max}, until {date}: {link}",
                n=n,
                uses=invitation.uses,
                max=invitation.max_uses,
                date=invitation.expires_at.astimezone(context.services.settings.tz)
                .date()
                .isoformat(),
                link=invitation_link(context, invitation),
            )
        )
        buttons.append(keyboards.button(t("Revoke {n}", n=n), f"pp:rv:{invitation.id}"))
    await send(update, "\n".join(lines), keyboards.column(buttons))


async def revoke(update: Update, context: Context) -> None:
    data = await answer_press(update)
    t = context.t
    invitation_id = parse_id(data.removeprefix("pp:rv:"))
    if invitation_id is None:
        await tell_error(update, context, DomainError("invitation_unknown"))
        return
    try:
        await membership.revoke(context.uow(), acting(context), invitation_id, now=context.now)
    except DomainError as error:
        await tell_error(update, context, error)
        return
    await send(update, t("Revoked: that link no longer works."))


# --- approval --------------------------------------------------------------------------------


async def approve(update: Update, context: Context) -> None:
    data = await answer_press(update)
    member_id = parse_id(data.removeprefix("pp:ap:"))
    await decide(update, context, member_id, approve=True, reason=None)


async def start_decline(update: Update, context: Context) -> str | int:
    """Decline: the organiser may give a reason (typed), or press "Without a reason"."""
    data = await answer_press(update)
    member_id = parse_id(data.removeprefix("pp:dc:"))
    if member_id is None or not acting(context).is_organiser:
        await decide(update, context, member_id, approve=False, reason=None)
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data[TASK] = f"decline:{member_id}"
    await ask_reason(update, context, member_id)
    return TYPING


async def ask_reason(update: Update, context: Context, member_id: int) -> None:
    t = context.t
    await send(
        update,
        t("Type a reason for the person (they will see it), or press “Without a reason”."),
        keyboards.rows([keyboards.button(t("Without a reason"), f"pp:dn:{member_id}")]),
    )


async def decline_without_reason(update: Update, context: Context) -> int:
    data = await answer_press(update, keep_buttons=False)
    if context.user_data is not None:
        context.user_data.pop(TASK, None)
    member_id = parse_id(data.removeprefix("pp:dn:"))
    await decide(update, context, member_id, approve=False, reason=None)
    return ConversationHandler.END


async def decide(
    update: Update,
    context: Context,
    member_id: int | None,
    *,
    approve: bool,
    reason: str | None,
) -> None:
    t = context.t
    if member_id is None:
        await tell_error(update, context, DomainError("admission_unknown"))
        return
    try:
        decision = await membership.decide(
            context.uow(),
            acting(context),
            member_id,
            approve=approve,
            reason=reason,
            now=context.now,
        )
    except DomainError as error:
        await tell_error(update, context, error)
        return
    if not decision.changed:
        if decision.status == AdmissionStatus.APPROVED:
            text = t(
                "{by} has already approved {name}.",
                by=decision.decided_by,
                name=decision.member_name,
            )
        else:
            text = t(
                "{by} has already declined {name}.",
                by=decision.decided_by,
                name=decision.member_name,
            )
    elif approve:
        text = t("Approved: {name} is a member now and has been told.", name=decision.member_name)
    else:
        text = t("Declined: {name} has been told.", name=decision.member_name)
    await send(update, text)


def guard_handler() -> TypeHandler[Update, Context, None]:
    return TypeHandler(Update, guard)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("invite", invite_command, filters=PRIVATE),
        CallbackQueryHandler(choose, pattern=callbacks.matching(r"^pp:inv:\d{1,3}(:\d{1,3})?$")),
        CallbackQueryHandler(list_open, pattern=callbacks.matching(r"^pp:invl$")),
        CallbackQueryHandler(revoke, pattern=callbacks.matching(r"^pp:rv:\d{1,10}$")),
        CallbackQueryHandler(approve, pattern=callbacks.matching(r"^pp:ap:\d{1,10}$")),
        CallbackQueryHandler(
            decline_without_reason, pattern=callbacks.matching(r"^pp:dn:\d{1,10}$")
        ),
    ]


# --- for administrators: who invited and who approved whom (bot.members.admin) ---------------


async def origin_columns(context: Context, member_ids: list[int]) -> dict[int, tuple[str, str]]:
    """The member CSV's "invited_by" and "approved_by" columns, for administrators."""
    found = await membership.origins_of(context.uow(), acting(context), member_ids)
    return {m: (o.invited_by or "", o.approved_by or "") for m, o in found.items()}


async def origin_line(context: Context, member_id: int) -> str:
    """A line for an administrator's member card ("" when nothing is recorded)."""
    t = context.t
    if not acting(context).is_admin:
        return ""
    origin = (await membership.origins_of(context.uow(), acting(context), [member_id])).get(
        member_id
    )
    if origin is None:
        return ""
    parts = []
    if origin.invited_by is not None:
        parts.append(t("invited by {name}", name=origin.invited_by or t("a former member")))
    if origin.status == AdmissionStatus.APPROVED and origin.approved_by is not None:
        parts.append(t("approved by {name}", name=origin.approved_by or t("a former member")))
    elif origin.status == AdmissionStatus.PENDING:
        parts.append(t("waiting for approval"))
    elif origin.status == AdmissionStatus.DECLINED:
        parts.append(t("declined by {name}", name=origin.approved_by or t("a former member")))
    return "\n" + ", ".join(parts) if parts else ""
