"""An event's programme and materials: "Materials" on the event card shows the programme and
the documents and links (members going or who attended, and organisers); organisers edit the
programme and add materials (a document sent to the bot, or a link with a title) at any time.

Storage (storage.events.materials, storage.events.programme) checks who may open and change.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.ui import callbacks, keyboards
from bot.ui.chat import TEXT, acting, answer_press, send, typed_text
from storage.events import materials, programme
from storage.events.materials import Materials
from templates.i18n import Translator

PROGRAMME = "programme"
MATERIAL = "material"
EVENT = "materials_event"


def materials_text(t: Translator, shown: Materials) -> str:
    lines = [t("Programme and materials: {title}", title=shown.event_title)]
    if shown.programme:
        lines += ["", t("Programme:")]
        lines += [item.compact() for item in shown.programme]
    if shown.materials:
        lines += ["", t("Materials:")]
        for m in shown.materials:
            item = (
                shown.programme[m.programme_position - 1].title
                if m.programme_position and m.programme_position <= len(shown.programme)
                else None
            )
            label = f"{m.title} ({item})" if item else m.title
            lines.append(f"🔗 {label}: {m.url}" if m.kind == materials.LINK else f"📄 {label}")
    if not shown.programme and not shown.materials:
        lines += ["", t("There is no programme and there are no materials yet.")]
    return "\n".join(lines)


def materials_markup(t: Translator, shown: Materials) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = [
        [keyboards.button(f"📄 {m.title}"[:60], f"mt:doc:{m.id}")]
        for m in shown.materials
        if m.kind == materials.DOCUMENT
    ]
    if shown.can_manage:
        rows.append(
            [
                keyboards.button(t("Edit programme"), f"mt:prog:{shown.event_id}"),
                keyboards.button(t("Add material"), f"mt:add:{shown.event_id}"),
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def _show(update: Update, context: Context, event_id: int) -> None:
    shown = await materials.show(context.uow(), acting(context), event_id)
    await send(update, materials_text(context.t, shown), materials_markup(context.t, shown))


async def show_pressed(update: Update, context: Context) -> None:
    event_id = int((await answer_press(update)).rsplit(":", 1)[-1])
    await _show(update, context, event_id)


async def document_pressed(update: Update, context: Context) -> None:
    material_id = int((await answer_press(update)).rsplit(":", 1)[-1])
    found = await materials.document(context.uow(), acting(context), material_id)
    chat = update.effective_chat
    assert chat is not None
    assert found.file_id is not None
    await chat.send_document(found.file_id, caption=found.title)


def _remember(context: Context, event_id: int) -> None:
    user_data = context.user_data
    assert user_data is not None
    user_data[EVENT] = event_id


def _remembered(context: Context) -> int | None:
    user_data = context.user_data
    event_id = user_data.get(EVENT) if user_data is not None else None
    return event_id if isinstance(event_id, int) else None


async def edit_programme_pressed(update: Update, context: Context) -> str | int:
    t = context.t
    event_id = int((await answer_press(update)).rsplit(":", 1)[-1])
    shown = await materials.show(context.uow(), acting(context), event_id)
    if not shown.can_manage:
        return await _end(update, context)
    _remember(context, event_id)
    current = programme.as_text(shown.programme)
    text = t(
        "Send the programme, one item per line: a time, a title, and optionally – the speaker, "
        "their organisation. For example:\n13:00 Welcome – Karen Jensen, Teknologisk Institut\n"
        "13:15 Short talks\n15:00 Workshop\nSend - to remove the programme, /cancel to stop."
    )
    if current:
        text += "\n\n" + t("Now:") + "\n" + current
    await send(update, text)
    return PROGRAMME


async def programme_typed(update: Update, context: Context) -> str | int:
    event_id = _remembered(context)
    if event_id is None:
        return ConversationHandler.END
    items = programme.parse(typed_text(update))  # an unreadable line: told, asked again
    await programme.replace(context.uow(), acting(context), event_id, items, now=context.now)
    await send(update, context.t("The programme is saved."))
    await _show(update, context, event_id)
    return ConversationHandler.END


async def add_material_pressed(update: Update, context: Context) -> str | int:
    event_id = int((await answer_press(update)).rsplit(":", 1)[-1])
    shown = await materials.show(context.uow(), acting(context), event_id)
    if not shown.can_manage:
        return await _end(update, context)
    _remember(context, event_id)
    await send(
        update,
        context.t(
            "Send a document (PDF, slides) with its title as the caption, or a link with a title, "
            "for example: Slides from the workshop https://example.org/slides. To tie it to a "
            "programme item, start with the item's number: 2 Slides … (/cancel to stop)"
        ),
    )
    return MATERIAL


def _position(text: str) -> tuple[int | None, str]:
    """``2 Slides`` -> (2, "Slides"): a leading item number ties the material to that item."""
    first, _, rest = text.strip().partition(" ")
    if first.isdigit() and rest.strip():
        return int(first), rest
    return None, text


async def document_sent(update: Update, context: Context) -> str | int:
    event_id = _remembered(context)
    message = update.effective_message
    if event_id is None or message is None or message.document is None:
        return ConversationHandler.END
    position, title = _position(message.caption or message.document.file_name or "")
    await materials.add(
        context.uow(), acting(context), event_id, title=title,
        file_id=message.document.file_id, programme_position=position, now=context.now,
    )  # fmt: skip
    return await _added(update, context, event_id)


async def link_typed(update: Update, context: Context) -> str | int:
    event_id = _remembered(context)
    if event_id is None:
        return ConversationHandler.END
    position, text = _position(typed_text(update))
    title, url = materials.parse_link(text)
    await materials.add(
        context.uow(), acting(context), event_id, title=title, url=url,
        programme_position=position, now=context.now,
    )  # fmt: skip
    return await _added(update, context, event_id)


async def _added(update: Update, context: Context, event_id: int) -> int:
    await send(update, context.t("The material is added."))
    await _show(update, context, event_id)
    return await _end(update, context)


async def _end(update: Update, context: Context) -> int:
    user_data = context.user_data
    if user_data is not None:
        user_data.pop(EVENT, None)
    return ConversationHandler.END


async def cancelled(update: Update, context: Context) -> int:
    await send(update, context.t("Stopped: nothing was changed."))
    return await _end(update, context)


def conversation() -> ConversationHandler[Context]:
    return ConversationHandler(
        entry_points=[
            CallbackQueryHandler(
                edit_programme_pressed, pattern=callbacks.matching(r"^mt:prog:\d+$")
            ),
            CallbackQueryHandler(add_material_pressed, pattern=callbacks.matching(r"^mt:add:\d+$")),
        ],
        states={
            PROGRAMME: [MessageHandler(TEXT, programme_typed)],
            MATERIAL: [
                MessageHandler(filters.Document.ALL, document_sent),
                MessageHandler(TEXT, link_typed),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancelled)],
        allow_reentry=True,
        name="materials",
        persistent=True,
    )


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CallbackQueryHandler(show_pressed, pattern=callbacks.matching(r"^mt:show:\d+$")),
        CallbackQueryHandler(document_pressed, pattern=callbacks.matching(r"^mt:doc:\d+$")),
    ]
