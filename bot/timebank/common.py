"""What the timebank's screens share: the member, actor and rules of an update, sending and
answering button presses, labels and lines in the member's language (categories, exchanges,
refusals over a limit), CSV files, page buttons, and the guards and builder of the
conversations (log hours, post and edit a listing)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence

from babel.dates import format_date
from telegram import InlineKeyboardButton, InputFile, Update

from bot.context import Context
from bot.ui import keyboards
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
