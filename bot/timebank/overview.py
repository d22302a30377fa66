"""/timebank: the member's balance, what waits for confirmation (both ways) and recent
exchanges, with the buttons to everything else; and the registration of all the timebank's
handlers.

The features live beside this module in ``bot/timebank/``: ``exchanges`` (logging hours,
confirming, declining, withdrawing), ``listings`` (posting offers and requests, and the listing
texts), ``my_listings`` (the member's own: pause, resume, edit, delete), ``browse`` (browsing
them, contact requests), ``history`` (an account's history, also as CSV), ``stats`` (statistics
for organisers) and ``admin`` (``/timebank <command>`` for administrators); ``common`` holds
what they share.

Flows of several steps (log hours, post a listing, edit a listing) are persistent
ConversationHandlers: their drafts live in ``context.user_data`` (JSON) and survive a restart.
Single-step actions are plain callback buttons with the ids in their data (``tb:...``), so a
button in a message delivered later through the outbox works the same as one on screen.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
)

from bot.context import Context
from bot.timebank.admin import admin_command
from bot.timebank.browse import (
    browse_category,
    browse_filter,
    browse_list,
    browse_pressed,
    contact_answered,
    contact_pressed,
    listing_opened,
)
from bot.timebank.common import day_text, exchange_line, policy_of
from bot.timebank.exchanges import (
    confirm_pressed,
    decline_pressed,
    log_conversation,
    withdraw_pressed,
)
from bot.timebank.history import history_csv_pressed, history_pressed
from bot.timebank.listings import new_listing_buttons, post_conversation
from bot.timebank.my_listings import (
    delete_asked,
    edit_conversation,
    edit_fields,
    listing_status_pressed,
    my_listings,
)
from bot.timebank.stats import stats_csv_pressed, stats_pressed
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, acting, send
from bot.ui.guards import member_of
from storage.timebank import accounts as timebank_accounts
from storage.timebank.accounts import Overview
from templates.formatting import hours_text
from templates.i18n import Translator

SHOWN_PENDING = 5


async def timebank_command(update: Update, context: Context) -> None:
    member_of(context)
    args = context.args or []
    if args and acting(context).is_admin:
        await admin_command(update, context, args)
        return
    await show(update, context)


async def show(update: Update, context: Context) -> None:
    """Balance, what waits for confirmation (both ways), recent exchanges, and the buttons."""
    t = context.t
    member = member_of(context)
    overview = await timebank_accounts.overview(context.uow(), member.id, policy=policy_of(context))
    lines = _balance_lines(t, overview)
    rows: list[list[InlineKeyboardButton]] = []
    _add_exchanges(t, context, overview, lines, rows)
    rows += [
        new_listing_buttons(t),
        [keyboards.button(t("Browse"), "tb:br"), keyboards.button(t("Log hours"), "tb:log")],
        [
            keyboards.button(t("History"), "tb:hi:0:0"),
            keyboards.button(t("My listings"), "tb:mine"),
        ],
    ]
    if acting(context).is_organiser:
        rows.append([keyboards.button(t("Statistics"), "tb:st")])
    if acting(context).is_admin:
        lines += ["", t("Administrators: /timebank help lists the administration commands.")]
    await send(update, "\n".join(lines), InlineKeyboardMarkup(rows))


def _balance_lines(t: Translator, overview: Overview) -> list[str]:
    """The member's balance and limits, and the balances of the organisations they coordinate."""
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
    return lines


def _add_exchanges(
    t: Translator,
    context: Context,
    overview: Overview,
    lines: list[str],
    rows: list[list[InlineKeyboardButton]],
) -> None:
    """Exchanges to confirm (numbered, with Confirm/Decline), waiting for the other side
    (lettered, with Withdraw) and recent ones; a word on how it works when there are none."""
    own = overview.account
    if overview.to_confirm:
        lines += ["", t("Waiting for your confirmation:")]
        for number, view in enumerate(overview.to_confirm[:SHOWN_PENDING], start=1):
            lines.append(f"{number}. {exchange_line(t, view, own.id)}")
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
            lines.append(f"{letter}. {exchange_line(t, view, own.id)}")
            rows.append(
                [keyboards.button(t("Withdraw {letter}", letter=letter), f"tb:wd:{view.id}")]
            )
    if overview.recent:
        lines += ["", t("Recent exchanges:")]
        for view in overview.recent:
            when = day_text(t, context, view.decided_at or view.created_at)
            lines.append(f"• {when}: {exchange_line(t, view, own.id)}")
    if not (overview.to_confirm or overview.waiting or overview.recent):
        lines += [
            "",
            t(
                "No exchanges yet. One hour of help is worth one hour, whoever gives it: offer "
                "what you can do, ask for what you need, and log the hours when help was given."
            ),
        ]


# --- registration ---------------------------------------------------------------------------


def conversations() -> list[ConversationHandler[Context]]:
    """Log hours, post a listing, edit a listing."""
    return [log_conversation(), post_conversation(), edit_conversation()]


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("timebank", timebank_command, filters=PRIVATE),
        CallbackQueryHandler(confirm_pressed, pattern=callbacks.matching(r"^tb:ok:\d+$")),
        CallbackQueryHandler(decline_pressed, pattern=callbacks.matching(r"^tb:no:\d+$")),
        CallbackQueryHandler(withdraw_pressed, pattern=callbacks.matching(r"^tb:wd:\d+$")),
        CallbackQueryHandler(my_listings, pattern=callbacks.matching(r"^tb:mine$")),
        CallbackQueryHandler(
            listing_status_pressed, pattern=callbacks.matching(r"^tb:(lp|lr|ldy):\d+$")
        ),
        CallbackQueryHandler(delete_asked, pattern=callbacks.matching(r"^tb:ld:\d+$")),
        CallbackQueryHandler(edit_fields, pattern=callbacks.matching(r"^tb:lf:\d+$")),
        CallbackQueryHandler(browse_pressed, pattern=callbacks.matching(r"^tb:br$")),
        CallbackQueryHandler(browse_filter, pattern=callbacks.matching(r"^tb:bf:\d+:\d+$")),
        CallbackQueryHandler(browse_category, pattern=callbacks.matching(r"^tb:bc:\d+$")),
        CallbackQueryHandler(
            listing_opened, pattern=callbacks.matching(r"^tb:lv:\d+:\d+:\d+:\d+$")
        ),
        CallbackQueryHandler(browse_list, pattern=callbacks.matching(r"^tb:bl:\d+:\d+:\d+$")),
        CallbackQueryHandler(contact_pressed, pattern=callbacks.matching(r"^tb:ct:\d+$")),
        CallbackQueryHandler(contact_answered, pattern=callbacks.matching(r"^tb:cr[ad]:\d+$")),
        CallbackQueryHandler(history_pressed, pattern=callbacks.matching(r"^tb:hi:\d+:\d+$")),
        CallbackQueryHandler(history_csv_pressed, pattern=callbacks.matching(r"^tb:hc:\d+$")),
        CallbackQueryHandler(stats_pressed, pattern=callbacks.matching(r"^tb:st$")),
        CallbackQueryHandler(stats_csv_pressed, pattern=callbacks.matching(r"^tb:sc$")),
    ]
