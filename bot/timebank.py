"""/timebank: balance, pending confirmations, recent exchanges; offers and requests, browsing,
contact requests, logging hours, confirming, history (also CSV), statistics for organisers,
and the administrators' tools (categories, organisation accounts, corrections).

Flows of several steps (log hours, post a listing, edit a listing) are persistent
ConversationHandlers: their drafts live in ``context.user_data`` (JSON) and survive a restart.
Single-step actions are plain callback buttons with the ids in their data (``tb:...``), so a
button in a message delivered later through the outbox works the same as one on screen.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from babel.dates import format_date
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from samvirke.bot import keyboards
from samvirke.bot.context import Context
from samvirke.bot.spreadsheets import csv_safe
from samvirke.bot.texts import error_text, sector_label
from samvirke.storage import regions, timebank
from samvirke.storage.errors import InvalidInput, NotFound
from samvirke.storage.ledger import (
    LimitExceeded,
    Policy,
    hours_decimal,
    parse_hours,
    validate_minutes,
)
from samvirke.storage.members import MemberView
from samvirke.storage.models import ListingKind, ListingStatus
from samvirke.storage.permissions import Actor, require_admin
from samvirke.storage.timebank import (
    ExchangeView,
    History,
    HistoryLine,
    ListingView,
    Party,
    Stats,
    hours_text,
    party_name,
)
from samvirke.templates.i18n import N_, Translator

PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND
HISTORY_PAGE = 10
SHOWN_PENDING = 5
PREVIEW_CHARS = 200

# The categories the migration seeds, in the member's language (others show their name).
CATEGORY_LABELS: dict[str, str] = {
    "funding": N_("Funding and grant writing"),
    "communication": N_("Communication and media"),
    "digital": N_("IT and digital tools"),
    "facilitation": N_("Meetings and facilitation"),
    "mentoring": N_("Mentoring and advice"),
    "practical": N_("Practical help"),
    "languages": N_("Languages and translation"),
    "other": N_("Other"),
}
KIND_LABELS: dict[str, str] = {ListingKind.OFFER: N_("Offer"), ListingKind.REQUEST: N_("Request")}
HOUR_BUTTONS = (30, 60, 90, 120, 180, 240)


# --- small helpers --------------------------------------------------------------------------


def _policy(context: Context) -> Policy:
    return Policy.from_settings(context.services.settings)


def _member(context: Context) -> MemberView:
    if context.member is None:
        raise NotFound("member_not_found")
    return context.member


def _actor(context: Context) -> Actor:
    assert context.actor is not None
    return context.actor


async def _send(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None, **kwargs: Any
) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup, **kwargs)


async def _answer(update: Update, *, keep_buttons: bool = True) -> str:
    """Answer the button press; optionally take the buttons off the message."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if not keep_buttons and query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    return query.data or ""


def _number(data: str, index: int = -1) -> int:
    return int(data.split(":")[index])


def category_label(t: Translator, category: timebank.CategoryView) -> str:
    label = CATEGORY_LABELS.get(category.code)
    return t(label) if label else category.name


def _day(t: Translator, context: Context, at: dt.datetime) -> str:
    local = at.astimezone(context.services.settings.tz).date()
    return format_date(local, format="medium", locale=t.language)


def _csv_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    # UTF-8 with BOM so that spreadsheet programs show æ, ø, å correctly.
    return out.getvalue().encode("utf-8-sig")


def _csv_hours(minutes: int) -> str:
    return str(hours_decimal(minutes))


def _exchange_line(t: Translator, view: ExchangeView, own_account: int) -> str:
    hours = hours_text(t, view.minutes)
    if view.giver.account_id == own_account:
        return t(
            "You helped {name}: {hours}, “{description}”",
            name=party_name(t, view.receiver),
            hours=hours,
            description=view.description,
        )
    if view.receiver.account_id == own_account:
        return t(
            "{name} helped you: {hours}, “{description}”",
            name=party_name(t, view.giver),
            hours=hours,
            description=view.description,
        )
    return t(
        "{giver} helped {receiver}: {hours}, “{description}”",
        giver=party_name(t, view.giver),
        receiver=party_name(t, view.receiver),
        hours=hours,
        description=view.description,
    )


def limit_text(t: Translator, error: LimitExceeded, viewer_member_id: int | None) -> str:
    """Why an exchange was refused, and what the balances are."""
    params = error.params
    after = hours_text(t, int(str(params["after"])))
    limit = hours_text(t, int(str(params["limit"])))
    own = params.get("account_member_id") is not None and (
        params.get("account_member_id") == viewer_member_id
    )
    name = str(params.get("account_name") or "") or t("a former member")
    if error.code == "balance_below_minimum":
        reason = (
            t(
                "Refused: your balance would fall to {after}, below the minimum of {limit}.",
                after=after,
                limit=limit,
            )
            if own
            else t(
                "Refused: the balance of {name} would fall to {after}, below the minimum of "
                "{limit}.",
                name=name,
                after=after,
                limit=limit,
            )
        )
    else:
        reason = (
            t(
                "Refused: your balance would rise to {after}, above the maximum of {limit}.",
                after=after,
                limit=limit,
            )
            if own
            else t(
                "Refused: the balance of {name} would rise to {after}, above the maximum of "
                "{limit}.",
                name=name,
                after=after,
                limit=limit,
            )
        )
    balances = t(
        "Balances now: {giver} {giver_balance}, {receiver} {receiver_balance}.",
        giver=str(params.get("credit_name") or "") or t("a former member"),
        giver_balance=hours_text(t, int(str(params.get("credit_balance", 0)))),
        receiver=str(params.get("debit_name") or "") or t("a former member"),
        receiver_balance=hours_text(t, int(str(params.get("debit_balance", 0)))),
    )
    return reason + "\n" + balances


# --- /timebank ------------------------------------------------------------------------------


async def timebank_command(update: Update, context: Context) -> None:
    _member(context)
    args = context.args or []
    if args and _actor(context).is_admin:
        await _admin_command(update, context, args)
        return
    await show(update, context)


async def show(update: Update, context: Context) -> None:
    """Balance, what waits for confirmation (both ways), recent exchanges, and the buttons."""
    t = context.t
    member = _member(context)
    overview = await timebank.overview(context.uow(), member.id, policy=_policy(context))
    own = overview.account
    lines = [
        t("Your timebank"),
        "",
        t(
            "Balance: {balance} (it may go from {minimum} to {maximum})",
            balance=hours_text(t, own.balance),
            minimum=hours_text(t, own.limits.min_minutes),
            maximum=hours_text(t, own.limits.max_minutes),
        ),
    ]
    for organisation in overview.organisations:
        lines.append(
            t(
                "{organisation} (you coordinate it): {balance}",
                organisation=organisation.name,
                balance=hours_text(t, organisation.balance),
            )
        )
    rows: list[list[InlineKeyboardButton]] = []
    if overview.to_confirm:
        lines += ["", t("Waiting for your confirmation:")]
        for number, view in enumerate(overview.to_confirm[:SHOWN_PENDING], start=1):
            lines.append(f"{number}. {_exchange_line(t, view, own.id)}")
            rows.append(
                [
                    keyboards.button(t("Confirm {number}", number=number), f"tb:ok:{view.id}"),
                    keyboards.button(t("Decline {number}", number=number), f"tb:no:{view.id}"),
                ]
            )
    if overview.waiting:
        lines += ["", t("Waiting for the other side to confirm:")]
        letters = "abcdefghij"
        for letter, view in zip(letters, overview.waiting[:SHOWN_PENDING], strict=False):
            lines.append(f"{letter}. {_exchange_line(t, view, own.id)}")
            rows.append(
                [keyboards.button(t("Withdraw {letter}", letter=letter), f"tb:wd:{view.id}")]
            )
    if overview.recent:
        lines += ["", t("Recent exchanges:")]
        for view in overview.recent:
            when = _day(t, context, view.decided_at or view.created_at)
            lines.append(f"• {when}: {_exchange_line(t, view, own.id)}")
    if not (overview.to_confirm or overview.waiting or overview.recent):
        lines += [
            "",
            t(
                "No exchanges yet. One hour of help is worth one hour, whoever gives it: offer "
                "what you can do, ask for what you need, and log the hours when help was given."
            ),
        ]
    rows += [
        [
            keyboards.button(t("Offer help"), "tb:new:offer"),
            keyboards.button(t("Ask for help"), "tb:new:request"),
        ],
        [keyboards.button(t("Browse"), "tb:br"), keyboards.button(t("Log hours"), "tb:log")],
        [
            keyboards.button(t("History"), "tb:hi:0:0"),
            keyboards.button(t("My listings"), "tb:mine"),
        ],
    ]
    if _actor(context).is_organiser:
        rows.append([keyboards.button(t("Statistics"), "tb:st")])
    if _actor(context).is_admin:
        lines += ["", t("Administrators: /timebank help lists the administration commands.")]
    await _send(update, "\n".join(lines), InlineKeyboardMarkup(rows))


# --- confirm, decline, withdraw ---------------------------------------------------------------


async def confirm_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    member = _member(context)
    try:
        decision = await timebank.confirm(
            context.uow(), member.id, _number(data), policy=_policy(context), now=context.now
        )
    except LimitExceeded as error:
        await _send(update, limit_text(t, error, member.id))
        return
    query = update.callback_query
    if query is not None and query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    view = decision.exchange
    if not decision.changed:
        await _send(update, t("You have already confirmed this exchange."))
        return
    side = view.counterpart
    lines = [
        t("Confirmed: the hours have moved."),
        _exchange_line(t, view, side.account_id if side.member_id == member.id else 0),
    ]
    balance = decision.balances.get(side.account_id, 0)
    if side.is_organisation:
        lines.append(
            t(
                "The balance of {organisation} is now {balance}.",
                organisation=side.name,
                balance=hours_text(t, balance),
            )
        )
    else:
        lines.append(t("Your balance is now {balance}.", balance=hours_text(t, balance)))
    await _send(update, "\n".join(lines))


async def decline_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    member = _member(context)
    decision = await timebank.decline(context.uow(), member.id, _number(data), now=context.now)
    query = update.callback_query
    if query is not None and query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    if not decision.changed:
        await _send(update, t("You have already declined this exchange."))
        return
    await _send(update, t("Declined. No hours were moved; they have been told."))


async def withdraw_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update, keep_buttons=False)
    member = _member(context)
    decision = await timebank.cancel(context.uow(), member.id, _number(data), now=context.now)
    if not decision.changed:
        await _send(update, t("You have already withdrawn this exchange."))
        return
    await _send(update, t("Withdrawn. No hours were moved; the other side has been told."))


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
    draft: dict[str, Any] = context.user_data.setdefault(LOG_DRAFT, {})  # type: ignore[union-attr]
    return draft


async def log_start(update: Update, context: Context) -> str | int:
    """ "Log hours" (from /timebank, an introduction, or a listing)."""
    t = context.t
    data = await _answer(update)
    member = _member(context)
    draft: dict[str, Any] = {"token": secrets.token_hex(8)}
    context.user_data[LOG_DRAFT] = draft  # type: ignore[index]
    preset = data.removeprefix("tb:log").removeprefix(":")
    if preset.startswith("l"):
        listing = await timebank.get_listing(context.uow(), int(preset[1:]))
        if listing.member_id == member.id:
            await _send(update, error_text(t, InvalidInput("own_listing")))
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
        other = await timebank.choosable(context.uow(), member.id, preset)
        if other.member_id == member.id:
            await _send(update, error_text(t, InvalidInput("self_exchange")))
            return ConversationHandler.END
        draft.update(other=other.ref, other_name=other.name)
    overview = await timebank.overview(context.uow(), member.id, policy=_policy(context))
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
    await _send(update, t("Whose hours are you logging?"), keyboards.column(buttons))
    return LOG_AS


async def as_chosen(update: Update, context: Context) -> str:
    data = await _answer(update, keep_buttons=False)
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
    await _send(
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
    data = await _answer(update, keep_buttons=False)
    direction = data.rsplit(":", 1)[-1]
    if direction in ("gave", "received"):
        _log(context)["direction"] = direction
    return await _next_log_step(update, context)


async def ask_other(update: Update, context: Context) -> str:
    t = context.t
    member = _member(context)
    draft = _log(context)
    contacts = await timebank.recent_contacts(
        context.uow(), member.id, as_account_id=draft.get("as")
    )
    organisations = await timebank.organisation_accounts(context.uow(), policy=_policy(context))
    mine = set(draft.get("organisations", {}))
    choices: list[Party] = list(contacts)
    choices += [o.party for o in organisations if str(o.id) not in mine]
    buttons = [keyboards.button(party_name(t, p), f"tb:lg:who:{p.ref}") for p in choices[:10]]
    text = (
        t("Who was it? Choose below, or type their Telegram @username.")
        if buttons
        else t("Who was it? Type their Telegram @username (they must have signed up here).")
    )
    await _send(update, text, keyboards.column(buttons) if buttons else None)
    return LOG_OTHER


async def _set_other(update: Update, context: Context, other: Party) -> str:
    member = _member(context)
    if other.member_id == member.id:
        await _send(update, error_text(context.t, InvalidInput("self_exchange")))
        return await ask_other(update, context)
    _log(context).update(other=other.ref, other_name=other.name)
    return await _next_log_step(update, context)


async def other_chosen(update: Update, context: Context) -> str:
    data = await _answer(update, keep_buttons=False)
    try:
        other = await timebank.choosable(
            context.uow(),
            _member(context).id,
            data.split(":")[-1],
            as_account_id=_log(context).get("as"),
        )
    except NotFound as error:
        await _send(update, error_text(context.t, error))
        return await ask_other(update, context)
    return await _set_other(update, context, other)


async def other_typed(update: Update, context: Context) -> str:
    message = update.effective_message
    assert message is not None
    try:
        other = await timebank.find_member(context.uow(), message.text or "")
    except NotFound as error:
        await _send(update, error_text(context.t, error))
        return await ask_other(update, context)
    return await _set_other(update, context, other)


async def ask_hours(update: Update, context: Context) -> str:
    t = context.t
    buttons = [keyboards.button(hours_text(t, m), f"tb:lg:h:{m}") for m in HOUR_BUTTONS]
    await _send(
        update,
        t("How many hours? Choose, or type them, e.g. 1.5 or 1:45 (in quarter hours, at most 24)."),
        keyboards.rows(buttons[:3], buttons[3:]),
    )
    return LOG_HOURS


async def _set_hours(update: Update, context: Context, minutes: int) -> str:
    _log(context)["minutes"] = minutes
    return await _next_log_step(update, context)


async def hours_chosen(update: Update, context: Context) -> str:
    data = await _answer(update, keep_buttons=False)
    try:
        minutes = validate_minutes(_number(data))
    except InvalidInput as error:
        await _send(update, error_text(context.t, error))
        return await ask_hours(update, context)
    return await _set_hours(update, context, minutes)


async def hours_typed(update: Update, context: Context) -> str:
    message = update.effective_message
    assert message is not None
    try:
        minutes = validate_minutes(parse_hours(message.text or ""))
    except InvalidInput as error:
        await _send(update, error_text(context.t, error))
        return await ask_hours(update, context)
    return await _set_hours(update, context, minutes)


async def ask_description(update: Update, context: Context) -> str:
    t = context.t
    draft = _log(context)
    markup = None
    if draft.get("listing_title"):
        label = t("Use “{title}”", title=str(draft["listing_title"])[:40])
        markup = keyboards.column([keyboards.button(label, "tb:lg:desc")])
    await _send(
        update,
        t("Describe the help in a few words, e.g. “grant-writing help for the food co-op”."),
        markup,
    )
    return LOG_DESCRIPTION


async def _set_description(update: Update, context: Context, text: str) -> str:
    try:
        _log(context)["description"] = timebank.validate_description(text)
    except InvalidInput as error:
        await _send(update, error_text(context.t, error))
        return await ask_description(update, context)
    return await _next_log_step(update, context)


async def description_typed(update: Update, context: Context) -> str:
    message = update.effective_message
    assert message is not None
    return await _set_description(update, context, message.text or "")


async def description_from_listing(update: Update, context: Context) -> str:
    await _answer(update, keep_buttons=False)
    return await _set_description(update, context, str(_log(context).get("listing_title", "")))


def _draft_summary(t: Translator, draft: dict[str, Any]) -> str:
    other = str(draft.get("other_name") or "") or t("a former member")
    me = str(draft.get("as_name") or "")
    hours = hours_text(t, int(draft["minutes"]))
    description = str(draft["description"])
    if draft["direction"] == "gave":
        if me:
            return t(
                "{giver} helped {receiver}: {hours}, “{description}”",
                giver=me,
                receiver=other,
                hours=hours,
                description=description,
            )
        return t(
            "You helped {name}: {hours}, “{description}”",
            name=other,
            hours=hours,
            description=description,
        )
    if me:
        return t(
            "{giver} helped {receiver}: {hours}, “{description}”",
            giver=other,
            receiver=me,
            hours=hours,
            description=description,
        )
    return t(
        "{name} helped you: {hours}, “{description}”",
        name=other,
        hours=hours,
        description=description,
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
    await _send(update, text, markup)
    return LOG_CONFIRM


async def log_send(update: Update, context: Context) -> str | int:
    t = context.t
    await _answer(update, keep_buttons=False)
    member = _member(context)
    draft = _log(context)
    try:
        view = await timebank.start_exchange(
            context.uow(),
            member.id,
            other=str(draft["other"]),
            direction=draft["direction"],
            minutes=int(draft["minutes"]),
            description=str(draft["description"]),
            as_account_id=draft.get("as"),
            listing_id=draft.get("listing"),
            request_key=f"{member.id}:{draft['token']}",
            policy=_policy(context),
            now=context.now,
        )
    except LimitExceeded as error:
        await _send(update, limit_text(t, error, member.id))
        draft.pop("minutes", None)
        return await ask_hours(update, context)
    except (InvalidInput, NotFound) as error:
        await _send(update, error_text(t, error))
        if error.code in ("self_exchange", "counterpart_not_found", "nobody_to_confirm"):
            draft.pop("other", None)
            return await ask_other(update, context)
        context.user_data.pop(LOG_DRAFT, None)  # type: ignore[union-attr]
        return ConversationHandler.END
    context.user_data.pop(LOG_DRAFT, None)  # type: ignore[union-attr]
    await _send(
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
        await _answer(update, keep_buttons=False)
    context.user_data.pop(LOG_DRAFT, None)  # type: ignore[union-attr]
    await _send(update, context.t("Nothing was logged."))
    return ConversationHandler.END


LOG_ASK: dict[str, Callable[[Update, Context], Coroutine[Any, Any, str]]] = {
    LOG_AS: ask_as,
    LOG_DIRECTION: ask_direction,
    LOG_OTHER: ask_other,
    LOG_HOURS: ask_hours,
    LOG_DESCRIPTION: ask_description,
    LOG_CONFIRM: ask_log_confirm,
}


# --- posting and editing listings (conversations) ----------------------------------------------

NEW_TITLE, NEW_DESCRIPTION, NEW_CATEGORY, NEW_REGION = (
    "new_title",
    "new_description",
    "new_category",
    "new_region",
)
NEW_DRAFT = "timebank_listing"


def _new(context: Context) -> dict[str, Any]:
    draft: dict[str, Any] = context.user_data.setdefault(NEW_DRAFT, {})  # type: ignore[union-attr]
    return draft


async def new_start(update: Update, context: Context) -> str:
    data = await _answer(update)
    _member(context)
    kind = data.rsplit(":", 1)[-1]
    context.user_data[NEW_DRAFT] = {  # type: ignore[index]
        "kind": kind if kind in set(ListingKind) else ListingKind.OFFER
    }
    return await ask_title(update, context)


async def ask_title(update: Update, context: Context) -> str:
    t = context.t
    if _new(context).get("kind") == ListingKind.REQUEST:
        question = t(
            "What do you need help with? A short title, e.g. “Feedback on a grant application”."
        )
    else:
        question = t("What can you offer? A short title, e.g. “Help with grant applications”.")
    await _send(update, question + "\n" + t("Send /cancel to stop."))
    return NEW_TITLE


async def title_typed(update: Update, context: Context) -> str:
    message = update.effective_message
    assert message is not None
    try:
        _new(context)["title"] = timebank.validate_title(message.text or "")
    except InvalidInput as error:
        await _send(update, error_text(context.t, error))
        return await ask_title(update, context)
    return await ask_listing_description(update, context)


async def ask_listing_description(update: Update, context: Context) -> str:
    await _send(
        update,
        context.t(
            "Describe it in a few sentences: what, when, how much time, anything people should "
            "know."
        ),
    )
    return NEW_DESCRIPTION


async def listing_description_typed(update: Update, context: Context) -> str:
    message = update.effective_message
    assert message is not None
    try:
        _new(context)["description"] = timebank.validate_listing_description(message.text or "")
    except InvalidInput as error:
        await _send(update, error_text(context.t, error))
        return await ask_listing_description(update, context)
    return await ask_category(update, context)


async def _category_buttons(context: Context, prefix: str) -> list[InlineKeyboardButton]:
    return [
        keyboards.button(category_label(context.t, c), f"{prefix}:{c.id}")
        for c in await timebank.categories(context.uow())
    ]


def _two_columns(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]


async def ask_category(update: Update, context: Context) -> str:
    buttons = await _category_buttons(context, "tb:nl:cat")
    await _send(update, context.t("Which category?"), InlineKeyboardMarkup(_two_columns(buttons)))
    return NEW_CATEGORY


async def category_chosen(update: Update, context: Context) -> str:
    data = await _answer(update, keep_buttons=False)
    _new(context)["category_id"] = _number(data)
    return await ask_listing_region(update, context)


async def _region_markup(context: Context, prefix: str, everywhere: str) -> InlineKeyboardMarkup:
    available = await regions.list_active(context.uow())
    buttons = [keyboards.button(everywhere, f"{prefix}:0")]
    buttons += [keyboards.button(r.name, f"{prefix}:{r.id}") for r in available]
    return InlineKeyboardMarkup(_two_columns(buttons))


async def ask_listing_region(update: Update, context: Context) -> str:
    t = context.t
    markup = await _region_markup(context, "tb:nl:reg", t("The whole network"))
    await _send(update, t("Where? Choose a region, or the whole network."), markup)
    return NEW_REGION


async def listing_region_chosen(update: Update, context: Context) -> str | int:
    t = context.t
    data = await _answer(update, keep_buttons=False)
    member = _member(context)
    draft = _new(context)
    region_id = _number(data) or None
    try:
        listing = await timebank.create_listing(
            context.uow(),
            member.id,
            kind=str(draft.get("kind", ListingKind.OFFER)),
            title=str(draft.get("title", "")),
            description=str(draft.get("description", "")),
            category_id=int(draft.get("category_id", 0)),
            region_id=region_id,
            now=context.now,
        )
    except InvalidInput as error:
        await _send(update, error_text(t, error))
        if error.code == "region_unknown":
            return await ask_listing_region(update, context)
        if error.code == "category_unknown":
            return await ask_category(update, context)
        context.user_data.pop(NEW_DRAFT, None)  # type: ignore[union-attr]
        return ConversationHandler.END
    context.user_data.pop(NEW_DRAFT, None)  # type: ignore[union-attr]
    await _send(update, t("Posted. Members can now find it under Browse."))
    await _listing_card(update, context, listing)
    return ConversationHandler.END


async def new_cancel(update: Update, context: Context) -> int:
    context.user_data.pop(NEW_DRAFT, None)  # type: ignore[union-attr]
    context.user_data.pop(EDIT_DRAFT, None)  # type: ignore[union-attr]
    await _send(update, context.t("Nothing changed."))
    return ConversationHandler.END


NEW_ASK: dict[str, Callable[[Update, Context], Coroutine[Any, Any, str]]] = {
    NEW_TITLE: ask_title,
    NEW_DESCRIPTION: ask_listing_description,
    NEW_CATEGORY: ask_category,
    NEW_REGION: ask_listing_region,
}

EDIT_TEXT, EDIT_CHOICE = "edit_text", "edit_choice"
EDIT_DRAFT = "timebank_edit"
EDIT_QUESTIONS = {
    "title": N_("Type the new title."),
    "description": N_("Type the new description."),
    "category": N_("Which category?"),
    "region": N_("Where? Choose a region, or the whole network."),
}


async def edit_start(update: Update, context: Context) -> str | int:
    data = await _answer(update, keep_buttons=False)
    _member(context)
    _, _, listing_id, field = data.split(":")
    context.user_data[EDIT_DRAFT] = {"listing": int(listing_id), "field": field}  # type: ignore[index]
    return await ask_edit(update, context)


async def ask_edit(update: Update, context: Context) -> str:
    t = context.t
    draft: dict[str, Any] = context.user_data.get(EDIT_DRAFT, {})  # type: ignore[union-attr]
    field = str(draft.get("field", "title"))
    question = t(EDIT_QUESTIONS.get(field, EDIT_QUESTIONS["title"]))
    if field == "category":
        buttons = await _category_buttons(context, "tb:le:set")
        await _send(update, question, InlineKeyboardMarkup(_two_columns(buttons)))
        return EDIT_CHOICE
    if field == "region":
        markup = await _region_markup(context, "tb:le:set", t("The whole network"))
        await _send(update, question, markup)
        return EDIT_CHOICE
    await _send(update, question + "\n" + t("Send /cancel to keep it as it is."))
    return EDIT_TEXT


async def _save_edit(update: Update, context: Context, value: str | int | None) -> str | int:
    member = _member(context)
    draft: dict[str, Any] = context.user_data.get(EDIT_DRAFT, {})  # type: ignore[union-attr]
    try:
        listing = await timebank.update_listing(
            context.uow(),
            member.id,
            int(draft.get("listing", 0)),
            str(draft.get("field", "")),
            value,
            now=context.now,
        )
    except InvalidInput as error:
        await _send(update, error_text(context.t, error))
        return await ask_edit(update, context)
    context.user_data.pop(EDIT_DRAFT, None)  # type: ignore[union-attr]
    await _send(update, context.t("Saved."))
    await _listing_card(update, context, listing)
    return ConversationHandler.END


async def edit_typed(update: Update, context: Context) -> str | int:
    message = update.effective_message
    assert message is not None
    return await _save_edit(update, context, message.text or "")


async def edit_chosen(update: Update, context: Context) -> str | int:
    data = await _answer(update, keep_buttons=False)
    return await _save_edit(update, context, _number(data) or None)


# --- conversation guards ----------------------------------------------------------------------

IN_FLOW = N_("Please answer the question, or send /cancel to stop.")
EXPECT_BUTTON = N_("Please choose one of the buttons below.")
EXPECT_TEXT = N_("Please answer with a text message.")


def _reask(
    ask: Callable[[Update, Context], Coroutine[Any, Any, str]], explanation: str
) -> Callable[[Update, Context], Coroutine[Any, Any, str]]:
    async def handler(update: Update, context: Context) -> str:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await _send(update, context.t(explanation))
        return await ask(update, context)

    return handler


def _guards(
    ask: Callable[[Update, Context], Coroutine[Any, Any, str]],
    *,
    cancel: Callable[[Update, Context], Coroutine[Any, Any, int]],
    expects_text: bool,
    own_buttons: str,
) -> list[BaseHandler[Update, Context, Any]]:
    """What a state does not expect: /cancel, other commands, old buttons of this flow, and
    text where a button is wanted (buttons of other features pass through)."""
    guards: list[BaseHandler[Update, Context, Any]] = [
        CommandHandler("cancel", cancel),
        MessageHandler(filters.COMMAND, _reask(ask, IN_FLOW)),
        CallbackQueryHandler(_reask(ask, EXPECT_BUTTON), pattern=own_buttons),
    ]
    if not expects_text:
        guards.append(MessageHandler(filters.ALL, _reask(ask, EXPECT_BUTTON)))
    else:
        guards.append(MessageHandler(filters.ALL, _reask(ask, EXPECT_TEXT)))
    return guards


def conversations() -> list[ConversationHandler[Context]]:
    log_guards = {
        state: _guards(
            ask,
            cancel=log_cancel,
            expects_text=state in (LOG_OTHER, LOG_HOURS, LOG_DESCRIPTION),
            own_buttons=r"^tb:lg:",
        )
        for state, ask in LOG_ASK.items()
    }
    log = ConversationHandler(
        entry_points=[CallbackQueryHandler(log_start, pattern=r"^tb:log(:[mal]\d+)?$")],
        states={
            LOG_AS: [
                CallbackQueryHandler(as_chosen, pattern=r"^tb:lg:as:\d+$"),
                *log_guards[LOG_AS],
            ],
            LOG_DIRECTION: [
                CallbackQueryHandler(direction_chosen, pattern=r"^tb:lg:dir:(gave|received)$"),
                *log_guards[LOG_DIRECTION],
            ],
            LOG_OTHER: [
                CallbackQueryHandler(other_chosen, pattern=r"^tb:lg:who:[ma]\d+$"),
                MessageHandler(TEXT, other_typed),
                *log_guards[LOG_OTHER],
            ],
            LOG_HOURS: [
                CallbackQueryHandler(hours_chosen, pattern=r"^tb:lg:h:\d+$"),
                MessageHandler(TEXT, hours_typed),
                *log_guards[LOG_HOURS],
            ],
            LOG_DESCRIPTION: [
                CallbackQueryHandler(description_from_listing, pattern=r"^tb:lg:desc$"),
                MessageHandler(TEXT, description_typed),
                *log_guards[LOG_DESCRIPTION],
            ],
            LOG_CONFIRM: [
                CallbackQueryHandler(log_send, pattern=r"^tb:lg:send$"),
                CallbackQueryHandler(log_cancel, pattern=r"^tb:lg:cancel$"),
                *log_guards[LOG_CONFIRM],
            ],
        },
        fallbacks=[CommandHandler("cancel", log_cancel)],
        name="timebank_log",
        persistent=True,
        allow_reentry=True,
    )
    new_guards = {
        state: _guards(
            ask,
            cancel=new_cancel,
            expects_text=state in (NEW_TITLE, NEW_DESCRIPTION),
            own_buttons=r"^tb:nl:",
        )
        for state, ask in NEW_ASK.items()
    }
    new = ConversationHandler(
        entry_points=[CallbackQueryHandler(new_start, pattern=r"^tb:new:(offer|request)$")],
        states={
            NEW_TITLE: [MessageHandler(TEXT, title_typed), *new_guards[NEW_TITLE]],
            NEW_DESCRIPTION: [
                MessageHandler(TEXT, listing_description_typed),
                *new_guards[NEW_DESCRIPTION],
            ],
            NEW_CATEGORY: [
                CallbackQueryHandler(category_chosen, pattern=r"^tb:nl:cat:\d+$"),
                *new_guards[NEW_CATEGORY],
            ],
            NEW_REGION: [
                CallbackQueryHandler(listing_region_chosen, pattern=r"^tb:nl:reg:\d+$"),
                *new_guards[NEW_REGION],
            ],
        },
        fallbacks=[CommandHandler("cancel", new_cancel)],
        name="timebank_listing",
        persistent=True,
        allow_reentry=True,
    )
    edit = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(
                edit_start, pattern=r"^tb:le:\d+:(title|description|category|region)$"
            )
        ],
        states={
            EDIT_TEXT: [
                MessageHandler(TEXT, edit_typed),
                *_guards(ask_edit, cancel=new_cancel, expects_text=True, own_buttons=r"^tb:le:"),
            ],
            EDIT_CHOICE: [
                CallbackQueryHandler(edit_chosen, pattern=r"^tb:le:set:\d+$"),
                *_guards(ask_edit, cancel=new_cancel, expects_text=False, own_buttons=r"^tb:le:"),
            ],
        },
        fallbacks=[CommandHandler("cancel", new_cancel)],
        name="timebank_edit",
        persistent=True,
        allow_reentry=True,
    )
    return [log, new, edit]


# --- my listings ----------------------------------------------------------------------------


def _listing_text(t: Translator, listing: ListingView, *, with_poster: bool) -> str:
    head = " · ".join(
        [
            t(KIND_LABELS.get(listing.kind, KIND_LABELS[ListingKind.OFFER])),
            category_label(t, listing.category),
            listing.region_name or t("The whole network"),
        ]
    )
    description = listing.description
    if len(description) > PREVIEW_CHARS:
        description = description[: PREVIEW_CHARS - 1].rstrip() + "…"
    lines = [head, listing.title, description]
    if with_poster:
        lines.append("– " + (listing.poster_name or t("a former member")))
    return "\n".join(lines)


async def _listing_card(update: Update, context: Context, listing: ListingView) -> None:
    t = context.t
    text = _listing_text(t, listing, with_poster=False)
    if listing.status == ListingStatus.PAUSED:
        text = t("Paused (not shown under Browse)") + "\n" + text
        toggle = keyboards.button(t("Resume"), f"tb:lr:{listing.id}")
    else:
        toggle = keyboards.button(t("Pause"), f"tb:lp:{listing.id}")
    markup = keyboards.rows(
        [toggle, keyboards.button(t("Edit"), f"tb:lf:{listing.id}")],
        [keyboards.button(t("Delete"), f"tb:ld:{listing.id}")],
    )
    await _send(update, text, markup)


async def my_listings(update: Update, context: Context) -> None:
    t = context.t
    await _answer(update)
    member = _member(context)
    listings = await timebank.my_listings(context.uow(), member.id)
    if not listings:
        await _send(
            update,
            t("You have no offers or requests yet."),
            keyboards.rows(
                [
                    keyboards.button(t("Offer help"), "tb:new:offer"),
                    keyboards.button(t("Ask for help"), "tb:new:request"),
                ]
            ),
        )
        return
    await _send(update, t("Your offers and requests:"))
    for listing in listings:
        await _listing_card(update, context, listing)


async def listing_status_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update, keep_buttons=False)
    member = _member(context)
    action = data.split(":")[1]
    status = {"lp": ListingStatus.PAUSED, "lr": ListingStatus.ACTIVE, "ldy": ListingStatus.DELETED}
    listing = await timebank.set_listing_status(
        context.uow(), member.id, _number(data), status[action], now=context.now
    )
    if listing is None:
        await _send(update, t("Deleted."))
        return
    await _send(
        update, t("Paused.") if listing.status == ListingStatus.PAUSED else t("Active again.")
    )
    await _listing_card(update, context, listing)


async def delete_asked(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    listing_id = _number(data)
    await _send(
        update,
        t("Delete this listing for good?"),
        keyboards.rows(
            [
                keyboards.button(t("Yes, delete it"), f"tb:ldy:{listing_id}"),
                keyboards.button(t("No, keep it"), "tb:mine"),
            ]
        ),
    )


async def edit_fields(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    listing_id = _number(data)
    labels = {
        "title": t("Title"),
        "description": t("Description"),
        "category": t("Category"),
        "region": t("Region"),
    }
    await _send(
        update,
        t("What do you want to change?"),
        keyboards.column(
            keyboards.button(label, f"tb:le:{listing_id}:{field}")
            for field, label in labels.items()
        ),
    )


# --- browsing and contact requests ----------------------------------------------------------


async def browse_pressed(update: Update, context: Context) -> None:
    t = context.t
    await _answer(update)
    _member(context)
    buttons = [keyboards.button(t("All categories"), "tb:bc:0")]
    buttons += await _category_buttons(context, "tb:bc")
    await _send(
        update,
        t("Browse offers and requests: which category?"),
        InlineKeyboardMarkup(_two_columns(buttons)),
    )


async def browse_category(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update, keep_buttons=False)
    category = _number(data)
    available = await regions.list_active(context.uow())
    # Each region button leads to the first page of that category and region.
    buttons = [keyboards.button(t("All regions"), f"tb:bl:{category}:0:0")]
    buttons += [keyboards.button(r.name, f"tb:bl:{category}:{r.id}:0") for r in available]
    await _send(update, t("Which region?"), InlineKeyboardMarkup(_two_columns(buttons)))


async def browse_list(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    member = _member(context)
    _, _, category_id, region_id, page_number = data.split(":")
    page = await timebank.browse(
        context.uow(),
        category_id=int(category_id) or None,
        region_id=int(region_id) or None,
        page=int(page_number),
    )
    if not page.total:
        await _send(
            update,
            t("Nothing here yet. Be the first: offer help or ask for it."),
            keyboards.rows(
                [
                    keyboards.button(t("Offer help"), "tb:new:offer"),
                    keyboards.button(t("Ask for help"), "tb:new:request"),
                ],
                [keyboards.button(t("Browse"), "tb:br")],
            ),
        )
        return
    lines = [
        t(
            "Offers and requests, newest first (page {page} of {pages}):",
            page=page.page + 1,
            pages=page.pages,
        )
    ]
    rows: list[list[InlineKeyboardButton]] = []
    for number, listing in enumerate(page.listings, start=1):
        lines += ["", f"{number}. " + _listing_text(t, listing, with_poster=True)]
        if listing.member_id != member.id:
            rows.append(
                [
                    keyboards.button(t("Contact {number}", number=number), f"tb:ct:{listing.id}"),
                    keyboards.button(
                        t("Log hours {number}", number=number), f"tb:log:l{listing.id}"
                    ),
                ]
            )
    nav = []
    if page.page > 0:
        nav.append(
            keyboards.button(t("« Newer"), f"tb:bl:{category_id}:{region_id}:{page.page - 1}")
        )
    if page.page + 1 < page.pages:
        nav.append(
            keyboards.button(t("Older »"), f"tb:bl:{category_id}:{region_id}:{page.page + 1}")
        )
    if nav:
        rows.append(nav)
    text, markup = "\n".join(lines), InlineKeyboardMarkup(rows)
    query = update.callback_query
    if query is not None and query.message is not None and int(page_number) != 0:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await _send(update, text, markup)


async def contact_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    member = _member(context)
    result = await timebank.request_contact(
        context.uow(), member.id, _number(data), now=context.now
    )
    if not result.changed:
        await _send(
            update, t("You have already asked about “{title}”.", title=result.listing.title)
        )
        return
    await _send(
        update,
        t(
            "I have asked {name} whether they want to get in touch about “{title}”. If they "
            "accept, I introduce you to each other here.",
            name=result.listing.poster_name or t("a former member"),
            title=result.listing.title,
        ),
    )


async def contact_answered(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update, keep_buttons=False)
    member = _member(context)
    accept = data.startswith("tb:cra:")
    result = await timebank.answer_contact(
        context.uow(), member.id, _number(data), accept=accept, now=context.now
    )
    if accept:
        await _send(
            update,
            t("Accepted. I have introduced you to each other.")
            if result.changed
            else t("You have already accepted."),
        )
    else:
        await _send(
            update,
            t("Declined. They have not been told who you are.")
            if result.changed
            else t("You have already declined."),
        )


# --- history --------------------------------------------------------------------------------

KIND_PREFIXES = {"reversal": N_("Correction"), "adjustment": N_("Adjustment")}


def _history_line(t: Translator, context: Context, line: HistoryLine, *, ids: bool) -> str:
    amount = hours_text(t, line.minutes)
    if line.minutes > 0:
        amount = "+" + amount
    text = line.text
    if line.kind in KIND_PREFIXES:
        text = t(KIND_PREFIXES[line.kind]) + ": " + text
    parts = [_day(t, context, line.at), amount, party_name(t, line.counterpart), text]
    result = " · ".join(parts)
    result += " " + t("(balance {balance})", balance=hours_text(t, line.balance_after))
    if line.reversed:
        result += " " + t("(reversed)")
    if ids:
        result = f"#{line.entry_id} " + result
    return result


async def _load_history(context: Context, account_id: int) -> History:
    return await timebank.history(
        context.uow(), _actor(context), policy=_policy(context), account_id=account_id or None
    )


async def history_pressed(update: Update, context: Context) -> None:
    data = await _answer(update)
    _member(context)
    _, _, account, page = data.split(":")
    await _show_history(update, context, int(account), int(page))


async def _show_history(update: Update, context: Context, account_id: int, page: int) -> None:
    t = context.t
    history = await _load_history(context, account_id)
    account = history.account
    title = (
        t("History of {organisation}", organisation=account.name)
        if account.kind == "organisation"
        else t("Your history")
        if account.member_id == _member(context).id
        else t("History of {name}", name=account.name or t("a former member"))
    )
    lines = [title, t("Balance: {balance}", balance=hours_text(t, account.balance)), ""]
    pages = max(1, -(-len(history.lines) // HISTORY_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = history.lines[page * HISTORY_PAGE : (page + 1) * HISTORY_PAGE]
    if not shown:
        lines.append(t("No hours have moved yet."))
    ids = _actor(context).is_admin
    lines += [_history_line(t, context, line, ids=ids) for line in shown]
    if pages > 1:
        lines += ["", t("Page {page} of {pages}", page=page + 1, pages=pages)]
    rows: list[list[InlineKeyboardButton]] = []
    nav = []
    if page > 0:
        nav.append(keyboards.button(t("« Newer"), f"tb:hi:{account_id}:{page - 1}"))
    if page + 1 < pages:
        nav.append(keyboards.button(t("Older »"), f"tb:hi:{account_id}:{page + 1}"))
    if nav:
        rows.append(nav)
    if history.lines:
        rows.append([keyboards.button(t("As a spreadsheet (CSV)"), f"tb:hc:{account_id}")])
    if not account_id and account.member_id == _member(context).id:
        overview = await timebank.overview(
            context.uow(), _member(context).id, policy=_policy(context)
        )
        for organisation in overview.organisations:
            rows.append(
                [
                    keyboards.button(
                        t("History of {organisation}", organisation=organisation.name),
                        f"tb:hi:{organisation.id}:0",
                    )
                ]
            )
    await _send(update, "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def history_csv(history: History) -> bytes:
    rows: list[list[object]] = [
        ["date", "kind", "counterpart", "hours", "description", "balance", "entry"]
    ]
    for line in reversed(history.lines):
        rows.append(
            [
                line.at.isoformat(timespec="minutes"),
                line.kind,
                csv_safe(line.counterpart.name),
                _csv_hours(line.minutes),
                csv_safe(line.text),
                _csv_hours(line.balance_after),
                line.entry_id,
            ]
        )
    return _csv_bytes(rows)


async def history_csv_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await _answer(update)
    _member(context)
    history = await _load_history(context, _number(data))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(history_csv(history)), filename="timebank-history.csv"),
        caption=t("Your timebank history, as a spreadsheet (CSV)."),
    )


# --- statistics (organisers) ----------------------------------------------------------------


def stats_text(t: Translator, report: Stats) -> str:
    lines = [
        t(
            "Timebank statistics, {first} to {last}",
            first=report.first_month,
            last=report.last_month,
        )
    ]
    if report.region_limited:
        lines.append(t("Help given in {region}", region=report.region_limited))
    lines += [
        "",
        t(
            "Hours exchanged: {hours} in {count} exchanges",
            hours=hours_text(t, report.total_minutes),
            count=report.total_exchanges,
        ),
        t("Active members: {count}", count=report.active_members),
        "",
        t("Per month:"),
    ]
    lines += [
        "  "
        + t(
            "{month}: {hours} ({count} exchanges, {members} members)",
            month=month,
            hours=hours_text(t, minutes),
            count=exchanges,
            members=active,
        )
        for month, minutes, exchanges, active in report.by_month
    ]
    lines += ["", t("Per region:")]
    lines += [
        f"  {region or '–'}: {hours_text(t, minutes)}" for region, minutes in report.by_region
    ]
    lines += ["", t("Per sector:")]
    lines += [
        f"  {sector_label(t, sector)}: {hours_text(t, minutes)}"
        for sector, minutes in report.by_sector
    ]
    lines += [
        "",
        t(
            "Counted: confirmed exchanges that were not reversed (administrators' corrections "
            "are not exchanges), by the region and sector of whoever gave the help. Active "
            "members gave or received help."
        ),
    ]
    return "\n".join(lines)


def stats_csv(report: Stats) -> bytes:
    rows: list[list[object]] = [
        ["month", "region", "sector", "exchanges", "hours", "active_members"]
    ]
    rows += [
        [r.month, r.region, r.sector, r.exchanges, _csv_hours(r.minutes), r.active_members]
        for r in report.rows
    ]
    return _csv_bytes(rows)


async def _stats(context: Context) -> Stats:
    return await timebank.stats(
        context.uow(), _actor(context), tz=context.services.settings.tz, now=context.now
    )


async def stats_pressed(update: Update, context: Context) -> None:
    t = context.t
    await _answer(update)
    report = await _stats(context)
    await _send(
        update,
        stats_text(t, report),
        keyboards.column([keyboards.button(t("As a spreadsheet (CSV)"), "tb:sc")]),
    )


async def stats_csv_pressed(update: Update, context: Context) -> None:
    t = context.t
    await _answer(update)
    report = await _stats(context)
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(io.BytesIO(stats_csv(report)), filename="timebank-statistics.csv"),
        caption=t("Timebank statistics, as a spreadsheet (CSV)."),
    )


# --- administrators: /timebank <command> ------------------------------------------------------

ADMIN_HELP = N_(
    "Timebank administration:\n"
    "/timebank categories – list the categories\n"
    "/timebank category add NAME – add a category\n"
    "/timebank category remove NUMBER – remove one (its listings keep it)\n"
    "/timebank orgs – list the organisation accounts\n"
    "/timebank org add NAME – add an organisation account\n"
    "/timebank coordinator ORG @username – make a member its coordinator\n"
    "/timebank coordinator ORG @username remove – no longer its coordinator\n"
    "/timebank history @username – a member's history, with entry numbers\n"
    "/timebank adjust FROM TO HOURS REASON – move hours (FROM and TO: @username or org:NUMBER)\n"
    "/timebank reverse ENTRY REASON – undo an entry with a new, opposite entry"
)


async def _account_ref(context: Context, ref: str) -> int:
    """An account id from "@username" or "org:NUMBER"."""
    if ref.lower().startswith("org:") and ref[4:].isdigit():
        return int(ref[4:])
    other = await timebank.find_member(context.uow(), ref)
    assert other.member_id is not None
    return await timebank.account_of_member(context.uow(), other.member_id, now=context.now)


async def _admin_command(update: Update, context: Context, args: list[str]) -> None:
    t = context.t
    actor = _actor(context)
    require_admin(actor)
    command, rest = args[0].lower(), args[1:]
    policy = _policy(context)
    if command == "categories":
        listed = await timebank.categories(context.uow())
        await _send(
            update,
            "\n".join([t("Categories:"), *(f"{c.id}. {category_label(t, c)}" for c in listed)]),
        )
    elif command == "category" and len(rest) >= 2 and rest[0] == "add":
        category = await timebank.add_category(
            context.uow(), actor, " ".join(rest[1:]), now=context.now
        )
        await _send(update, t("Category added: {name}", name=category.name))
    elif command == "category" and len(rest) == 2 and rest[0] == "remove" and rest[1].isdigit():
        await timebank.remove_category(context.uow(), actor, int(rest[1]), now=context.now)
        await _send(update, t("Category removed."))
    elif command == "orgs":
        accounts = await timebank.organisation_accounts(context.uow(), policy=policy)
        lines = [t("Organisation accounts:")]
        lines += [f"org:{a.id} {a.name}: {hours_text(t, a.balance)}" for a in accounts]
        await _send(update, "\n".join(lines))
    elif command == "org" and len(rest) >= 2 and rest[0] == "add":
        account = await timebank.create_organisation_account(
            context.uow(), actor, " ".join(rest[1:]), policy=policy, now=context.now
        )
        await _send(
            update,
            t(
                "Organisation account added: org:{number} {name}. Make a member its "
                "coordinator with /timebank coordinator {number} @username.",
                number=account.id,
                name=account.name,
            ),
        )
    elif command == "coordinator" and len(rest) in (2, 3) and rest[0].isdigit():
        other = await timebank.find_member(context.uow(), rest[1])
        assert other.member_id is not None
        add = len(rest) == 2
        if not add and rest[2].lower() != "remove":
            raise InvalidInput("admin_command_unknown")
        await timebank.set_coordinator(
            context.uow(), actor, int(rest[0]), other.member_id, coordinator=add, now=context.now
        )
        await _send(
            update,
            t("{name} now coordinates the account.", name=other.name)
            if add
            else t("{name} no longer coordinates the account.", name=other.name),
        )
    elif command == "history" and len(rest) == 1:
        await _show_history(update, context, await _account_ref(context, rest[0]), 0)
    elif command == "adjust" and len(rest) >= 4:
        debit = await _account_ref(context, rest[0])
        credit = await _account_ref(context, rest[1])
        try:
            view = await timebank.adjust(
                context.uow(),
                actor,
                debit_account_id=debit,
                credit_account_id=credit,
                minutes=parse_hours(rest[2]),
                reason=" ".join(rest[3:]),
                policy=policy,
                now=context.now,
            )
        except LimitExceeded as error:
            await _send(update, limit_text(t, error, None))
            return
        await _send(
            update,
            t(
                "Adjusted: {hours} from {debit} to {credit} (entry #{entry}).",
                hours=hours_text(t, view.minutes),
                debit=party_name(t, view.debit),
                credit=party_name(t, view.credit),
                entry=view.id,
            ),
        )
    elif command == "reverse" and len(rest) >= 2 and rest[0].lstrip("#").isdigit():
        try:
            view = await timebank.reverse(
                context.uow(),
                actor,
                int(rest[0].lstrip("#")),
                reason=" ".join(rest[1:]),
                policy=policy,
                now=context.now,
            )
        except LimitExceeded as error:
            await _send(update, limit_text(t, error, None))
            return
        await _send(
            update,
            t(
                "Reversed entry #{original} with entry #{entry}: {hours} back from {debit} to "
                "{credit}.",
                original=view.reverses_entry_id,
                entry=view.id,
                hours=hours_text(t, view.minutes),
                debit=party_name(t, view.debit),
                credit=party_name(t, view.credit),
            ),
        )
    else:
        await _send(update, t(ADMIN_HELP))


# --- registration ---------------------------------------------------------------------------


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("timebank", timebank_command, filters=PRIVATE),
        CallbackQueryHandler(confirm_pressed, pattern=r"^tb:ok:\d+$"),
        CallbackQueryHandler(decline_pressed, pattern=r"^tb:no:\d+$"),
        CallbackQueryHandler(withdraw_pressed, pattern=r"^tb:wd:\d+$"),
        CallbackQueryHandler(my_listings, pattern=r"^tb:mine$"),
        CallbackQueryHandler(listing_status_pressed, pattern=r"^tb:(lp|lr|ldy):\d+$"),
        CallbackQueryHandler(delete_asked, pattern=r"^tb:ld:\d+$"),
        CallbackQueryHandler(edit_fields, pattern=r"^tb:lf:\d+$"),
        CallbackQueryHandler(browse_pressed, pattern=r"^tb:br$"),
        CallbackQueryHandler(browse_category, pattern=r"^tb:bc:\d+$"),
        CallbackQueryHandler(browse_list, pattern=r"^tb:bl:\d+:\d+:\d+$"),
        CallbackQueryHandler(contact_pressed, pattern=r"^tb:ct:\d+$"),
        CallbackQueryHandler(contact_answered, pattern=r"^tb:cr[ad]:\d+$"),
        CallbackQueryHandler(history_pressed, pattern=r"^tb:hi:\d+:\d+$"),
        CallbackQueryHandler(history_csv_pressed, pattern=r"^tb:hc:\d+$"),
        CallbackQueryHandler(stats_pressed, pattern=r"^tb:st$"),
        CallbackQueryHandler(stats_csv_pressed, pattern=r"^tb:sc$"),
    ]
