"""What the timebank's screens share: the member, actor and rules of an update, sending and
answering button presses, labels and lines in the member's language (categories, exchanges,
refusals over a limit), CSV files, page buttons, and the guards and builder of the
conversations (log hours, post and edit a listing)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any

from babel.dates import format_date
from telegram import InlineKeyboardButton, InputFile, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.ui import keyboards
from bot.ui.chat import send
from bot.ui.texts import error_text
from storage.errors import DomainError, NotFound
from storage.members.profiles import MemberView
from storage.timebank.common import ExchangeView
from storage.timebank.ledger import LimitExceeded, Policy, hours_decimal
from storage.timebank.listings import CategoryView
from templates.formatting import hours_text, party_name
from templates.i18n import N_, Translator

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


# --- the update -----------------------------------------------------------------------------


def policy_of(context: Context) -> Policy:
    return Policy.from_settings(context.services.settings)


def member_of(context: Context) -> MemberView:
    if context.member is None:
        raise NotFound("member_not_found")
    return context.member


def callback_number(data: str, index: int = -1) -> int:
    return int(data.split(":")[index])


# --- texts ----------------------------------------------------------------------------------


def category_label(t: Translator, category: CategoryView) -> str:
    label = CATEGORY_LABELS.get(category.code)
    return t(label) if label else category.name


def day_text(t: Translator, context: Context, at: dt.datetime) -> str:
    local = at.astimezone(context.services.settings.tz).date()
    return format_date(local, format="medium", locale=t.language)


def helped_text(
    t: Translator,
    *,
    giver: str,
    receiver: str,
    hours: str,
    description: str,
    you_gave: bool = False,
    you_received: bool = False,
) -> str:
    """One exchange in a line, from the reader's side ("You helped ...", "... helped you") or,
    when they are neither side, from outside ("... helped ...")."""
    if you_gave:
        return t(
            "You helped {name}: {hours}, “{description}”",
            name=receiver,
            hours=hours,
            description=description,
        )
    if you_received:
        return t(
            "{name} helped you: {hours}, “{description}”",
            name=giver,
            hours=hours,
            description=description,
        )
    return t(
        "{giver} helped {receiver}: {hours}, “{description}”",
        giver=giver,
        receiver=receiver,
        hours=hours,
        description=description,
    )


def exchange_line(t: Translator, view: ExchangeView, own_account: int) -> str:
    return helped_text(
        t,
        giver=party_name(t, view.giver),
        receiver=party_name(t, view.receiver),
        hours=hours_text(t, view.minutes),
        description=view.description,
        you_gave=view.giver.account_id == own_account,
        you_received=view.receiver.account_id == own_account,
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


# --- keyboards and files -------------------------------------------------------------------


def page_buttons(
    t: Translator, page: int, pages: int, data: Callable[[int], str]
) -> list[InlineKeyboardButton]:
    """« Newer and Older » (where there are such pages); ``data(page)`` is a button's data."""
    nav = []
    if page > 0:
        nav.append(keyboards.button(t("« Newer"), data(page - 1)))
    if page + 1 < pages:
        nav.append(keyboards.button(t("Older »"), data(page + 1)))
    return nav


def two_columns(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]


def csv_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    # UTF-8 with BOM so that spreadsheet programs show æ, ø, å correctly.
    return out.getvalue().encode("utf-8-sig")


def csv_hours(minutes: int) -> str:
    return str(hours_decimal(minutes))


async def send_csv(update: Update, data: bytes, *, filename: str, caption: str) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(InputFile(io.BytesIO(data), filename=filename), caption=caption)


# --- conversations ----------------------------------------------------------------------------

Ask = Callable[[Update, Context], Coroutine[Any, Any, str]]
Cancel = Callable[[Update, Context], Coroutine[Any, Any, int]]

IN_FLOW = N_("Please answer the question, or send /cancel to stop.")
EXPECT_BUTTON = N_("Please choose one of the buttons below.")
EXPECT_TEXT = N_("Please answer with a text message.")


async def ask_again(update: Update, context: Context, error: DomainError, ask: Ask) -> str:
    """Say what is wrong with the answer, and ask the question again."""
    await send(update, error_text(context.t, error))
    return await ask(update, context)


def _reask(ask: Ask, explanation: str) -> Ask:
    async def handler(update: Update, context: Context) -> str:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await send(update, context.t(explanation))
        return await ask(update, context)

    return handler


def _guards(
    ask: Ask, *, cancel: Cancel, expects_text: bool, own_buttons: str
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


def conversation(
    name: str,
    entry_point: BaseHandler[Update, Context, Any],
    states: Mapping[str, Sequence[BaseHandler[Update, Context, Any]]],
    *,
    asks: Mapping[str, Ask],
    text_states: Collection[str],
    own_buttons: str,
    cancel: Cancel,
) -> ConversationHandler[Context]:
    """A persistent flow: each state takes its own handlers, then the guards (``asks[state]``
    asks its question again; ``text_states`` expect typed text, the others a button of
    ``own_buttons``); /cancel ends it anywhere."""
    return ConversationHandler(
        entry_points=[entry_point],
        states={
            state: [
                *handlers,
                *_guards(
                    asks[state],
                    cancel=cancel,
                    expects_text=state in text_states,
                    own_buttons=own_buttons,
                ),
            ]
            for state, handlers in states.items()
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=name,
        persistent=True,
        allow_reentry=True,
    )
