"""The timebank's administration commands (``/timebank <command>``, administrators only):
categories, organisation accounts and their coordinators, a member's history with entry
numbers, adjustments and reversals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.context import Context
from bot.timebank.common import category_label, limit_text, policy_of
from bot.timebank.history import send_history
from bot.ui.chat import acting, send
from storage.errors import InvalidInput
from storage.permissions import require_admin
from storage.rules import ascii_number
from storage.timebank import accounts as timebank_accounts
from storage.timebank import admin as timebank_admin
from storage.timebank import corrections as timebank_corrections
from storage.timebank import listings as timebank_listings
from storage.timebank.corrections import EntryView
from storage.timebank.ledger import LimitExceeded, parse_hours
from templates.formatting import hours_text, party_name
from templates.i18n import N_, Translator

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


async def _unless_over_limit(
    update: Update, t: Translator, correction: Awaitable[EntryView]
) -> EntryView | None:
    """The correction's entry; None (and why, with the balances) if it would cross a limit."""
    try:
        return await correction
    except LimitExceeded as error:
        await send(update, limit_text(t, error, None))
        return None


# Each subcommand gets the words after it; False when they do not fit (the help is shown).
Subcommand = Callable[[Update, Context, list[str]], Awaitable[bool]]


async def _categories(update: Update, context: Context, rest: list[str]) -> bool:
    t = context.t
    listed = await timebank_listings.categories(context.uow())
    await send(
        update, "\n".join([t("Categories:"), *(f"{c.id}. {category_label(t, c)}" for c in listed)])
    )
    return True


async def _category(update: Update, context: Context, rest: list[str]) -> bool:
    t, actor = context.t, acting(context)
    if len(rest) >= 2 and rest[0] == "add":
        category = await timebank_admin.add_category(
            context.uow(), actor, " ".join(rest[1:]), now=context.now
        )
        await send(update, t("Category added: {name}", name=category.name))
        return True
    if len(rest) == 2 and rest[0] == "remove" and ascii_number(rest[1]) is not None:
        await timebank_admin.remove_category(context.uow(), actor, int(rest[1]), now=context.now)
        await send(update, t("Category removed."))
        return True
    return False


async def _orgs(update: Update, context: Context, rest: list[str]) -> bool:
    t = context.t
    accounts = await timebank_accounts.organisation_accounts(
        context.uow(), policy=policy_of(context)
    )
    lines = [t("Organisation accounts:")]
    lines += [f"org:{a.id} {a.name}: {hours_text(t, a.balance)}" for a in accounts]
    await send(update, "\n".join(lines))
    return True


async def _org(update: Update, context: Context, rest: list[str]) -> bool:
    if len(rest) < 2 or rest[0] != "add":
        return False
    account = await timebank_admin.create_organisation_account(
        context.uow(),
        acting(context),
        " ".join(rest[1:]),
        policy=policy_of(context),
        now=context.now,
    )
    await send(
        update,
        context.t(
            "Organisation account added: org:{number} {name}. Make a member its "
            "coordinator with /timebank coordinator {number} @username.",
            number=account.id,
            name=account.name,
        ),
    )
    return True


async def _coordinator(update: Update, context: Context, rest: list[str]) -> bool:
    if len(rest) not in (2, 3) or ascii_number(rest[0]) is None:
        return False
    add = len(rest) == 2
    if not add and rest[2].lower() != "remove":
        raise InvalidInput("admin_command_unknown")
    t = context.t
    other = await timebank_admin.set_coordinator(
        context.uow(), acting(context), int(rest[0]), rest[1], coordinator=add, now=context.now
    )
    await send(
        update,
        t("{name} now coordinates the account.", name=other.name)
        if add
        else t("{name} no longer coordinates the account.", name=other.name),
    )
    return True


async def _history(update: Update, context: Context, rest: list[str]) -> bool:
    if len(rest) != 1:
        return False
    history = await timebank_admin.member_history(
        context.uow(), acting(context), rest[0], policy=policy_of(context), now=context.now
    )
    await send_history(update, context, history, history.account.id, 0)
    return True


async def _adjust(update: Update, context: Context, rest: list[str]) -> bool:
    if len(rest) < 4:
        return False
    t = context.t
    view = await _unless_over_limit(
        update,
        t,
        timebank_corrections.adjust(
            context.uow(),
            acting(context),
            debit_account_id=rest[0],
            credit_account_id=rest[1],
            minutes=parse_hours(rest[2]),
            reason=" ".join(rest[3:]),
            policy=policy_of(context),
            now=context.now,
        ),
    )
    if view is not None:
        await send(
            update,
            t(
                "Adjusted: {hours} from {debit} to {credit} (entry #{entry}).",
                hours=hours_text(t, view.minutes),
                debit=party_name(t, view.debit),
                credit=party_name(t, view.credit),
                entry=view.id,
            ),
        )
    return True


async def _reverse(update: Update, context: Context, rest: list[str]) -> bool:
    if len(rest) < 2 or ascii_number(rest[0].lstrip("#")) is None:
        return False
    t = context.t
    view = await _unless_over_limit(
        update,
        t,
        timebank_corrections.reverse(
            context.uow(),
            acting(context),
            int(rest[0].lstrip("#")),
            reason=" ".join(rest[1:]),
            policy=policy_of(context),
            now=context.now,
        ),
    )
    if view is not None:
        await send(
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
    return True


SUBCOMMANDS: dict[str, Subcommand] = {
    "categories": _categories,
    "category": _category,
    "orgs": _orgs,
    "org": _org,
    "coordinator": _coordinator,
    "history": _history,
    "adjust": _adjust,
    "reverse": _reverse,
}


async def admin_command(update: Update, context: Context, args: list[str]) -> None:
    require_admin(acting(context))
    subcommand = SUBCOMMANDS.get(args[0].lower())
    if subcommand is None or not await subcommand(update, context, args[1:]):
        await send(update, context.t(ADMIN_HELP))
