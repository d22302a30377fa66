"""Timebank exchanges in the chat: the "Log hours" conversation (whose hours, which way, with
whom, how many, what for, then sent for confirmation), and the Confirm, Decline and Withdraw
buttons of a pending exchange."""

from __future__ import annotations

import secrets
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler

from bot.context import Context
from bot.timebank.common import (
    exchange_line,
    helped_text,
    limit_text,
    policy_of,
)
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import TEXT, answer_press, remove_buttons, send, typed_text
from bot.ui.conversation import Ask, ask_again, conversation
from bot.ui.guards import member_of
from bot.ui.texts import error_text
from storage.errors import InvalidInput, NotFound
from storage.models import ListingKind
from storage.timebank import accounts as timebank_accounts
from storage.timebank import exchanges as timebank_exchanges
from storage.timebank import listings as timebank_listings
from storage.timebank.common import Party
from storage.timebank.ledger import LimitExceeded, parse_hours, validate_minutes
from templates.formatting import balance_line, hours_text, party_name
from templates.i18n import Translator

HOUR_BUTTONS = (30, 60, 90, 120, 180, 240)


# --- confirm, decline, withdraw ---------------------------------------------------------------


async def confirm_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    member = member_of(context)
    try:
        decision = await timebank_exchanges.confirm(
            context.uow(),
            member.id,
            callbacks.number(data),
            policy=policy_of(context),
            now=context.now,
        )
    except LimitExceeded as error:
        await send(update, limit_text(t, error, member.id))
        return
    await remove_buttons(update)
    view = decision.exchange
    if not decision.changed:
        await send(update, t("You have already confirmed this exchange."))
        return
    side = view.counterpart
    lines = [
        t("Confirmed: the hours have moved."),
        exchange_line(t, view, side.account_id if side.member_id == member.id else 0),
        balance_line(t, side, decision.balances.get(side.account_id, 0)),
    ]
    await send(update, "\n".join(lines))


async def decline_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    member = member_of(context)
    decision = await timebank_exchanges.decline(
        context.uow(), member.id, callbacks.number(data), now=context.now
    )
    await remove_buttons(update)
    if not decision.changed:
        await send(update, t("You have already declined this exchange."))
        return
    await send(update, t("Declined. No hours were moved; they have been told."))


async def withdraw_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update, keep_buttons=False)
    member = member_of(context)
    decision = await timebank_exchanges.cancel(
        context.uow(), member.id, callbacks.number(data), now=context.now
    )
    if not decision.changed:
        await send(update, t("You have already withdrawn this exchange."))
        return
    await send(update, t("Withdrawn. No hours were moved; the other side has been told."))


# --- logging an exchange (a conversation) ---------------------------------------------------


LOG_AS, LOG_DIRECTION, LOG_OTHER, LOG_HOURS, LOG_DESCRIPTION, LOG_CONFIRM = (
    "log_as",
    "log_direction",
    "log_other",
    "log_hours",
    "log_description",
    "log_confirm",
)
LOG_DRAFT = "timebank_log"


def _log(context: Context) -> dict[str, Any]:
    return drafts.draft(context, LOG_DRAFT)


async def log_start(update: Update, context: Context) -> str | int:
    """ "Log hours" (from /timebank, an introduction, or a listing)."""
    t = context.t
    data = await answer_press(update)
    member = member_of(context)
    draft = drafts.start(context, LOG_DRAFT, {"token": secrets.token_hex(8)})
    preset = data.removeprefix("tb:log").removeprefix(":")
    if preset.startswith("l"):
        listing = await timebank_listings.get_listing(context.uow(), int(preset[1:]))
        if listing.member_id == member.id:
            await send(update, error_text(t, InvalidInput("own_listing")))
            return ConversationHandler.END
        draft.update(
            other=f"m{listing.member_id}",
            other_name=listing.poster_name,
            listing=listing.id,
            listing_title=listing.title,
            # An offer: the poster helped me. A request: I helped the poster.
            direction="received" if listing.kind == ListingKind.OFFER else "gave",
        )
    elif preset:
        other = await timebank_accounts.choosable(context.uow(), member.id, preset)
        if other.member_id == member.id:
            await send(update, error_text(t, InvalidInput("self_exchange")))
            return ConversationHandler.END
        draft.update(other=other.ref, other_name=other.name)
    overview = await timebank_accounts.overview(context.uow(), member.id, policy=policy_of(context))
    if overview.organisations:
        draft["organisations"] = {str(o.id): o.name for o in overview.organisations}
        return await ask_as(update, context)
    return await _next_log_step(update, context)


async def _next_log_step(update: Update, context: Context) -> str:
    draft = _log(context)
    if "direction" not in draft:
        return await ask_direction(update, context)
    if "other" not in draft:
        return await ask_other(update, context)
    if "minutes" not in draft:
        return await ask_hours(update, context)
    if "description" not in draft:
        return await ask_description(update, context)
    return await ask_log_confirm(update, context)


async def ask_as(update: Update, context: Context) -> str:
    t = context.t
    organisations: dict[str, str] = _log(context).get("organisations", {})
    buttons = [keyboards.button(t("Myself"), "tb:lg:as:0")]
    buttons += [keyboards.button(name, f"tb:lg:as:{aid}") for aid, name in organisations.items()]
    await send(update, t("Whose hours are you logging?"), keyboards.column(buttons))
    return LOG_AS


async def as_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    draft = _log(context)
    account = data.rsplit(":", 1)[-1]
    if account != "0" and account in draft.get("organisations", {}):
        draft["as"] = int(account)
        draft["as_name"] = draft["organisations"][account]
    else:
        draft.pop("as", None)
    return await _next_log_step(update, context)


async def ask_direction(update: Update, context: Context) -> str:
    t = context.t
    draft = _log(context)
    if "as" in draft:
        gave = t("{organisation} helped someone", organisation=draft["as_name"])
        received = t("Someone helped {organisation}", organisation=draft["as_name"])
    else:
        gave, received = t("I helped someone"), t("Someone helped me")
    await send(
        update,
        t("What happened?"),
        keyboards.column(
            [
                keyboards.button(gave, "tb:lg:dir:gave"),
                keyboards.button(received, "tb:lg:dir:received"),
            ]
        ),
    )
    return LOG_DIRECTION


async def direction_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    direction = data.rsplit(":", 1)[-1]
    if direction in ("gave", "received"):
        _log(context)["direction"] = direction
    return await _next_log_step(update, context)


async def ask_other(update: Update, context: Context) -> str:
    t = context.t
    member = member_of(context)
    draft = _log(context)
    contacts = await timebank_accounts.recent_contacts(
        context.uow(), member.id, as_account_id=draft.get("as")
    )
    organisations = await timebank_accounts.organisation_accounts(
        context.uow(), policy=policy_of(context)
    )
    mine = set(draft.get("organisations", {}))
    choices: list[Party] = list(contacts)
    choices += [o.party for o in organisations if str(o.id) not in mine]
    buttons = [keyboards.button(party_name(t, p), f"tb:lg:who:{p.ref}") for p in choices[:10]]
    text = (
        t("Who was it? Choose below, or type their Telegram @username.")
        if buttons
        else t("Who was it? Type their Telegram @username (they must have signed up here).")
    )
    await send(update, text, keyboards.column(buttons) if buttons else None)
    return LOG_OTHER


async def _set_other(
    update: Update, context: Context, other: Party, *, with_organisation: bool = False
) -> str:
    member = member_of(context)
    if other.member_id == member.id:
        return await ask_again(update, context, InvalidInput("self_exchange"), ask_other)
    # Found by a typed @username: name and organisation, so that the member sees who it is
    # before anything is sent (a username can change hands).
    name = other.name
    if with_organisation and other.organisation:
        name = f"{other.name} ({other.organisation})"
    _log(context).update(other=other.ref, other_name=name)
    return await _next_log_step(update, context)


async def other_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    try:
        other = await timebank_accounts.choosable(
            context.uow(),
            member_of(context).id,
            data.split(":")[-1],
            as_account_id=_log(context).get("as"),
        )
    except NotFound as error:
        return await ask_again(update, context, error, ask_other)
    return await _set_other(update, context, other)


async def other_typed(update: Update, context: Context) -> str:
    try:
        other = await timebank_accounts.find_member(context.uow(), typed_text(update))
    except NotFound as error:
        return await ask_again(update, context, error, ask_other)
    return await _set_other(update, context, other, with_organisation=True)


async def ask_hours(update: Update, context: Context) -> str:
    t = context.t
    buttons = [keyboards.button(hours_text(t, m), f"tb:lg:h:{m}") for m in HOUR_BUTTONS]
    await send(
        update,
        t("How many hours? Choose, or type them, e.g. 1.5 or 1:45 (in quarter hours, at most 24)."),
        keyboards.rows(buttons[:3], buttons[3:]),
    )
    return LOG_HOURS


async def _set_hours(update: Update, context: Context, minutes: int) -> str:
    _log(context)["minutes"] = minutes
    return await _next_log_step(update, context)


async def hours_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    try:
        minutes = validate_minutes(callbacks.number(data))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_hours)
    return await _set_hours(update, context, minutes)


async def hours_typed(update: Update, context: Context) -> str:
    try:
        minutes = validate_minutes(parse_hours(typed_text(update)))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_hours)
    return await _set_hours(update, context, minutes)


async def ask_description(update: Update, context: Context) -> str:
    t = context.t
    draft = _log(context)
    markup = None
    if draft.get("listing_title"):
        label = t("Use “{title}”", title=keyboards.label(str(draft["listing_title"])))
        markup = keyboards.column([keyboards.button(label, "tb:lg:desc")])
    await send(
        update,
        t("Describe the help in a few words, e.g. “grant-writing help for the food co-op”."),
        markup,
    )
    return LOG_DESCRIPTION


async def _set_description(update: Update, context: Context, text: str) -> str:
    try:
        _log(context)["description"] = timebank_exchanges.validate_description(text)
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_description)
    return await _next_log_step(update, context)


async def description_typed(update: Update, context: Context) -> str:
    return await _set_description(update, context, typed_text(update))


async def description_from_listing(update: Update, context: Context) -> str:
    await answer_press(update, keep_buttons=False)
    return await _set_description(update, context, str(_log(context).get("listing_title", "")))


def _draft_summary(t: Translator, draft: dict[str, Any]) -> str:
    other = str(draft.get("other_name") or "") or t("a former member")
    me = str(draft.get("as_name") or "")  # the organisation the member logs for, if any
    gave = draft["direction"] == "gave"
    giver, receiver = (me, other) if gave else (other, me)
    return helped_text(
        t,
        giver=giver,
        receiver=receiver,
        hours=hours_text(t, int(draft["minutes"])),
        description=str(draft["description"]),
        you_gave=gave and not me,
        you_received=not gave and not me,
    )


async def ask_log_confirm(update: Update, context: Context) -> str:
    t = context.t
    draft = _log(context)
    other = str(draft.get("other_name") or "") or t("a former member")
    text = "\n\n".join(
        [
            t("Please check:"),
            _draft_summary(t, draft),
            t(
                "{name} is asked to confirm. The hours move when they do.",
                name=other,
            ),
        ]
    )
    markup = keyboards.rows(
        [keyboards.button(t("Send for confirmation"), "tb:lg:send")],
        [keyboards.button(t("Cancel"), "tb:lg:cancel")],
    )
    await send(update, text, markup)
    return LOG_CONFIRM


async def log_send(update: Update, context: Context) -> str | int:
    t = context.t
    await answer_press(update, keep_buttons=False)
    member = member_of(context)
    draft = _log(context)
    try:
        view = await timebank_exchanges.start_exchange(
            context.uow(),
            member.id,
            other=str(draft["other"]),
            direction=draft["direction"],
            minutes=int(draft["minutes"]),
            description=str(draft["description"]),
            as_account_id=draft.get("as"),
            listing_id=draft.get("listing"),
            request_key=f"{member.id}:{draft['token']}",
            policy=policy_of(context),
            now=context.now,
        )
    except LimitExceeded as error:
        draft.pop("minutes", None)
        return await ask_again(update, context, limit_text(t, error, member.id), ask_hours)
    except (InvalidInput, NotFound) as error:
        if error.code in ("self_exchange", "counterpart_not_found", "nobody_to_confirm"):
            draft.pop("other", None)
            return await ask_again(update, context, error, ask_other)
        await send(update, error_text(t, error))
        drafts.drop(context, LOG_DRAFT)
        return ConversationHandler.END
    drafts.drop(context, LOG_DRAFT)
    await send(
        update,
        t(
            "Sent. {name} is asked to confirm; I will tell you when they do. Until then you "
            "can withdraw it in /timebank.",
            name=party_name(t, view.counterpart),
        ),
    )
    return ConversationHandler.END


async def log_cancel(update: Update, context: Context) -> int:
    if update.callback_query is not None:
        await answer_press(update, keep_buttons=False)
    drafts.drop(context, LOG_DRAFT)
    await send(update, context.t("Nothing was logged."))
    return ConversationHandler.END


LOG_ASK: dict[str, Ask] = {
    LOG_AS: ask_as,
    LOG_DIRECTION: ask_direction,
    LOG_OTHER: ask_other,
    LOG_HOURS: ask_hours,
    LOG_DESCRIPTION: ask_description,
    LOG_CONFIRM: ask_log_confirm,
}


def log_conversation() -> ConversationHandler[Context]:
    return conversation(
        "timebank_log",
        [CallbackQueryHandler(log_start, pattern=callbacks.matching(r"^tb:log(:[mal]\d+)?$"))],
        {
            LOG_AS: [
                CallbackQueryHandler(as_chosen, pattern=callbacks.matching(r"^tb:lg:as:\d+$"))
            ],
            LOG_DIRECTION: [
                CallbackQueryHandler(
                    direction_chosen, pattern=callbacks.matching(r"^tb:lg:dir:(gave|received)$")
                )
            ],
            LOG_OTHER: [
                CallbackQueryHandler(
                    other_chosen, pattern=callbacks.matching(r"^tb:lg:who:[ma]\d+$")
                ),
                MessageHandler(TEXT, other_typed),
            ],
            LOG_HOURS: [
                CallbackQueryHandler(hours_chosen, pattern=callbacks.matching(r"^tb:lg:h:\d+$")),
                MessageHandler(TEXT, hours_typed),
            ],
            LOG_DESCRIPTION: [
                CallbackQueryHandler(
                    description_from_listing, pattern=callbacks.matching(r"^tb:lg:desc$")
                ),
                MessageHandler(TEXT, description_typed),
            ],
            LOG_CONFIRM: [
                CallbackQueryHandler(log_send, pattern=callbacks.matching(r"^tb:lg:send$")),
                CallbackQueryHandler(log_cancel, pattern=callbacks.matching(r"^tb:lg:cancel$")),
            ],
        },
        asks=LOG_ASK,
        text_states=(LOG_OTHER, LOG_HOURS, LOG_DESCRIPTION),
        own_buttons=r"^tb:lg:",
        cancel=log_cancel,
    )
