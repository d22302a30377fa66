"""The timebank's administration commands (``/timebank <command>``, administrators only):
categories, organisation accounts and their coordinators, a member's history with entry
numbers, adjustments and reversals."""

from __future__ import annotations

from collections.abc import Awaitable

from telegram import Update

from bot.context import Context
from bot.timebank.common import category_label, limit_text, policy_of
from bot.timebank.history import show_history
from bot.ui.chat import acting, send
from storage.errors import InvalidInput
from storage.permissions import require_admin
from storage.rules import ascii_number
from storage.timebank import accounts as timebank_accounts
from storage.timebank import admin as timebank_admin
from storage.timebank import listings as timebank_listings
from storage.timebank.admin import EntryView
from storage.timebank.common import hours_text, party_name
from storage.timebank.ledger import LimitExceeded, parse_hours
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


def _number(text: str) -> bool:
    """A number typed with ASCII digits (``²`` is not one), small enough for an id."""
    return ascii_number(text) is not None


async def _account_ref(context: Context, ref: str) -> int:
    """An account id from "@username" or "org:NUMBER"."""
    number = ascii_number(ref[4:]) if ref.lower().startswith("org:") else None
    if number is not None:
        return number
    other = await timebank_accounts.find_member(context.uow(), ref)
    assert other.member_id is not None
    return await timebank_admin.account_of_member(context.uow(), other.member_id, now=context.now)


async def _unless_over_limit(
    update: Update, t: Translator, correction: Awaitable[EntryView]
) -> EntryView | None:
    """The correction's entry; None (and why, with the balances) if it would cross a limit."""
    try:
        return await correction
    except LimitExceeded as error:
        await send(update, limit_text(t, error, None))
        return None


async def admin_command(update: Update, context: Context, args: list[str]) -> None:
    t = context.t
    actor = acting(context)
    require_admin(actor)
    command, rest = args[0].lower(), args[1:]
    policy = policy_of(context)
    if command == "categories":
        listed = await timebank_listings.categories(context.uow())
        await send(
            update,
            "\n".join([t("Categories:"), *(f"{c.id}. {category_label(t, c)}" for c in listed)]),
        )
    elif command == "category" and len(rest) >= 2 and rest[0] == "add":
        category = await timebank_admin.add_category(
            context.uow(), actor, " ".join(rest[1:]), now=context.now
        )
        await send(update, t("Category added: {name}", name=category.name))
    elif command == "category" and len(rest) == 2 and rest[0] == "remove" and _number(rest[1]):
        await timebank_admin.remove_category(context.uow(), actor, int(rest[1]), now=context.now)
        await send(update, t("Category removed."))
    elif command == "orgs":
        accounts = await timebank_accounts.organisation_accounts(context.uow(), policy=policy)
        lines = [t("Organisation accounts:")]
        lines += [f"org:{a.id} {a.name}: {hours_text(t, a.balance)}" for a in accounts]
        await send(update, "\n".join(lines))
    elif command == "org" and len(rest) >= 2 and rest[0] == "add":
        account = await timebank_admin.create_organisation_account(
            context.uow(), actor, " ".join(rest[1:]), policy=policy, now=context.now
        )
        await send(
            update,
            t(
                "Organisation account added: org:{number} {name}. Make a member its "
                "coordinator with /timebank coordinator {number} @username.",
                number=account.id,
                name=account.name,
            ),
        )
    elif command == "coordinator" and len(rest) in (2, 3) and _number(rest[0]):
        other = await timebank_accounts.find_member(context.uow(), rest[1])
        assert other.member_id is not None
        add = len(rest) == 2
        if not add and rest[2].lower() != "remove":
            raise InvalidInput("admin_command_unknown")
        await timebank_admin.set_coordinator(
            context.uow(), actor, int(rest[0]), other.member_id, coordinator=add, now=context.now
        )
        await send(
            update,
            t("{name} now coordinates the account.", name=other.name)
            if add
            else t("{name} no longer coordinates the account.", name=other.name),
        )
    elif command == "history" and len(rest) == 1:
        await show_history(update, context, await _account_ref(context, rest[0]), 0)
    elif command == "adjust" and len(rest) >= 4:
        debit = await _account_ref(context, rest[0])
        credit = await _account_ref(context, rest[1])
        view = await _unless_over_limit(
            update,
            t,
            timebank_admin.adjust(
                context.uow(),
                actor,
                debit_account_id=debit,
                credit_account_id=credit,
                minutes=parse_hours(rest[2]),
                reason=" ".join(rest[3:]),
                policy=policy,
                now=context.now,
            ),
        )
        if view is None:
            return
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
    elif command == "reverse" and len(rest) >= 2 and _number(rest[0].lstrip("#")):
        view = await _unless_over_limit(
            update,
            t,
            timebank_admin.reverse(
                context.uow(),
                actor,
                int(rest[0].lstrip("#")),
                reason=" ".join(rest[1:]),
                policy=policy,
                now=context.now,
            ),
        )
        if view is None:
            return
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
    else:
        await send(update, t(ADMIN_HELP))
