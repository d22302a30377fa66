"""Introductions: "Ask for an introduction" (a short note), Accept / Decline / Block / Report,
withdrawing a request, and an organiser's "Introduce … to …". Typing the directory card's two
lines is the same small conversation (one typed answer)."""

from __future__ import annotations

import html
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.context import Context
from bot.people import membership
from bot.people.common import TASK, TYPING, parse_id, tell_error
from bot.people.directory import show_my_card
from bot.ui import callbacks, keyboards
from bot.ui.chat import TEXT, acting, answer_press, prefaced, send, typed_text
from bot.ui.conversation import ask_again, guards
from bot.ui.texts import SIGN_UP_FIRST
from storage.errors import DomainError
from storage.people import directory, introductions, participants
from storage.people.introductions import Limits, Outcome

FIRST = "people_introduce_first"


def _limits(context: Context) -> Limits:
    return Limits.from_settings(context.services.settings)


def _user_data(context: Context) -> dict[str, Any]:
    assert context.user_data is not None
    return context.user_data


async def start_line(update: Update, context: Context) -> str | int:
    data = await answer_press(update)
    t = context.t
    if context.member is None:
        await send(update, t(SIGN_UP_FIRST))
        return ConversationHandler.END
    line = data.removeprefix("pp:line:")
    _user_data(context)[TASK] = f"line:{line}"
    return await ask_typed(update, context)


async def start_ask(update: Update, context: Context) -> str | int:
    data = await answer_press(update)
    t = context.t
    member = context.member
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return ConversationHandler.END
    target = parse_id(data.removeprefix("pp:ask:"))
    try:
        if target is None:
            await send(update, t("That member is not in the directory (any more)."))
            return ConversationHandler.END
        if target == member.id:
            await send(update, t("That is your own card."))
            return ConversationHandler.END
        card = await participants.card_for(context.uow(), member.id, target)
    except DomainError as error:
        await tell_error(update, context, error)
        return ConversationHandler.END
    _user_data(context)[TASK] = f"ask:{target}"
    return await ask_typed(update, context, name=card.name)


async def start_introduce(update: Update, context: Context) -> str | int:
    """An organiser's "Introduce … to …": the first press picks one member, the second the
    other; then the organiser writes the note."""
    data = await answer_press(update)
    t = context.t
    actor = acting(context)
    if context.member is None or not actor.is_organiser:
        await send(update, t("Sorry, that is for the network's organisers."))
        return ConversationHandler.END
    chosen = parse_id(data.removeprefix("pp:intro:"))
    if chosen is None:
        await send(update, t("That member is not in the directory (any more)."))
        return ConversationHandler.END
    store = _user_data(context)
    first = store.get(FIRST)
    if not isinstance(first, int) or first == chosen:
        store[FIRST] = chosen
        await send(
            update,
            t("Now find the other member in /people and press “Introduce … to …” on their card."),
        )
        return ConversationHandler.END
    store.pop(FIRST, None)
    store[TASK] = f"intro:{first}:{chosen}"
    return await ask_typed(update, context)


async def ask_typed(update: Update, context: Context, *, name: str | None = None) -> str | int:
    """The conversation's one question, for the task it is on (TASK): asked at the start and
    again after a wrong answer (``name``: the asked member's, when the caller has it)."""
    t = context.t
    member = context.member
    kind, _, rest = str(_user_data(context).get(TASK, "")).partition(":")
    if kind == "line":
        question = (
            t("What can you help with? One short line, e.g. “grant applications, evaluation”.")
            if rest == "can_help"
            else t("What are you looking for? One short line, e.g. “a partner in a municipality”.")
        )
        await send(update, question + "\n" + t("Send - to remove it, or /cancel to keep it."))
    elif kind == "ask" and member is not None:
        if name is None:
            try:
                name = (await participants.card_for(context.uow(), member.id, int(rest))).name
            except DomainError as error:
                _user_data(context).pop(TASK, None)
                await tell_error(update, context, error)
                return ConversationHandler.END
        await send(
            update,
            t(
                "Write a short note to {name}: who you are and what you hope for from the "
                "introduction. Send /cancel to stop.",
                name=html.escape(name),
            ),
            parse_mode=ParseMode.HTML,
        )
    elif kind == "intro":
        await send(
            update,
            t(
                "Write a note to both: why should they meet? Each of them must accept before "
                "they get the other's contact. Send /cancel to stop."
            ),
        )
    elif kind == "decline":
        await membership.ask_reason(update, context, parse_id(rest) or 0)
    else:  # nothing to ask (a task from before a change of code)
        _user_data(context).pop(TASK, None)
        return ConversationHandler.END
    return TYPING


def _outcome_text(context: Context, outcome: Outcome) -> str:
    t = context.t
    return t(
        "Your request is on its way to {name}. You hear from me when they answer.",
        name=outcome.other_name,
    )


async def typed(update: Update, context: Context) -> str | int:
    t = context.t
    member = context.member
    store = _user_data(context)
    task = str(store.get(TASK, ""))
    text = typed_text(update)
    if member is None or not task:
        store.pop(TASK, None)
        return ConversationHandler.END
    kind, _, rest = task.partition(":")
    uow, now = context.uow(), context.now
    try:
        if kind == "line":
            value = None if text.strip() == "-" else text
            mine = await directory.set_line(uow, member.id, rest, value, now=now)
            store.pop(TASK, None)
            async with prefaced(update, t("Saved.")):  # one message: "Saved." and the card
                await show_my_card(update, context, mine)
        elif kind == "ask":
            target = int(rest)
            outcome = await introductions.ask(
                uow, member.id, target, text, limits=_limits(context), now=now
            )
            store.pop(TASK, None)
            await send(
                update,
                _outcome_text(context, outcome),
                keyboards.rows(
                    [keyboards.button(t("Withdraw the request"), f"pp:wd:{outcome.id}")]
                ),
            )
        elif kind == "decline":
            store.pop(TASK, None)
            await membership.decide(update, context, parse_id(rest), approve=False, reason=text)
        elif kind == "intro":
            first, _, second = rest.partition(":")
            await introductions.introduce(
                uow,
                acting(context),
                int(first),
                int(second),
                text,
                limits=_limits(context),
                now=now,
            )
            store.pop(TASK, None)
            await send(update, t("Done: both have your note and can accept."))
        else:
            store.pop(TASK, None)
    except DomainError as error:
        if error.code in (
            "introduction_note_missing",
            "introduction_note_too_long",
            "directory_line_too_long",
        ):  # the same question again: they can type a shorter answer
            return await ask_again(update, context, error, ask_typed)
        await tell_error(update, context, error)
        store.pop(TASK, None)
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    _user_data(context).pop(TASK, None)
    await send(update, context.t("Nothing changed."))
    return ConversationHandler.END


ACTIONS = {"ia": "accept", "id": "decline", "ib": "block", "ir": "report"}


async def answer(update: Update, context: Context) -> None:
    data = await answer_press(update)
    t = context.t
    member = context.member
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    _, code, number = data.split(":")
    intro_id = parse_id(number)
    if intro_id is None:
        await send(update, t("That request for an introduction does not exist."))
        return
    action = ACTIONS[code]
    try:
        outcome = await introductions.answer(
            context.uow(),
            member.id,
            intro_id,
            action,
            admins=context.services.settings.admins,
            now=context.now,
        )
    except DomainError as error:
        await tell_error(update, context, error)
        return
    name = outcome.other_name
    if action == "accept" and outcome.waiting:
        text = t(
            "Thank you. When {name} accepts too, you both get each other's contact.", name=name
        )
    elif action == "accept" and outcome.changed:
        text = t("You are connected with {name}: their contact follows.", name=name)
    elif action == "accept":
        text = t("You are already connected with {name}.", name=name)
    elif action == "block":
        text = t("Declined. You will get no more requests from {name}.", name=name)
    elif action == "report":
        text = t("Declined, and sent to the administrators. Thank you for telling us.")
    else:
        text = t("Declined. {name} is told politely, without a reason.", name=name)
    await send(update, text)


async def withdraw(update: Update, context: Context) -> None:
    data = await answer_press(update, keep_buttons=False)
    t = context.t
    member = context.member
    intro_id = parse_id(data.removeprefix("pp:wd:"))
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    if intro_id is None:
        await send(update, t("That request for an introduction does not exist."))
        return
    try:
        outcome = await introductions.withdraw(context.uow(), member.id, intro_id, now=context.now)
    except DomainError as error:
        await tell_error(update, context, error)
        return
    await send(update, t("Your request to {name} is withdrawn.", name=outcome.other_name))


OWN_BUTTONS = r"^pp:(line|ask|intro|dc|dn):"


def conversation() -> ConversationHandler[Context]:
    return ConversationHandler(
        entry_points=[
            CallbackQueryHandler(
                start_line, pattern=callbacks.matching(r"^pp:line:(can_help|looking_for)$")
            ),
            CallbackQueryHandler(start_ask, pattern=callbacks.matching(r"^pp:ask:\d{1,10}$")),
            CallbackQueryHandler(
                start_introduce, pattern=callbacks.matching(r"^pp:intro:\d{1,10}$")
            ),
            CallbackQueryHandler(
                membership.start_decline, pattern=callbacks.matching(r"^pp:dc:\d{1,10}$")
            ),
        ],
        states={
            TYPING: [
                MessageHandler(TEXT, typed),
                CallbackQueryHandler(
                    membership.decline_without_reason,
                    pattern=callbacks.matching(r"^pp:dn:\d{1,10}$"),
                ),
                # The flow's own buttons of earlier questions are answered here; other
                # features' buttons keep working while the person types.
                *guards(ask_typed, cancel=cancel, expects_text=True, own_buttons=OWN_BUTTONS),
            ]
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="people",
        persistent=True,
    )


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CallbackQueryHandler(answer, pattern=callbacks.matching(r"^pp:(ia|id|ib|ir):\d{1,10}$")),
        CallbackQueryHandler(withdraw, pattern=callbacks.matching(r"^pp:wd:\d{1,10}$")),
    ]
