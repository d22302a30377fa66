"""/topics (administrators): the topics members can mark on their directory card."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.people.common import parse_id, tell_error
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, acting, answer_press, send
from storage.errors import DomainError
from storage.people import topics
from storage.permissions import require_admin


async def _list(update: Update, context: Context) -> None:
    t = context.t
    listed = await topics.all_topics(context.uow(), include_hidden=True)
    lines = [t("Topics for the member directory (press one to hide or show it):")]
    buttons = [
        keyboards.button(
            ("" if topic.active else "✗ ")
            + " / ".join(topic.name(language) for language in ("en", "da", "sv")),
            f"pp:tt:{topic.id}",
        )
        for topic in listed
    ]
    lines.append(t("To add one: /topics add English name | Danish name | Swedish name"))
    await send(update, "\n\n".join(lines), keyboards.column(buttons))


async def topics_command(update: Update, context: Context) -> None:
    actor = acting(context)
    try:
        require_admin(actor)
        args = context.args or []
        if args and args[0] == "add":
            topic = await topics.add_topic(
                context.uow(), actor, " ".join(args[1:]), now=context.now
            )
            await send(update, context.t("Added: {name}", name=topic.name(context.t.language)))
        await _list(update, context)
    except DomainError as error:
        await tell_error(update, context, error)


async def toggle(update: Update, context: Context) -> None:
    data = await answer_press(update)
    actor = acting(context)
    topic_id = parse_id(data.removeprefix("pp:tt:"))
    try:
        require_admin(actor)
        if topic_id is None:
            await send(update, context.t("That topic is no longer on the list."))
            return
        listed = {t.id: t for t in await topics.all_topics(context.uow(), include_hidden=True)}
        current = listed.get(topic_id)
        if current is None:
            await send(update, context.t("That topic is no longer on the list."))
            return
        await topics.set_active(
            context.uow(), actor, topic_id, active=not current.active, now=context.now
        )
        await _list(update, context)
    except DomainError as error:
        await tell_error(update, context, error)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("topics", topics_command, filters=PRIVATE),
        CallbackQueryHandler(toggle, pattern=callbacks.matching(r"^pp:tt:\d{1,10}$")),
    ]
