"""The one conversation builder: how every multi-step flow keeps a person on its question.

Each state takes its own handlers first, then the guards: ``/cancel`` ends the flow anywhere;
another command gets the flow's own "you are in the middle of …" text and the question again;
an old button of this flow gets "that button belongs to an earlier question", text where a
button is wanted the one "choose a button" text, both with the question again. Buttons and
commands of other features are the flow's choice (``own_buttons``, ``catch_commands``).

A wrong answer gets one message: what was wrong, a blank line, the question with its buttons
(:func:`reask`, :func:`ask_again`, through ``bot.ui.chat.prefaced``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.ui import callbacks
from bot.ui.chat import prefaced, remove_buttons
from bot.ui.texts import CHOOSE_A_BUTTON, error_text
from storage.errors import DomainError
from templates.i18n import N_

State = TypeVar("State")
Ask = Callable[[Update, Context], Coroutine[Any, Any, Any]]
Cancel = Callable[[Update, Context], Coroutine[Any, Any, int]]
Handlers = list[BaseHandler[Update, Context, Any]]

IN_FLOW = N_("Please answer the question, or send /cancel to stop.")
EXPECT_TEXT = N_("Please answer with a text message.")
OLD_BUTTON = N_("That button belongs to an earlier question.")


def reask(
    ask: Callable[[Update, Context], Coroutine[Any, Any, State]], explanation: str
) -> Callable[[Update, Context], Coroutine[Any, Any, State]]:
    """A handler that says what was wrong (``explanation``, untranslated) and asks ``ask``'s
    question again, in one message; a button press is answered first so its spinner stops."""

    async def handler(update: Update, context: Context) -> State:
        if update.callback_query is not None:
            await update.callback_query.answer()
            await remove_buttons(update)  # an old question's buttons stop working
        return await ask_again(update, context, context.t(explanation), ask)

    return handler


async def ask_again(
    update: Update,
    context: Context,
    error: DomainError | str,
    ask: Callable[[Update, Context], Coroutine[Any, Any, State]],
) -> State:
    """Say what is wrong with the answer (a rule's error, or a text already translated) and ask
    the question again, in one message."""
    note = error if isinstance(error, str) else error_text(context.t, error)
    async with prefaced(update, note):
        return await ask(update, context)


def guards(
    ask: Ask,
    *,
    cancel: Cancel,
    expects_text: bool,
    own_buttons: str | None = None,
    in_flow: str = IN_FLOW,
    catch_commands: bool = True,
    wrong_input: str | None = None,
) -> Handlers:
    """What a state does not expect, in this order after its own handlers.

    ``own_buttons`` is the pattern of the flow's buttons (None: every button is the flow's);
    ``catch_commands`` False lets other features' commands through (the flow's own entry
    command should then be passed as a guard by the caller); ``wrong_input`` replaces the text
    for anything else typed or sent.
    """
    if wrong_input is None:
        wrong_input = EXPECT_TEXT if expects_text else CHOOSE_A_BUTTON
    found: Handlers = [CommandHandler("cancel", cancel)]
    if catch_commands:
        found.append(MessageHandler(filters.COMMAND, reask(ask, in_flow)))
    found.append(
        CallbackQueryHandler(reask(ask, OLD_BUTTON), pattern=callbacks.matching(own_buttons or ""))
    )
    if catch_commands or not expects_text:
        found.append(MessageHandler(filters.ALL, reask(ask, wrong_input)))
    return found


def conversation(
    name: str,
    entry_points: Sequence[BaseHandler[Update, Context, Any]],
    states: Mapping[str, Sequence[BaseHandler[Update, Context, Any]]],
    *,
    asks: Mapping[str, Ask],
    text_states: Collection[str],
    own_buttons: str | None,
    cancel: Cancel,
    in_flow: str = IN_FLOW,
    allow_reentry: bool = True,
) -> ConversationHandler[Context]:
    """A persistent flow: each state takes its own handlers, then the guards (``asks[state]``
    asks its question again; ``text_states`` expect typed text, the others a button of
    ``own_buttons``); /cancel ends it anywhere."""
    return ConversationHandler(
        entry_points=list(entry_points),
        states={
            state: [
                *handlers,
                *guards(
                    asks[state],
                    cancel=cancel,
                    expects_text=state in text_states,
                    own_buttons=own_buttons,
                    in_flow=in_flow,
                ),
            ]
            for state, handlers in states.items()
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=name,
        persistent=True,
        allow_reentry=allow_reentry,
    )
