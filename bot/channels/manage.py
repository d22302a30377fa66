"""The network's channels and groups: Telegram telling us the bot was added or removed
(``my_chat_member``), and ``/channels`` where administrators see them, say what each is for
(which regions, announcements only or also reminders) and remove them."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import BaseHandler, CallbackQueryHandler, ChatMemberHandler, CommandHandler

from bot.context import Context
from bot.ui import callbacks
from bot.ui.chat import PRIVATE, acting, send
from bot.ui.texts import error_text
from storage import regions
from storage.channels import chats
from storage.errors import DomainError
from storage.models import ChatKind, ChatPurpose

PREFIX = "chn"


async def bot_membership_changed(update: Update, context: Context) -> None:
    changed = update.my_chat_member
    if changed is None or changed.chat.type == "private":
        return
    new = changed.new_chat_member
    is_admin = new.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    adder = changed.from_user
    admins = context.services.settings.admins
    await chats.record_membership(
        context.uow(),
        chat_id=changed.chat.id,
        chat_type=changed.chat.type,
        title=changed.chat.title or "",
        is_admin=is_admin,
        can_post=bool(getattr(new, "can_post_messages", False)),
        can_edit=bool(getattr(new, "can_edit_messages", False)),
        by_user_id=adder.id if adder else None,
        ask_language=context.t.language if adder and adder.id in admins else None,
        now=context.now,
    )


def _rights(context: Context, chat: chats.ChatView) -> str:
    t = context.t
    if chat.kind == ChatKind.GROUP:
        return t("group")
    rights = [t("can post") if chat.can_post else t("cannot post")]
    rights.append(t("can edit") if chat.can_edit else t("cannot edit"))
    return t("channel") + " (" + ", ".join(rights) + ")"


def _screen(
    context: Context, chat: chats.ChatView, all_regions: list[tuple[int, str]]
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    where = ", ".join(chat.region_names) if chat.region_ids else t("all regions")
    purpose = (
        t("announcements and reminders")
        if chat.purpose == ChatPurpose.REMINDERS
        else t("announcements only")
    )
    lines = [
        f"“{chat.title}” – {_rights(context, chat)}",
        t("Events of: {regions}", regions=where),
        t("Posts: {purpose}", purpose=purpose),
    ]
    if not chat.configured:
        lines.append(t("Choose what the chat is for: nothing is posted there until you do."))
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if not chat.region_ids else "") + t("All regions"),
                callback_data=f"{PREFIX}:all:{chat.id}",
            )
        ]
    ]
    for region_id, name in all_regions:
        mark = "✓ " if region_id in chat.region_ids else ""
        rows.append(
            [InlineKeyboardButton(mark + name, callback_data=f"{PREFIX}:reg:{chat.id}:{region_id}")]
        )
    rows.append(
        [
            InlineKeyboardButton(
                ("✓ " if chat.configured and chat.purpose == ChatPurpose.ANNOUNCEMENTS else "")
                + t("Announcements only"),
                callback_data=f"{PREFIX}:pur:{chat.id}:a",
            ),
            InlineKeyboardButton(
                ("✓ " if chat.configured and chat.purpose == ChatPurpose.REMINDERS else "")
                + t("Also reminders"),
                callback_data=f"{PREFIX}:pur:{chat.id}:r",
            ),
        ]
    )
    rows.append([InlineKeyboardButton(t("Remove"), callback_data=f"{PREFIX}:del:{chat.id}")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def _regions(context: Context) -> list[tuple[int, str]]:
    return [(r.id, r.name) for r in await regions.list_active(context.uow())]


async def list_chats(update: Update, context: Context) -> None:
    t = context.t
    try:
        found = await chats.list_chats(context.uow(), acting(context))
    except DomainError as error:
        await send(update, error_text(t, error))
        return
    if not found:
        await send(
            update,
            t(
                "I am in no channel or group yet. Add me to one as an administrator, and I will "
                "ask you here what it is for."
            ),
        )
        return
    lines = [t("Channels and groups I am in:")]
    buttons = []
    for chat in found:
        lines.append(f"• {chat.title} – {_rights(context, chat)}")
        buttons.append([InlineKeyboardButton(chat.title, callback_data=f"{PREFIX}:show:{chat.id}")])
    await send(update, "\n".join(lines), InlineKeyboardMarkup(buttons))


def _parse(data: str) -> tuple[str, int, str] | None:
    parts = data.split(":")
    if len(parts) not in (3, 4) or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    if len(parts[2]) > 10:
        return None
    return parts[1], int(parts[2]), parts[3] if len(parts) == 4 else ""


async def pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    parsed = _parse(query.data or "")
    if parsed is None:
        await query.answer(t("This button is no longer active."))
        return
    action, chat_row_id, extra = parsed
    actor = acting(context)
    try:
        if action == "del":
            await chats.remove(context.uow(), actor, chat_row_id, now=context.now)
            await query.answer()
            await query.edit_message_text(t("Removed: I no longer post there."))
            return
        if action == "all":
            chat = await chats.configure(
                context.uow(), actor, chat_row_id, all_regions=True, now=context.now
            )
        elif action == "reg" and extra.isdigit() and len(extra) <= 10:
            chat = await chats.configure(
                context.uow(), actor, chat_row_id, region_id=int(extra), now=context.now
            )
        elif action == "pur" and extra in ("a", "r"):
            purpose = ChatPurpose.REMINDERS if extra == "r" else ChatPurpose.ANNOUNCEMENTS
            chat = await chats.configure(
                context.uow(), actor, chat_row_id, purpose=purpose, now=context.now
            )
        elif action == "show":
            chat = await chats.get(context.uow(), actor, chat_row_id)
        else:
            await query.answer(t("This button is no longer active."))
            return
    except DomainError as error:
        await query.answer(error_text(t, error), show_alert=True)
        return
    await query.answer(t("Saved.") if action != "show" else None)
    text, markup = _screen(context, chat, await _regions(context))
    if action == "show":
        await send(update, text, markup)
    else:
        await query.edit_message_text(text, reply_markup=markup)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("channels", list_chats, filters=PRIVATE),
        CallbackQueryHandler(
            pressed, pattern=callbacks.matching(rf"^{PREFIX}:(show|all|reg|pur|del):")
        ),
    ]


def membership_handlers() -> list[BaseHandler[Update, Context, Any]]:
    """In a handler group of their own: the members' blocking and unblocking (bot.broadcasts)
    takes the private chats' ``my_chat_member`` updates in the main group."""
    return [ChatMemberHandler(bot_membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)]
