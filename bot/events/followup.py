"""After a meeting: the organiser's "Send follow-up now" (in /attendees), and the participant's
answer to the follow-up's feedback question: a 1–5 rating by button, then an optional comment.

Storage (storage.events.followup) decides who gets the follow-up, exactly once, and ignores
ratings from anyone who was not asked.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.context import Context
from bot.events.forms import network_tz
from bot.ui import callbacks, keyboards
from bot.ui.chat import TEXT, acting, answer_press, remove_buttons, send, typed_text
from storage.events import followup
from templates.formatting import format_short
from templates.i18n import Translator

COMMENT = "comment"
LOCALES = {"da": "da_DK", "sv": "sv_SE", "en": "en_GB"}


def average_text(t: Translator, average: float) -> str:
    """An average rating with one decimal, as the member's language writes it (4,3 / 4.3)."""
    return format_decimal(average, format="0.0", locale=LOCALES.get(t.language, "en_GB"))


EVENT = "feedback_event"


async def send_now_pressed(update: Update, context: Context) -> None:
    t = context.t
    event_id = int((await answer_press(update)).rsplit(":", 1)[-1])
    outcome = await followup.send_now(context.uow(), acting(context), event_id, now=context.now)
    if outcome.already_at is not None:
        when = format_short(outcome.already_at, tz=network_tz(context), language=t.language)
        await send(update, t("The follow-up went already, on {when}.", when=when))
    elif outcome.queued:
        await send(
            update,
            t.plural(
                "The follow-up is on its way to {n} participant.",
                "The follow-up is on its way to {n} participants.",
                outcome.queued,
            ),
        )
    else:
        await send(update, t("Nobody to send it to: nobody was checked in or going."))


async def rated(update: Update, context: Context) -> str | int:
    t = context.t
    query = update.callback_query
    assert query is not None
    _, event_id, rating = (query.data or "").split(":")
    member_id = acting(context).member_id
    outcome = (
        None
        if member_id is None
        else await followup.rate(
            context.uow(), member_id, int(event_id), int(rating), now=context.now
        )
    )
    if outcome is None:
        await query.answer(t("That question was not for you."))
        return ConversationHandler.END
    await query.answer()
    await remove_buttons(update)
    user_data = context.user_data
    assert user_data is not None
    user_data[EVENT] = int(event_id)
    await send(
        update,
        t(
            "Thank you: {rating} of 5 for “{title}”. Would you like to add a comment for the "
            "organisers? Type it (it is shown without your name), or press Skip.",
            rating=outcome.rating,
            title=outcome.event_title,
        ),
        keyboards.column([keyboards.button(t("Skip"), "fbc:skip")]),
    )
    return COMMENT


async def commented(update: Update, context: Context) -> str | int:
    t = context.t
    user_data = context.user_data
    assert user_data is not None
    event_id = user_data.get(EVENT)
    member_id = acting(context).member_id
    if not isinstance(event_id, int) or member_id is None:
        return ConversationHandler.END
    # A comment too long or empty raises: the question stays open for another try.
    saved = await followup.comment(
        context.uow(), member_id, event_id, typed_text(update), now=context.now
    )
    user_data.pop(EVENT, None)
    await send(update, t("Thank you for your comment!") if saved else t("Thank you!"))
    return ConversationHandler.END


async def skipped(update: Update, context: Context) -> int:
    await answer_press(update, keep_buttons=False)
    user_data = context.user_data
    if user_data is not None:
        user_data.pop(EVENT, None)
    await send(update, context.t("Thank you!"))
    return ConversationHandler.END


async def _end(update: Update, context: Context) -> int:
    user_data = context.user_data
    if user_data is not None:
        user_data.pop(EVENT, None)
    return ConversationHandler.END


def conversation() -> ConversationHandler[Context]:
    return ConversationHandler(
        entry_points=[CallbackQueryHandler(rated, pattern=callbacks.matching(r"^fb:\d+:[1-5]$"))],
        states={
            COMMENT: [
                MessageHandler(TEXT, commented),
                CallbackQueryHandler(skipped, pattern=callbacks.matching(r"^fbc:skip$")),
            ]
        },
        fallbacks=[CommandHandler("cancel", _end)],
        allow_reentry=True,
        name="feedback",
        persistent=True,
    )


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [CallbackQueryHandler(send_now_pressed, pattern=callbacks.matching(r"^oe:fu:\d+$"))]
