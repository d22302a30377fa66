"""A timebank account's history in the chat (page by page, with the balance after each entry)
and as a spreadsheet (CSV); administrators see entry numbers."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import Context
from bot.timebank.common import (
    csv_bytes,
    csv_hours,
    day_text,
    page_buttons,
    policy_of,
    send_csv,
)
from bot.ui import callbacks, keyboards
from bot.ui.chat import acting, answer_press, send
from bot.ui.guards import member_of
from bot.ui.spreadsheets import csv_safe
from storage.timebank import accounts as timebank_accounts
from storage.timebank.accounts import History, HistoryLine
from templates.formatting import hours_text, party_name
from templates.i18n import N_, Translator

HISTORY_PAGE = 10
KIND_PREFIXES = {"reversal": N_("Correction"), "adjustment": N_("Adjustment")}


def _history_line(t: Translator, context: Context, line: HistoryLine, *, ids: bool) -> str:
    amount = hours_text(t, line.minutes)
    if line.minutes > 0:
        amount = "+" + amount
    text = line.text
    if line.kind in KIND_PREFIXES:
        text = t(KIND_PREFIXES[line.kind]) + ": " + text
    parts = [day_text(t, context, line.at), amount, party_name(t, line.counterpart), text]
    result = " · ".join(parts)
    result += " " + t("(balance {balance})", balance=hours_text(t, line.balance_after))
    if line.reversed:
        result += " " + t("(reversed)")
    if ids:
        result = f"#{line.entry_id} " + result
    return result


async def _load_history(context: Context, account_id: int) -> History:
    return await timebank_accounts.history(
        context.uow(), acting(context), policy=policy_of(context), account_id=account_id or None
    )


async def history_pressed(update: Update, context: Context) -> None:
    data = await answer_press(update)
    member_of(context)
    _, _, account, page = data.split(":")
    await show_history(update, context, int(account), int(page))


async def show_history(update: Update, context: Context, account_id: int, page: int) -> None:
    await send_history(update, context, await _load_history(context, account_id), account_id, page)


async def send_history(
    update: Update, context: Context, history: History, account_id: int, page: int
) -> None:
    t = context.t
    account = history.account
    title = (
        t("History of {organisation}", organisation=account.name)
        if account.kind == "organisation"
        else t("Your history")
        if account.member_id == member_of(context).id
        else t("History of {name}", name=account.name or t("a former member"))
    )
    lines = [title, t("Balance: {balance}", balance=hours_text(t, account.balance)), ""]
    pages = max(1, -(-len(history.lines) // HISTORY_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = history.lines[page * HISTORY_PAGE : (page + 1) * HISTORY_PAGE]
    if not shown:
        lines.append(t("No hours have moved yet."))
    ids = acting(context).is_admin
    lines += [_history_line(t, context, line, ids=ids) for line in shown]
    if pages > 1:
        lines += ["", t("Page {page} of {pages}", page=page + 1, pages=pages)]
    rows: list[list[InlineKeyboardButton]] = []
    nav = page_buttons(t, page, pages, lambda other: f"tb:hi:{account_id}:{other}")
    if nav:
        rows.append(nav)
    if history.lines:
        rows.append([keyboards.button(t("As a spreadsheet (CSV)"), f"tb:hc:{account_id}")])
    if not account_id and account.member_id == member_of(context).id:
        overview = await timebank_accounts.overview(
            context.uow(), member_of(context).id, policy=policy_of(context)
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
    await send(update, "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


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
                csv_hours(line.minutes),
                csv_safe(line.text),
                csv_hours(line.balance_after),
                line.entry_id,
            ]
        )
    return csv_bytes(rows)


async def history_csv_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    member_of(context)
    history = await _load_history(context, callbacks.number(data))
    await send_csv(
        update,
        history_csv(history),
        filename="timebank-history.csv",
        caption=t("Your timebank history, as a spreadsheet (CSV)."),
    )
