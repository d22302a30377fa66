"""/broadcast for organisers: write the message, choose the audience, see a preview, confirm.

The message keeps the formatting the organiser used in Telegram (sent on as Telegram HTML);
it may be a photo or a document with a caption. After "Send", the confirmation message turns
into the progress message that the scheduler edits ("sent 1,200 of 3,400") and then takes
away when the report (one message) arrives. Every member's copy starts with a label naming the
network and the organiser, in the member's language. The draft lives in the persisted
conversation, so a restart of the bot continues it; confirming twice sends once (the draft's
key).

Also here: Telegram's ``my_chat_member`` updates, which say when a member blocks or unblocks
the bot (broadcasts skip blocked members, and reach them again once they unblock).
"""

from __future__ import annotations

import uuid
from typing import Any

from babel.dates import format_datetime
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import PRIVATE, TEXT, acting, answer_press, redraw, remove_buttons, send
from bot.ui.conversation import Ask, Handlers, ask_again, guards
from bot.ui.texts import sector_label
from storage import scheduling
from storage.broadcasts import audiences as broadcast_audiences
from storage.broadcasts import content as broadcast_content
from storage.broadcasts import creating as broadcast_creating
from storage.broadcasts import progress as broadcast_progress
from storage.broadcasts.audiences import Audience, AudienceLabel, Preview
from storage.broadcasts.progress import Progress
from storage.errors import DomainError, InvalidInput
from storage.models import AudienceKind, MediaKind
from storage.permissions import require_organiser
from templates.i18n import N_, Translator

WRITE, AUDIENCE, CONFIRM = "write", "audience", "confirm"
DRAFT = "broadcast"


def _draft(context: Context) -> dict[str, Any]:
    return drafts.draft(context, DRAFT)


# --- writing the message -------------------------------------------------------------------


async def start(update: Update, context: Context) -> str:
    require_organiser(acting(context))
    drafts.start(context, DRAFT, {"token": uuid.uuid4().hex})
    return await ask_message(update, context)


async def ask_message(update: Update, context: Context) -> str:
    await send(
        update,
        context.t(
            "Write the message for the members. You can use Telegram's formatting (bold, "
            "italic, links), or send a photo or a document with a caption. "
            "Send /cancel to stop."
        ),
    )
    return WRITE


async def message_written(update: Update, context: Context) -> str:
    message = update.effective_message
    assert message is not None
    media_kind = file_id = None
    if message.photo:
        media_kind, file_id = MediaKind.PHOTO, message.photo[-1].file_id
    elif message.document is not None:
        media_kind, file_id = MediaKind.DOCUMENT, message.document.file_id
    if media_kind is None:
        text = message.text_html if message.text else ""
    else:
        text = message.caption_html if message.caption else ""
    try:
        content = broadcast_content.validate_content(
            text, media_kind=media_kind, media_file_id=file_id
        )
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_message)
    draft = _draft(context)
    draft.update(text=content.text, media_kind=content.media_kind, file_id=content.media_file_id)
    draft.pop("audience", None)
    return await ask_audience(update, context)


# --- choosing the audience -----------------------------------------------------------------


async def ask_audience(update: Update, context: Context, *, edit: bool = False) -> str:
    t = context.t
    options = await broadcast_audiences.audience_options(
        context.uow(), acting(context), now=context.now
    )
    if options.scope_region_name:
        everyone = t("Everyone in {region}", region=options.scope_region_name)
    else:
        everyone = t("Everyone")
    buttons = [keyboards.button(everyone, "bc:aud:everyone")]
    if options.scope_region_id is None and len(options.regions) > 1:
        buttons.append(keyboards.button(t("A region"), "bc:aud:regions"))
    buttons.append(keyboards.button(t("A sector"), "bc:aud:sectors"))
    if options.events:
        buttons.append(keyboards.button(t("Members going to an event"), "bc:aud:events"))
    buttons.append(keyboards.button(t("Cancel"), "bc:cancel"))
    text = t("Who should get it?")
    query = update.callback_query
    if edit and query is not None:
        await redraw(update, text, keyboards.column(buttons))
    else:
        await send(update, text, keyboards.column(buttons))
    return AUDIENCE


async def audience_menu(update: Update, context: Context) -> str:
    """A region, a sector or an event: the second level of the audience question."""
    t = context.t
    choice = (await answer_press(update)).rsplit(":", 1)[-1]
    query = update.callback_query
    assert query is not None
    back = keyboards.button(t("Back"), "bc:aud:back")
    if choice == "back":
        return await ask_audience(update, context, edit=True)
    if choice == "regions":
        options = await broadcast_audiences.audience_options(
            context.uow(), acting(context), now=context.now
        )
        buttons = [keyboards.button(name, f"bc:region:{rid}") for rid, name in options.regions]
        markup = InlineKeyboardMarkup(
            [*(buttons[i : i + 2] for i in range(0, len(buttons), 2)), [back]]
        )
        await redraw(update, t("Which region?"), markup)
    elif choice == "sectors":
        sectors = keyboards.sectors(t, "bc:sector")
        markup = InlineKeyboardMarkup([*sectors.inline_keyboard, [back]])
        await redraw(update, t("Which sector?"), markup)
    elif choice == "events":
        options = await broadcast_audiences.audience_options(
            context.uow(), acting(context), now=context.now
        )
        buttons = [
            keyboards.button(
                keyboards.label(f"{_when(context, e.starts_at)} {e.title}", 60), f"bc:event:{e.id}"
            )
            for e in options.events
        ]
        await redraw(
            update,
            t("The members going to which event?"),
            reply_markup=keyboards.column([*buttons, back]),
        )
    return AUDIENCE


async def audience_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update)
    parts = data.split(":")  # bc:aud:everyone | bc:region:<id> | bc:sector:<code> | bc:event:<id>
    audience = Audience.everyone() if parts[1] == "aud" else Audience(parts[1], parts[2])
    query = update.callback_query
    assert query is not None
    if query.message is not None:
        await remove_buttons(update)
    _draft(context)["audience"] = [audience.kind, audience.value]
    return await show_preview(update, context)


def _when(context: Context, moment: Any) -> str:
    tz = context.services.settings.tz
    return format_datetime(moment.astimezone(tz), "d MMM HH:mm", locale=context.t.language)


def audience_text(context: Context, label: AudienceLabel) -> str:
    t = context.t
    if label.kind == AudienceKind.REGION:
        return t("the members in {region}", region=label.name)
    if label.kind == AudienceKind.SECTOR:
        text = t("the members in the sector {sector}", sector=sector_label(t, label.name))
    elif label.kind == AudienceKind.EVENT:
        when = _when(context, label.event_starts_at) if label.event_starts_at else ""
        return t("the members going to {event} ({when})", event=label.name, when=when)
    else:
        text = t("all members")
    if label.scope_region_name:
        text += " " + t("in {region}", region=label.scope_region_name)
    return text


def sender_of(update: Update, context: Context) -> broadcast_content.Sender:
    """The label's names: the network (the bot's name in Telegram) and the organiser (their
    member name, or an administrator's Telegram name if they have not signed up)."""
    user = update.effective_user
    organiser = context.member.name if context.member else (user.full_name if user else "")
    try:
        network = context.bot.first_name
    except RuntimeError:  # the bot has not been initialised (never in a running application)
        network = "Samvirke"
    return broadcast_content.Sender(network=network, organiser=organiser)


async def _show_message(update: Update, context: Context, draft: dict[str, Any]) -> None:
    """The message exactly as the members will get it (with the label, in the organiser's
    language; each member sees the label in theirs)."""
    chat = update.effective_chat
    assert chat is not None
    content = broadcast_content.BroadcastContent(draft.get("text", ""))
    text = broadcast_content.labelled(content, context.t, sender_of(update, context))
    if draft.get("media_kind") == MediaKind.PHOTO:
        await chat.send_photo(draft["file_id"], caption=text, parse_mode=ParseMode.HTML)
    elif draft.get("media_kind") == MediaKind.DOCUMENT:
        await chat.send_document(draft["file_id"], caption=text, parse_mode=ParseMode.HTML)
    else:
        await chat.send_message(text, parse_mode=ParseMode.HTML)


def _confirm_markup(t: Translator, preview: Preview) -> InlineKeyboardMarkup:
    buttons = []
    if preview.recipients:
        buttons.append(
            keyboards.button(
                t.plural("Send to {n} member", "Send to {n} members", preview.recipients),
                "bc:send",
            )
        )
    buttons += [
        keyboards.button(t("Choose another audience"), "bc:again:audience"),
        keyboards.button(t("Change the message"), "bc:again:message"),
        keyboards.button(t("Cancel"), "bc:cancel"),
    ]
    return keyboards.column(buttons)


async def show_preview(update: Update, context: Context) -> str:
    """The message as the members will see it, then who gets it and "Send it?"."""
    return await ask_confirmation(update, context, with_message=True)


async def ask_confirmation(update: Update, context: Context, *, with_message: bool = False) -> str:
    t = context.t
    draft = _draft(context)
    if "audience" not in draft or "text" not in draft:  # a draft from before a change of code
        return await ask_message(update, context)
    kind, value = draft["audience"]
    try:
        preview = await broadcast_audiences.preview(
            context.uow(), acting(context), Audience(kind, value)
        )
    except DomainError as error:
        return await ask_again(update, context, error, ask_audience)
    if with_message:
        await send(update, t("This is how the members will see it:"))
        await _show_message(update, context, draft)
    if preview.recipients:
        text = t.plural(
            "It goes to {n} member: {audience}. Send it?",
            "It goes to {n} members: {audience}. Send it?",
            preview.recipients,
            audience=audience_text(context, preview.label),
        )
    else:
        text = t(
            "No member in this audience can get it ({audience}). Please choose another one.",
            audience=audience_text(context, preview.label),
        )
    await send(update, text, _confirm_markup(t, preview))
    return CONFIRM


# --- confirming --------------------------------------------------------------------------


async def confirmed(update: Update, context: Context) -> str | int:
    t = context.t
    query = update.callback_query
    assert query is not None
    message = query.message
    draft = _draft(context)
    if "audience" not in draft or "text" not in draft:
        await query.answer()
        return await ask_message(update, context)
    kind, value = draft["audience"]
    try:
        result = await broadcast_creating.create(
            context.uow(),
            acting(context),
            draft_key=f"{acting(context).telegram_user_id}:{draft.get('token', '')}",
            content=broadcast_content.BroadcastContent(
                draft["text"], draft.get("media_kind"), draft.get("file_id")
            ),
            audience=Audience(kind, value),
            language=t.language,
            progress_chat_id=message.chat.id if message is not None else None,
            progress_message_id=message.message_id if message is not None else None,
            now=context.now,
            sender=sender_of(update, context),
        )
    except InvalidInput as error:
        await query.answer()
        return await ask_again(update, context, error, ask_audience)
    await query.answer(t("Sending."))
    drafts.drop(context, DRAFT)
    await redraw(update, broadcast_progress.progress_text(t, Progress(total=result.total)), None)
    return ConversationHandler.END


async def again(update: Update, context: Context) -> str:
    choice = (await answer_press(update)).rsplit(":", 1)[-1]
    query = update.callback_query
    assert query is not None
    await remove_buttons(update)
    if choice == "message":
        return await ask_message(update, context)
    return await ask_audience(update, context)


async def cancel(update: Update, context: Context) -> int:
    if update.callback_query is not None:
        await update.callback_query.answer()
        await remove_buttons(update)
    drafts.drop(context, DRAFT)
    await send(update, context.t("Broadcast cancelled. Nothing was sent."))
    return ConversationHandler.END


# --- anything unexpected ---------------------------------------------------------------------

IN_FLOW_COMMAND = N_("You are writing a broadcast. Please go on, or send /cancel to stop.")
EXPECT_MESSAGE = N_("Please send the message as text, a photo or a document.")


def _guards(ask: Ask, *, expects_message: bool = False) -> Handlers:
    """The shared guards (bot.ui.conversation): a wrong answer gets what was wrong and the
    question again; buttons of other features keep working."""
    return [
        CallbackQueryHandler(cancel, pattern=callbacks.matching(r"^bc:cancel$")),
        *guards(
            ask,
            cancel=cancel,
            expects_text=expects_message,
            own_buttons=r"^bc:",
            in_flow=IN_FLOW_COMMAND,
            wrong_input=EXPECT_MESSAGE if expects_message else None,
        ),
    ]


def handler() -> ConversationHandler[Context]:
    message = TEXT | filters.PHOTO | filters.Document.ALL
    return ConversationHandler(
        entry_points=[CommandHandler("broadcast", start, filters=PRIVATE)],
        states={
            WRITE: [
                MessageHandler(message & PRIVATE, message_written),
                *_guards(ask_message, expects_message=True),
            ],
            AUDIENCE: [
                CallbackQueryHandler(
                    audience_menu,
                    pattern=callbacks.matching(r"^bc:aud:(regions|sectors|events|back)$"),
                ),
                CallbackQueryHandler(
                    audience_chosen,
                    pattern=callbacks.matching(
                        r"^bc:(aud:everyone|region:\d+|sector:\w+|event:\d+)$"
                    ),
                ),
                *_guards(ask_audience),
            ],
            CONFIRM: [
                CallbackQueryHandler(confirmed, pattern=callbacks.matching(r"^bc:send$")),
                CallbackQueryHandler(
                    again, pattern=callbacks.matching(r"^bc:again:(audience|message)$")
                ),
                *_guards(ask_confirmation),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="broadcast",
        persistent=True,
        allow_reentry=True,
    )


# --- members blocking and unblocking the bot ---------------------------------------------------


async def chat_member_changed(update: Update, context: Context) -> None:
    changed = update.my_chat_member
    if changed is None or changed.chat.type != "private":
        return
    status = changed.new_chat_member.status
    if status == ChatMemberStatus.BANNED:  # "kicked": the member blocked the bot
        reachable = False
    elif status == ChatMemberStatus.MEMBER:
        reachable = True
    else:
        return
    await scheduling.set_reachable(context.uow(), changed.from_user.id, reachable, now=context.now)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [ChatMemberHandler(chat_member_changed, ChatMemberHandler.MY_CHAT_MEMBER)]
